// How much of the verifier's budget each program of a BPF object uses: the
// instructions it processed (its limit is 1,000,000), loaded as root and
// then with CAP_BPF and CAP_NET_ADMIN alone, what `load` has under the
// systemd unit. Without CAP_PERFMON the verifier also walks speculative
// paths, and older kernels prune less: stop 29 found Linux 6.1 at 752k of
// the 1M for the fast build without CAP_PERFMON, 87k as root, so a change
// to the per-packet path is measured here, on 6.18 and in the 6.1 VM
// (tests/kernels/run.sh with TM_VM_BENCH), before it lands.
//
// usage: verifier_cost BPF_O [NAME_PART]   (as root; programs whose name
// contains NAME_PART, default all; each is loaded on its own)
// In a VM: TM_VM_BENCH="builddir/bench/verifier_cost builddir/bpf/traffic_meter.bpf.o
//          tm_ingress_eth" tests/kernels/run.sh builddir/traffic_meter 6.1
#include <bpf/libbpf.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "object_file.h"

namespace {

int quiet(enum libbpf_print_level, const char *, va_list) { return 0; }

tmeter::bench::ObjectFile open_object(const char *path)
{
	tmeter::bench::ObjectFile obj(bpf_object__open_file(path, nullptr));
	if (!obj)
		throw std::runtime_error(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
	return obj;
}

// "86374", or the error and how far the verifier got ("E2BIG at 1000001").
std::string cost_of(const char *path, const std::string &name)
{
	tmeter::bench::ObjectFile obj = open_object(path);
	// The stats line only (log level 4): a full log of 1M instructions
	// would not fit.
	std::vector<char> log(1 << 16);
	bpf_program *prog;
	bpf_object__for_each_program(prog, obj.get())
	{
		if (name != bpf_program__name(prog)) {
			bpf_program__set_autoload(prog, false);
			continue;
		}
		bpf_program__set_log_buf(prog, log.data(), log.size());
		bpf_program__set_log_level(prog, 4);
	}
	const int err = bpf_object__load(obj.get());
	unsigned long processed = 0;
	const char *stats = std::strstr(log.data(), "processed ");
	const bool counted = stats && std::sscanf(stats, "processed %lu", &processed) == 1;
	if (!err)
		return counted ? std::to_string(processed) : "loaded (no count)";
	const std::string what = err == -E2BIG ? "E2BIG" : std::strerror(-err);
	return counted ? fmt::format("{} at {}", what, processed) : what;
}

// Keeps CAP_BPF and CAP_NET_ADMIN, drops every other capability.
void drop_to_bpf_and_net_admin()
{
	__user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
	__user_cap_data_struct data[2]{};
	for (int cap : {CAP_BPF, CAP_NET_ADMIN}) {
		data[cap / 32].effective |= 1u << (cap % 32);
		data[cap / 32].permitted |= 1u << (cap % 32);
	}
	if (syscall(SYS_capset, &header, data) != 0)
		throw std::runtime_error(fmt::format("capset: {}", std::strerror(errno)));
}

} // namespace

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		std::fprintf(stderr, "usage: %s BPF_O [NAME_PART]\n", argv[0]);
		return 2;
	}
	try {
		libbpf_set_print(quiet);
		std::vector<std::string> names;
		{
			tmeter::bench::ObjectFile obj = open_object(argv[1]);
			bpf_program *prog;
			bpf_object__for_each_program(prog, obj.get())
			{
				const std::string name = bpf_program__name(prog);
				if (argc < 3 || name.find(argv[2]) != std::string::npos)
					names.push_back(name);
			}
		}
		std::vector<std::string> as_root;
		for (const auto &name : names)
			as_root.push_back(cost_of(argv[1], name));
		drop_to_bpf_and_net_admin();
		fmt::print("| program | verified insns, root | CAP_BPF + CAP_NET_ADMIN |\n|---|---:|---:|\n");
		for (size_t i = 0; i < names.size(); ++i)
			fmt::print("| {} | {} | {} |\n", names[i], as_root[i], cost_of(argv[1], names[i]));
	} catch (const std::exception &e) {
		std::fprintf(stderr, "verifier_cost: %s\n", e.what());
		return 1;
	}
	return 0;
}

#include "bpf/map_set.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "util/error.h"

namespace tmeter {

bool MapSet::exists(const std::filesystem::path &dir)
{
	std::error_code ec;
	return std::filesystem::exists(dir / "tm_config", ec);
}

MapSet MapSet::open_pinned(const std::filesystem::path &dir)
{
	if (!exists(dir))
		fail_runtime(fmt::format("no traffic_meter state at {}; run `traffic_meter load --dev "
					 "IF` first (or pass the --pin-path it was loaded with)",
					 dir.string()));
	MapSet maps;
	for (const auto &entry : kMaps) {
		auto path = dir / entry.name;
		int fd = bpf_obj_get(path.c_str());
		if (fd < 0) {
			int err = errno;
			if (err == ENOENT)
				fail_runtime(fmt::format("pinned state at {} is incomplete ({} missing); run "
							 "`traffic_meter purge` and load again",
							 dir.string(), entry.name));
			fail_errno(fmt::format("cannot open {}", path.string()), err);
		}
		maps.*(entry.member) = Fd(fd);
	}
	auto cfg = maps.read_config();
	if (cfg.abi_version != TM_ABI_VERSION)
		fail_runtime(fmt::format("pinned state at {} has ABI version {}, this traffic_meter "
					 "speaks {}; use the matching traffic_meter, or `purge` (loses "
					 "rules and counters)",
					 dir.string(), cfg.abi_version, TM_ABI_VERSION));
	return maps;
}

tm_config MapSet::read_config() const
{
	tm_config cfg{};
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(config.get(), &zero, &cfg))
		fail_errno("cannot read tm_config", errno);
	return cfg;
}

tm_stats MapSet::read_stats() const
{
	std::vector<tm_stats> per_cpu(possible_cpus());
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(stats.get(), &zero, per_cpu.data()))
		fail_errno("cannot read tm_stats", errno);
	tm_stats total{};
	for (const auto &s : per_cpu) {
		total.packets += s.packets;
		total.bytes += s.bytes;
		total.egress_skipped += s.egress_skipped;
		total.not_ip += s.not_ip;
		total.malformed += s.malformed;
		total.no_rule += s.no_rule;
		total.counted += s.counted;
		total.flow_insert_failed += s.flow_insert_failed;
	}
	return total;
}

void MapSet::write_config(const tm_config &cfg) const
{
	uint32_t zero = 0;
	if (bpf_map_update_elem(config.get(), &zero, &cfg, BPF_ANY))
		fail_errno("cannot write tm_config", errno);
}

uint32_t MapSet::capacity(const Fd &map)
{
	bpf_map_info info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(map.get(), &info, &len))
		fail_errno("cannot query map", errno);
	return info.max_entries;
}

uint32_t MapSet::id(const Fd &map)
{
	bpf_map_info info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(map.get(), &info, &len))
		fail_errno("cannot query map", errno);
	return info.id;
}

uint64_t MapSet::count_flows() const
{
	tm_flow_key key{}, next{};
	uint64_t n = 0;
	for (tm_flow_key *prev = nullptr; bpf_map_get_next_key(flows.get(), prev, &next) == 0;
	     prev = &key, key = next)
		++n;
	return n;
}

unsigned possible_cpus()
{
	int n = libbpf_num_possible_cpus();
	if (n <= 0)
		fail_errno("cannot count possible CPUs", n);
	return static_cast<unsigned>(n);
}

} // namespace tmeter

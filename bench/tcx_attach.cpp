// tcx_attach: attaches a plain TC program's first program to an
// interface's ingress and egress with TCX, through the tool's own hook code
// (attach_hooks in src/net/hooks.h), the links pinned under LINKS_DIR: the
// `-tcx` cases of bench/veth_bench.sh (an empty program with TCX is the
// budget of the 1-flow TCX target). Removing LINKS_DIR detaches again: the
// pins hold the only references. Run it in the interface's namespace.
//
// usage: tcx_attach OBJECT DEV LINKS_DIR
#include <bpf/libbpf.h>
#include <net/if.h>

#include <cstdio>
#include <exception>
#include <filesystem>

#include "net/hooks.h"
#include "object_file.h"

namespace {

int run(int argc, char **argv)
{
	if (argc != 4) {
		std::fprintf(stderr, "usage: tcx_attach OBJECT DEV LINKS_DIR\n");
		return 2;
	}
	tmeter::bench::ObjectFile obj(bpf_object__open_file(argv[1], nullptr));
	if (!obj || bpf_object__load(obj.get())) {
		std::fprintf(stderr, "tcx_attach: cannot load %s\n", argv[1]);
		return 1;
	}
	bpf_program *prog = bpf_object__next_program(obj.get(), nullptr);
	tmeter::AttachRequest req;
	req.ifindex = int(if_nametoindex(argv[2]));
	req.name = argv[2];
	req.ingress_fd = req.egress_fd = prog ? bpf_program__fd(prog) : -1;
	req.mode = tmeter::AttachMode::kTcx;
	req.links_dir = argv[3];
	if (!req.ifindex || req.ingress_fd < 0) {
		std::fprintf(stderr, "tcx_attach: no interface %s, or no program in %s\n", argv[2],
			     argv[1]);
		return 1;
	}
	std::filesystem::create_directories(req.links_dir);
	tmeter::attach_hooks(req);
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	try {
		return run(argc, argv);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "tcx_attach: %s\n", e.what());
		return 1;
	}
}

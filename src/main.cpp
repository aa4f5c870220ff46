// traffic_meter: the one place that talks to the user about errors.
#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "cli/cli.h"
#include "util/error.h"

int main(int argc, char **argv)
{
	// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK: libbpf raises
	// it where (and only where) the kernel needs it; a refusal is reported
	// with the map creation it breaks (bpf/bpf_object.cpp).
	try {
		int rc = tmeter::run_cli(argc, argv);
		if (std::fflush(stdout) != 0)
			return tmeter::kExitRuntime;
		return rc;
	} catch (const tmeter::Error &e) {
		std::fflush(stdout);
		fmt::print(stderr, "traffic_meter: {}\n", e.what());
		return e.exit_code();
	} catch (const std::exception &e) {
		std::fflush(stdout);
		fmt::print(stderr, "traffic_meter: {}\n", e.what());
		return tmeter::kExitRuntime;
	}
}

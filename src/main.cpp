// traffic_meter: the one place that talks to the user about errors.
#include <sys/resource.h>

#include <cstdio>
#include <exception>

#include <fmt/format.h>

#include "cli/cli.h"
#include "util/error.h"

int main(int argc, char **argv)
{
	// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK.
	rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
	setrlimit(RLIMIT_MEMLOCK, &unlimited);
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

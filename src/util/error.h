// One error policy: library code throws tmeter::Error carrying the exit status
// and one line for the user; only main() prints it. SPEC §2: exit 1 for a
// runtime failure, 2 for invalid usage or input.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace tmeter {

enum ExitCode { kExitOk = 0, kExitRuntime = 1, kExitUsage = 2 };

class Error : public std::runtime_error {
public:
	Error(int exit_code, const std::string &message)
	    : std::runtime_error(message), exit_code_(exit_code) {}
	int exit_code() const { return exit_code_; }

private:
	int exit_code_;
};

[[noreturn]] inline void fail_usage(const std::string &message) { throw Error(kExitUsage, message); }
[[noreturn]] inline void fail_runtime(const std::string &message) { throw Error(kExitRuntime, message); }

// "<what>: <what the user should do>" for an errno from the kernel
// (err may be negative, as libbpf returns it).
std::string explain_errno(std::string_view what, int err);

// Throws a runtime Error built by explain_errno.
[[noreturn]] void fail_errno(std::string_view what, int err);

} // namespace tmeter

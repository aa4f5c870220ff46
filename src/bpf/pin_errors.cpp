#include "bpf/pin_errors.h"

#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>

#include "util/error.h"

namespace tmeter {

std::string permission_message(const std::filesystem::path &path, int err)
{
	// EPERM: the bpf() call itself was refused (capability); EACCES: the
	// file mode of the pin or of a directory above it (CAP_BPF does not
	// override file permissions).
	if (std::abs(err) == EPERM)
		return fmt::format("permission denied on {} (missing CAP_BPF): run as root or grant "
				   "CAP_BPF and CAP_NET_ADMIN",
				   path.string());
	return fmt::format("permission denied on {} (file permissions): run as root or as the user "
			   "that owns the pin path",
			   path.string());
}

void fail_pin_errno(const std::filesystem::path &path, int err)
{
	err = std::abs(err);
	if (err == EPERM || err == EACCES)
		fail_runtime(permission_message(path, err));
	if (err == ENOENT)
		fail_runtime(fmt::format("pinned state at {} is incomplete ({} is missing); run "
					 "`traffic_meter purge` and load again",
					 path.parent_path().string(), path.filename().string()));
	fail_errno(fmt::format("cannot open {}", path.string()), err);
}

} // namespace tmeter

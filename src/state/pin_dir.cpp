#include "state/pin_dir.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "util/error.h"

namespace tmeter {
namespace {

bool on_bpffs(const std::filesystem::path &p)
{
	struct statfs st {};
	return statfs(p.c_str(), &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

// `ip netns exec` gives the command its own mount namespace; a bpffs mounted
// or pinned there vanishes when the command exits.
bool in_init_mount_ns()
{
	struct stat self {}, init {};
	if (stat("/proc/self/ns/mnt", &self) || stat("/proc/1/ns/mnt", &init))
		return true; // cannot tell: assume the common case
	return self.st_ino == init.st_ino && self.st_dev == init.st_dev;
}

[[noreturn]] void fail_not_bpffs(const std::filesystem::path &dir)
{
	fail_runtime(fmt::format(
		"bpffs is not mounted at {} and this command runs in a private mount namespace "
		"(`ip netns exec`?), where pins vanish; run `nsenter --net=/run/netns/NAME "
		"traffic_meter ...` instead, or mount bpffs first: mount -t bpf bpf {}",
		dir.string(), dir.parent_path().string()));
}

} // namespace

void prepare_pin_dir(const std::filesystem::path &dir, PinDirMode mode)
{
	std::error_code ec;
	if (std::filesystem::is_directory(dir, ec)) {
		if (on_bpffs(dir))
			return;
		if (mode == PinDirMode::kMustExist)
			fail_runtime(fmt::format("no traffic_meter state at {}: it is not on bpffs; run "
						 "`traffic_meter load --dev IF` first",
						 dir.string()));
		if (!in_init_mount_ns())
			fail_not_bpffs(dir);
		if (mount("bpf", dir.c_str(), "bpf", 0, "mode=0700"))
			fail_errno(fmt::format("cannot mount bpffs at {}", dir.string()), errno);
		return;
	}
	if (mode == PinDirMode::kMustExist)
		fail_runtime(fmt::format("no traffic_meter state at {}; run `traffic_meter load --dev "
					 "IF` first (or pass the --pin-path it was loaded with)",
					 dir.string()));
	auto parent = dir.parent_path();
	if (!on_bpffs(parent) && !in_init_mount_ns())
		fail_not_bpffs(dir);
	std::filesystem::create_directories(parent, ec);
	if (mkdir(dir.c_str(), 0700) && errno != EEXIST)
		fail_errno(fmt::format("cannot create pin path {}", dir.string()), errno);
	if (!on_bpffs(dir) && mount("bpf", dir.c_str(), "bpf", 0, "mode=0700"))
		fail_errno(fmt::format("cannot mount bpffs at {}", dir.string()), errno);
	chmod(dir.c_str(), 0700);
}

PinLock::PinLock(const std::filesystem::path &dir)
    : dir_(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC))
{
	if (!dir_)
		fail_errno(fmt::format("cannot open pin path {}", dir.string()), errno);
	while (flock(dir_.get(), LOCK_EX)) {
		if (errno != EINTR)
			fail_errno(fmt::format("cannot lock pin path {}", dir.string()), errno);
	}
}

} // namespace tmeter

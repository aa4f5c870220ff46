#include "state/pin_dir.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "bpf/pin_errors.h"
#include "traffic_meter_kern_user.h"
#include "util/error.h"

namespace tmeter {
namespace {

// Mount namespace identity of a process, or nullopt if it cannot be read
// (/proc/1 is hidden from us in some containers and sandboxes).
std::optional<std::pair<dev_t, ino_t>> mount_ns_of(const char *proc_path)
{
	struct stat st {};
	if (stat(proc_path, &st))
		return std::nullopt;
	return std::pair{st.st_dev, st.st_ino};
}

// `ip netns exec NAME` remounts /sys as a sysfs whose source is NAME; a
// host's /sys has source "sysfs".
bool sysfs_of_ip_netns_exec()
{
	std::ifstream in("/proc/self/mountinfo");
	std::string line, source;
	while (std::getline(in, line)) {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE SOURCE SUPEROPTS
		std::istringstream fields(line);
		std::string id, parent, dev, root, point;
		fields >> id >> parent >> dev >> root >> point;
		auto dash = line.find(" - ");
		if (point != "/sys" || dash == std::string::npos)
			continue;
		std::istringstream tail(line.substr(dash + 3));
		std::string fstype, src;
		tail >> fstype >> src;
		if (fstype == "sysfs")
			source = src; // the last mount on /sys is the visible one
	}
	return !source.empty() && source != "sysfs" && source != "none";
}

// `ip netns exec` gives the command its own mount namespace; a bpffs mounted
// or pinned there vanishes when the command exits. Init's namespace is the
// reference; when /proc/1 is not readable, a parent in another namespace
// than ours, or the /sys that `ip netns exec` mounts, gives it away.
bool in_private_mount_ns()
{
	auto self = mount_ns_of("/proc/self/ns/mnt");
	if (!self)
		return false;
	if (auto init = mount_ns_of("/proc/1/ns/mnt"))
		return *init != *self;
	auto parent = mount_ns_of(fmt::format("/proc/{}/ns/mnt", getppid()).c_str());
	return (parent && *parent != *self) || sysfs_of_ip_netns_exec();
}

bool is_mount_root(const std::filesystem::path &dir)
{
	struct stat self {}, up {};
	return stat(dir.c_str(), &self) == 0 && stat(dir.parent_path().c_str(), &up) == 0 &&
	       self.st_dev != up.st_dev;
}

// Nothing but what the kernel itself puts in the root of a new bpffs (the
// bpf_preload iterators, Linux 5.10+)?
bool holds_nothing(const std::filesystem::path &dir)
{
	std::error_code ec;
	for (const auto &entry : std::filesystem::directory_iterator(dir, ec)) {
		const auto name = entry.path().filename();
		if (name != "maps.debug" && name != "progs.debug")
			return false;
	}
	return !ec;
}

Fd open_dir(const std::filesystem::path &dir)
{
	return Fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

} // namespace

uint32_t PinDirSetup::flags() const
{
	return (created ? TM_STATE_CREATED_DIR : 0) | (mounted ? TM_STATE_MOUNTED_BPFFS : 0);
}

bool on_bpffs(const std::filesystem::path &p)
{
	struct statfs st {};
	return statfs(p.c_str(), &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

void refuse_throwaway_mount(const std::filesystem::path &dir)
{
	if (on_bpffs(dir) || on_bpffs(dir.parent_path()) || !in_private_mount_ns())
		return;
	fail_runtime(fmt::format(
		"bpffs is not mounted at {} and this command runs in a private mount namespace "
		"(`ip netns exec`?), where pins vanish; run `nsenter --net=/run/netns/NAME "
		"traffic_meter ...` instead, or mount bpffs first: mount -t bpf bpf {}",
		dir.string(), dir.parent_path().string()));
}

void require_pin_dir(const std::filesystem::path &dir)
{
	refuse_throwaway_mount(dir);
	struct stat st {};
	if (stat(dir.c_str(), &st)) {
		if (errno == EACCES)
			fail_runtime(permission_message(dir, EACCES));
		fail_runtime(fmt::format("no traffic_meter state at {}; run `traffic_meter load --dev "
					 "IF` first (or pass the --pin-path it was loaded with)",
					 dir.string()));
	}
	if (!on_bpffs(dir))
		fail_runtime(fmt::format("bpffs is not mounted at {}, so there is no traffic_meter "
					 "state there; run `traffic_meter load --dev IF` first (it "
					 "mounts bpffs)",
					 dir.string()));
}

PinDirSetup prepare_pin_dir(const std::filesystem::path &dir)
{
	refuse_throwaway_mount(dir);
	PinDirSetup setup;
	std::error_code ec;
	const auto parent = dir.parent_path();
	if (!std::filesystem::exists(dir, ec)) {
		// Without systemd nothing mounts bpffs at its usual place, and
		// sysfs takes no new directories: mount it at /sys/fs/bpf itself
		// (never unmounted by us: other tools will pin there too).
		if (parent == "/sys/fs/bpf" && !on_bpffs(parent) &&
		    mount("bpf", parent.c_str(), "bpf", 0, "mode=0700"))
			fail_errno("bpffs is not mounted at /sys/fs/bpf and mounting it failed "
				   "(needs CAP_SYS_ADMIN)",
				   errno);
		if (mkdir(dir.c_str(), 0700)) {
			if (errno == EACCES)
				fail_runtime(permission_message(parent, EACCES));
			fail_errno(fmt::format("cannot create pin path {}", dir.string()), errno);
		}
		setup.created = true;
	} else if (!std::filesystem::is_directory(dir, ec)) {
		fail_usage(fmt::format("pin path {} is not a directory", dir.string()));
	}
	if (on_bpffs(dir))
		return setup;
	// Mounting over files would hide them: a mistyped --pin-path such as
	// /tmp must not swallow a directory in use.
	if (!std::filesystem::is_empty(dir, ec)) {
		fail_runtime(fmt::format("pin path {} is not on bpffs and is not empty; refusing to "
					 "mount bpffs over it: pass an empty or new directory",
					 dir.string()));
	}
	if (mount("bpf", dir.c_str(), "bpf", 0, "mode=0700")) {
		int err = errno;
		if (setup.created)
			rmdir(dir.c_str());
		if (err == EPERM)
			fail_runtime(fmt::format("cannot mount bpffs at {}: permission denied (mounting "
						 "needs CAP_SYS_ADMIN; or mount it beforehand: mount -t "
						 "bpf bpf {})",
						 dir.string(), dir.string()));
		fail_errno(fmt::format("cannot mount bpffs at {}", dir.string()), err);
	}
	setup.mounted = true;
	return setup;
}

void release_pin_dir(const std::filesystem::path &dir, uint32_t flags)
{
	if ((flags & TM_STATE_MOUNTED_BPFFS) && on_bpffs(dir) && is_mount_root(dir)) {
		if (!holds_nothing(dir))
			return; // another tool pinned there: the mount stays
		if (umount2(dir.c_str(), 0))
			return; // busy: leave it rather than detach it lazily
	}
	std::error_code ec;
	if ((flags & TM_STATE_CREATED_DIR) && std::filesystem::is_empty(dir, ec) && !ec)
		rmdir(dir.c_str());
}

StateLock::StateLock(const std::filesystem::path &pin_dir)
{
	const auto parent = pin_dir.parent_path();
	std::error_code ec;
	std::filesystem::create_directories(parent, ec);
	dir_ = open_dir(parent);
	if (!dir_) {
		if (errno == EACCES)
			fail_runtime(permission_message(parent, EACCES));
		fail_errno(fmt::format("cannot open {} to lock the pin path", parent.string()), errno);
	}
	while (flock(dir_.get(), LOCK_EX)) {
		if (errno != EINTR)
			fail_errno(fmt::format("cannot lock {}", parent.string()), errno);
	}
}

std::optional<StateLock> StateLock::try_lock(const std::filesystem::path &pin_dir)
{
	StateLock lock;
	lock.dir_ = open_dir(pin_dir.parent_path());
	if (!lock.dir_ || flock(lock.dir_.get(), LOCK_EX | LOCK_NB))
		return std::nullopt;
	return lock;
}

} // namespace tmeter

// The pin directory: where the state lives (SPEC §5), how `load` makes it
// and `purge` unmakes it, and the lock that serializes control-plane
// changes on it.
#pragma once

#include <filesystem>
#include <optional>

#include "util/fd.h"

namespace tmeter {

// What `load` did to make the pin directory; recorded in tm_config.flags
// (TM_STATE_*) so that `purge` undoes exactly that and nothing more.
struct PinDirSetup {
	bool created = false; // made the directory
	bool mounted = false; // mounted bpffs on it
	uint32_t flags() const;
};

bool on_bpffs(const std::filesystem::path &p);

// Throws the refusal (with the fix) when dir is not on bpffs and this
// process runs in a private mount namespace, where a mount or a pin would
// vanish with it (`ip netns exec`).
void refuse_throwaway_mount(const std::filesystem::path &dir);

// For the first `load`: makes dir (mode 0700) if missing and mounts bpffs on
// it if it is not on bpffs (never over a directory that holds anything).
PinDirSetup prepare_pin_dir(const std::filesystem::path &dir);

// For every other command: dir must exist on bpffs; otherwise throws the
// message that says what to do.
void require_pin_dir(const std::filesystem::path &dir);

// The end of `purge` (and of a failed first load): removes dir if `load`
// made it and it is empty; unmounts the bpffs `load` mounted on it if
// nothing is left there. Never touches a mount or directory it did not make.
void release_pin_dir(const std::filesystem::path &dir, uint32_t flags);

// An exclusive flock on the pin path's parent directory, held for the
// object's lifetime. The parent, not the pin directory: it outlives a purge
// (a waiting `load` must not go on with a removed directory) and exists
// before the first load mounts anything (two first loads must not both
// mount).
class StateLock {
public:
	explicit StateLock(const std::filesystem::path &pin_dir);
	// Without waiting: nullopt if another command holds it.
	static std::optional<StateLock> try_lock(const std::filesystem::path &pin_dir);

private:
	StateLock() = default;
	Fd dir_;
};

} // namespace tmeter

// The pin directory: where the maps live (SPEC §5), and the lock that
// serializes control-plane commands on it.
#pragma once

#include <filesystem>

#include "util/fd.h"

namespace tmeter {

enum class PinDirMode {
	kMustExist, // commands that need state from an earlier `load`
	kCreate,    // `load`: create the directory (and mount bpffs) if needed
};

// Checks that dir is on bpffs; with kCreate makes it (mode 0700), mounting
// bpffs there when its parent is not bpffs. Refuses, with the fix in the
// message, when that mount would live in a throwaway mount namespace.
void prepare_pin_dir(const std::filesystem::path &dir, PinDirMode mode);

// Throws the private-mount-namespace refusal of prepare_pin_dir if it
// applies to dir (for commands, like purge, that do not need the state).
void refuse_throwaway_mount(const std::filesystem::path &dir);

// Removes the (emptied) pin directory, unmounting the bpffs that `load`
// mounted there, if it did.
void remove_pin_dir(const std::filesystem::path &dir);

// flock() on the pin directory itself (bpffs holds no regular files). Held
// for the object's lifetime.
class PinLock {
public:
	explicit PinLock(const std::filesystem::path &dir);

private:
	Fd dir_;
};

} // namespace tmeter

// Carrying state of the previous ABI (1) over to this one, so that an
// upgrade keeps every rule and counter instead of needing `purge`.
#pragma once

#include <filesystem>

#include "state/resize.h"
#include "state/state.h"

namespace tmeter {

// Builds this ABI's state beside the old one, moves every attached
// interface onto the new program in place (the tc filter is replaced, no
// packet uncounted or counted twice), carries the old counters into the new
// rules, commits by renaming the new tm_config over the old one, and
// removes the old pins. Killed before the commit, the old state is intact
// and the next `load` migrates again.
State migrate_v1(const std::filesystem::path &pin_dir, const ObjectOptions &opts, StateLock lock);

// purge of ABI 1 state: its filters (priority and handle 0x544d on the
// interfaces it recorded) and its pins.
void purge_v1(const std::filesystem::path &pin_dir);

} // namespace tmeter

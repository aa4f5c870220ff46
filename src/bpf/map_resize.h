// Changing --max-rules / --max-flows of pinned state without losing rules
// or counters: `load` creates maps of the new size, copies the rules into
// them, moves every attached interface onto the new program, then adds the
// old counters in and re-pins. Callers hold the pin lock.
#pragma once

#include <filesystem>

#include "bpf/map_set.h"

namespace tmeter {

// Copies rules (slots compacted, serials kept) from `old_maps` into the new
// maps' tries and slot table, with zeroed counters, and updates tm_config
// (shared by both) with the new capacities. Throws if the rules do not fit.
void copy_rules_for_resize(const MapSet &old_maps, const MapSet &new_maps);

// After every interface runs on the new maps: adds the old counters to the
// new ones, copies the flows the new table does not know yet (they
// re-resolve their rules), and renames the new pins over the old ones.
void finish_resize(const MapSet &old_maps, const MapSet &new_maps,
		   const std::filesystem::path &pin_dir);

} // namespace tmeter

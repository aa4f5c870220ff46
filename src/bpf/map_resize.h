// Changing --max-rules / --max-flows of pinned state without losing rules
// or counters: `load` creates maps of the new size, copies the rules into
// them, moves every attached interface onto the new program, then adds the
// old counters in and re-pins. Callers hold the pin lock.
#pragma once

#include <filesystem>

#include <vector>

#include "bpf/map_set.h"
#include "rules/rule_store.h"

namespace tmeter {

// Copies the rules into the new maps (RuleStore::copy_to) and updates
// tm_config (shared by both) with the new capacities. Throws if the rules do
// not fit. Returns where each rule's counters move.
std::vector<RuleStore::SlotMove> copy_rules_for_resize(const MapSet &old_maps,
						       const MapSet &new_maps);

// After every interface runs on the new maps: adds the old counters to the
// new ones, copies the flows the new table does not know yet (they
// re-resolve their rules), and renames the new pins over the old ones.
void finish_resize(const MapSet &old_maps, const MapSet &new_maps,
		   const std::vector<RuleStore::SlotMove> &moves, const std::filesystem::path &pin_dir);

} // namespace tmeter

// tm_rule_slots as the control plane sees it: slot values and rules, the
// visibility of a rule to readers at a committed change id, and the I/O
// helpers RuleStore builds its transactions from.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "bpf/map_set.h"
#include "rules/cidr.h"

namespace tmeter {

Cidr cidr_of(const tm_rule_slot &s);
tm_rule_slot slot_of(const Cidr &c, uint32_t serial, uint32_t added);

// A rule readers at committed change id c see (docs/DESIGN.md, "Rule changes").
inline bool visible_at(const tm_rule_slot &s, uint32_t c)
{
	return s.family != TM_FAMILY_NONE && s.added != 0 && s.added <= c &&
	       (s.deleted == 0 || s.deleted > c);
}

// A slot a new rule may take: never used, or a tombstone whose deletion is
// committed.
inline bool reusable(const tm_rule_slot &s, uint32_t committed)
{
	return s.family == TM_FAMILY_NONE || (s.deleted != 0 && s.deleted <= committed);
}

// The LPM key of a rule, as bytes: v4 and v6 keys differ in size.
std::vector<uint8_t> lpm_key(const Cidr &c);
const Fd &trie_for(const MapSet &maps, const Cidr &c);

// Calls fn(slot, value) for every slot below `used` (tm_config.slots_used:
// none above was ever written), in order, in batches.
template <typename Fn> void for_each_slot(const MapSet &maps, uint32_t used, Fn fn);
void read_used_slots(const MapSet &maps, uint32_t used, std::vector<tm_rule_slot> &out);

void write_slots(const MapSet &maps, std::span<const uint32_t> slots,
		 std::span<const tm_rule_slot> values);

// Per-CPU counters of slots, summed.
struct Totals {
	uint64_t up_packets = 0, up_bytes = 0, down_packets = 0, down_bytes = 0;
};
std::vector<Totals> sum_counters(const MapSet &maps, const std::vector<uint32_t> &slots);
// One slot's counters, cpus of them (as CounterTable reads them), summed.
Totals sum_cpus(const tm_counters *per_cpu, unsigned cpus);

// Gives each slot its new rule's serial while keeping whatever the per-CPU
// counters hold (a reused slot's old counts, a straggler packet's add):
// never overwrite values the data plane may be adding to. Returns the sums
// kept, which the new rule carries as a negative baseline so it starts at 0.
// Slots from `slots_used` (tm_config.slots_used before the change) on were
// never used: their counters are known to be zero and are not read.
std::vector<Totals> claim_counters(const MapSet &maps, std::span<const uint32_t> slots,
				   std::span<const uint32_t> serials, uint32_t slots_used);

// The slot table as a change needs it. A small change (the everyday `add`
// or `del`) reads only the windows it touches and finds rules through the
// tries, so its cost does not grow with the table; a large one reads it all.
class SlotView {
public:
	SlotView(const MapSet &maps, uint32_t capacity, uint32_t committed, uint32_t used)
	    : maps_(maps), capacity_(capacity), committed_(committed), used_(used) {}

	uint32_t capacity() const { return capacity_; }
	void load_all();
	tm_rule_slot &at(uint32_t slot);
	// The slot of a live (committed, not deleted) rule.
	std::optional<uint32_t> find(const Cidr &c);

private:
	static constexpr uint32_t kWindow = 1024;
	const MapSet &maps_;
	uint32_t capacity_;
	uint32_t committed_;
	uint32_t used_;
	bool complete_ = false;
	std::unordered_map<uint32_t, std::vector<tm_rule_slot>> windows_;
	std::map<Cidr, uint32_t> by_cidr_;
};

} // namespace tmeter

#include "rules/slot_table_impl.h"

// The rule set in the kernel: LPM tries for the data plane, the slot table
// for reading rules back (and the journal of changes), per-CPU counters by
// slot. Writers hold StateLock; readers take no lock and still see a whole
// rule set, the one before a change or the one after (docs/DESIGN.md).
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "bpf/map_set.h"
#include "rules/cidr.h"
#include "rules/slot_table.h"

namespace tmeter {

struct RuleEntry {
	Cidr cidr;
	uint32_t slot = 0;
	uint32_t serial = 0;
};

struct RuleCounters {
	Cidr cidr;
	uint64_t up_bytes = 0;
	uint64_t up_packets = 0;
	uint64_t down_bytes = 0;
	uint64_t down_packets = 0;
};

struct RuleChange {
	std::vector<Cidr> add;
	std::vector<Cidr> del;
};

struct ChangeResult {
	std::vector<Cidr> added;
	std::vector<Cidr> already_present; // kept, with their counters
	std::vector<Cidr> deleted;
};

// Which figures a reader wants: what `show` prints (resets and restores
// applied), or what the kernel counted since the rule was created in this
// boot (the exporter: counters that only go up while a rule lives).
enum class Figures { kShown, kKernel };

// Figures for one rule to add in (restore).
struct SavedCounters {
	Cidr cidr;
	Totals totals;
};

class RuleStore {
public:
	explicit RuleStore(const MapSet &maps);

	// The committed rule set, sorted as SPEC §4 orders rows.
	std::vector<RuleEntry> rules() const;
	// The committed rules with their counters, sorted likewise.
	std::vector<RuleCounters> counters(Figures figures = Figures::kShown) const;

	// All or nothing: validates (a deleted rule must exist: runtime Error),
	// checks capacity, journals the change in the slot table, applies and
	// commits it with one write of tm_config. On a kernel error the change
	// is rolled back before the error is thrown.
	ChangeResult apply(const RuleChange &change);

	// Zeroes what `show` prints for one rule (runtime Error if missing) or
	// all, without writing the data plane's counters (a packet counted at
	// the same moment must not undo it).
	void reset(const std::optional<Cidr> &rule);
	// Adds saved figures to what `show` prints (restore).
	void add_to_shown(const std::vector<SavedCounters> &saved);

	// Rolls back a change that a killed writer left half done
	// (tm_config.pending). Returns true if there was one.
	bool recover();

	// A rule's slot here and in the table it was copied to.
	struct SlotMove {
		uint32_t from, to;
	};
	// Copies the committed rules into the empty tables of `target` (a
	// resize): slots from 0 in SPEC order, serials, carried and adjust
	// kept, counters zero. Throws a usage Error if they do not fit.
	std::vector<SlotMove> copy_to(const MapSet &target) const;
	// Once nothing counts here any more: sets what each copy in `target`
	// carries to what the rule carries here plus what its counters hold.
	// Idempotent, so an interrupted resize can do it again (target's slots
	// are not visible to readers before the resize commits).
	void carry_counters_to(const MapSet &target) const;

private:
	struct Snapshot {
		uint32_t committed = 0;
		std::vector<std::pair<uint32_t, tm_rule_slot>> slots; // visible rules
	};
	Snapshot snapshot() const;
	void rewrite(std::span<const uint32_t> slots, std::span<const tm_rule_slot> values) const;

	const MapSet &maps_;
};

// The change that turns `current` into exactly `wanted` (import --replace):
// rules in both are left alone, so they keep their counters.
RuleChange diff_rule_sets(const std::vector<Cidr> &current, const std::vector<Cidr> &wanted);

} // namespace tmeter

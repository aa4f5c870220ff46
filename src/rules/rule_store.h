// The rule set in the kernel: LPM tries for the data plane, the slot table
// for reading rules back, per-CPU counters by slot. Callers hold PinLock.
#pragma once

#include <optional>
#include <vector>

#include "bpf/map_set.h"
#include "rules/cidr.h"

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

class RuleStore {
public:
	explicit RuleStore(const MapSet &maps);

	// Every rule, sorted as SPEC §4 orders rows.
	std::vector<RuleEntry> rules() const;
	// Every rule with its counters summed over the CPUs, sorted likewise.
	std::vector<RuleCounters> counters() const;

	// All or nothing: validates (a deleted rule must exist: runtime Error),
	// checks capacity, applies, and on a kernel error undoes what it did.
	// Bumps the rule-set generation once.
	ChangeResult apply(const RuleChange &change);

	// Zeroes the counters of one rule (runtime Error if missing) or of all.
	void reset(const std::optional<Cidr> &rule);

	// A rule's slot here and in the table it was copied to.
	struct SlotMove {
		uint32_t from, to;
	};
	// Copies every rule into the empty tables of `target` (a resize):
	// slots from 0 in SPEC order, serials kept, counters zero. Throws a usage
	// Error if they do not fit.
	std::vector<SlotMove> copy_to(const MapSet &target) const;

private:
	const MapSet &maps_;
};

// The change that turns `current` into exactly `wanted` (import --replace):
// rules in both are left alone, so they keep their counters.
RuleChange diff_rule_sets(const std::vector<Cidr> &current, const std::vector<Cidr> &wanted);

} // namespace tmeter

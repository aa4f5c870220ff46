// The rules' counters in tm_counters: one tm_counters per rule slot and CPU.
// The one owner of that map's layout; every reader and writer goes through
// it. Two layouts exist:
// - ABI 6 on: a plain array, CPU-major ([cpu][slot], stride the rule
//   capacity). The data plane adds at cpu * stride + slot, one index
//   computation, where a per-CPU array's lookup loads the slot's per-CPU
//   pointer first (docs/DESIGN.md, "Rule counters").
// - ABI 5 and before: a per-CPU array, read by the upgrade from it.
// The layout is told by the map's type, not by an ABI number, so the
// upgrade's reads of the old maps need no flag. Values in and out are
// slot-major, a slot's CPUs consecutive (what a per-CPU lookup returns).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "traffic_meter_kern_user.h"
#include "util/fd.h"

namespace tmeter {

class CounterTable {
public:
	explicit CounterTable(const Fd &map);

	unsigned cpus() const { return cpus_; }

	// Slots first..first+count-1 into out (count * cpus() values).
	void read_range(uint32_t first, uint32_t count, tm_counters *out) const;
	// Arbitrary slots into out (slots.size() * cpus() values).
	void read(std::span<const uint32_t> slots, tm_counters *out) const;
	// values[i * cpus() + cpu] at slots[i] on each CPU.
	void write(std::span<const uint32_t> slots, const tm_counters *values) const;
	// fn(first, values, count) over slots 0..limit-1 (limit at most the rule
	// capacity), in consecutive chunks.
	void read_chunks(uint32_t limit,
			 const std::function<void(uint32_t, const tm_counters *, uint32_t)> &fn) const;

	// Entries of the CPU-major map for a rule capacity, or a usage Error if
	// they do not fit a map's 32-bit size; and the rule capacity (a row's
	// length, the program's tm_counter_stride) of a map of `entries`.
	static uint32_t entries_for(uint32_t rules, unsigned cpus);
	static uint32_t rules_of(uint32_t entries, unsigned cpus) { return entries / cpus; }

private:
	// The CPU-major map's entry of a slot on a CPU (what the data plane
	// adds to: cpu * tm_counter_stride + slot).
	uint32_t entry(unsigned cpu, uint32_t slot) const { return cpu * rules_ + slot; }

	const Fd &map_;
	unsigned cpus_;
	bool per_cpu_;	 // ABI 5's per-CPU array
	uint32_t rules_; // rule capacity: a CPU-major row's length
};

} // namespace tmeter

#include "state/capacity.h"

#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "bpf/counter_table.h"
#include "bpf/map_set.h"
#include "util/error.h"

namespace tmeter {
namespace {

// Per entry, rounded up from the kernel's structures: an LPM trie node with
// its key and value (allocated as rules are added), a slot, per-CPU counters;
// the flow table's bucket heads and pool entries (preallocated).
constexpr uint64_t kTrieNode = 80, kSlot = sizeof(tm_rule_slot), kCounter = sizeof(tm_counters);
constexpr uint64_t kFlowBucket = sizeof(tm_flow_bucket), kFlowEntry = sizeof(tm_flow_entry);

uint64_t mem_available_bytes()
{
	std::ifstream in("/proc/meminfo");
	std::string line;
	while (std::getline(in, line)) {
		std::istringstream f(line);
		std::string key;
		uint64_t kib = 0;
		f >> key >> kib;
		if (key == "MemAvailable:")
			return kib * 1024;
	}
	return UINT64_MAX; // cannot tell: let the kernel decide
}

} // namespace

uint64_t map_memory_bytes(const Capacities &c, unsigned cpus)
{
	const uint64_t rules = uint64_t(c.rules) * (kTrieNode + kSlot + kCounter * cpus);
	const uint32_t buckets = flow_buckets(c.flows);
	const uint64_t flows = uint64_t(buckets) * kFlowBucket +
			       uint64_t(flow_pool_entries(buckets, cpus)) * kFlowEntry;
	return rules + flows;
}

void check_capacities_fit(const Capacities &c)
{
	CounterTable::entries_for(c.rules, possible_cpus()); // a usage Error if they cannot
	const uint64_t need = map_memory_bytes(c, possible_cpus()), have = mem_available_bytes();
	if (need > have)
		fail_runtime(fmt::format("--max-rules {} and --max-flows {} would need about {} MiB "
					 "of kernel memory for their maps, and only {} MiB is "
					 "available; choose smaller capacities",
					 c.rules, c.flows, need >> 20, have >> 20));
}

} // namespace tmeter

// The data plane's pinned maps, opened by name under the pin path. Commands
// other than `load` work on these alone: they never need the BPF object.
//
// Layout (docs/DESIGN.md, "State"): the fixed maps at the top of the pin
// path, the maps sized by --max-rules/--max-flows in maps<N>/, where N is
// tm_config.maps_gen, so that a resize builds a whole new set beside the
// old one and commits it with one write.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string_view>

#include "traffic_meter_kern_user.h"
#include "util/fd.h"

namespace tmeter {

struct MapSet {
	// Fixed: at the top of the pin path.
	Fd config;
	Fd ifaces;
	Fd percpu;
	Fd frags;
	// Sized: in maps<N>/.
	Fd rules_v4;
	Fd rules_v6;
	Fd rule_slots;
	Fd counters;
	Fd flow_table; // the bucket heads
	Fd flow_pool;
	Fd flow_alloc;
	Fd flow_reserve;
	Fd roles; // tm_ifaces' roles for the egress hook (ABI 5; fixed size)

	// Pin file names: the map names in bpf/maps.h, which libbpf also uses.
	struct Entry {
		std::string_view name;
		Fd MapSet::*member;
	};
	static constexpr std::array<Entry, 4> kFixed = {{
		{"tm_config", &MapSet::config},
		{"tm_ifaces", &MapSet::ifaces},
		{"tm_percpu", &MapSet::percpu},
		{"tm_frags", &MapSet::frags},
	}};
	// tm_roles is here although its size is fixed: a resize, and so the
	// upgrade from ABI 4, builds it (sync_roles in state/ifaces.h).
	static constexpr std::array<Entry, 9> kSized = {{
		{"tm_rules_v4", &MapSet::rules_v4},
		{"tm_rules_v6", &MapSet::rules_v6},
		{"tm_rule_slots", &MapSet::rule_slots},
		{"tm_counters", &MapSet::counters},
		{"tm_flow_table", &MapSet::flow_table},
		{"tm_flow_pool", &MapSet::flow_pool},
		{"tm_flow_alloc", &MapSet::flow_alloc},
		{"tm_flow_reserve", &MapSet::flow_reserve},
		{"tm_roles", &MapSet::roles},
	}};
	// The flow table's maps: a resize that keeps the flow capacity reuses them.
	static bool is_flow_map(std::string_view name) { return name.starts_with("tm_flow_"); }
	// The first ABI with this layout of the flow table (the pool), the
	// first with tm_roles, and the first with CPU-major counters.
	static constexpr uint32_t kPooledFlowsAbi = 4, kRolesAbi = 5, kCpuMajorCountersAbi = 6;
	// Whether the state of an ABI has the sized map of e (open_pinned).
	static bool in_abi(const Entry &e, uint32_t abi);
	// ABI 2's flow tables (LRU hashes of tm_flow_key to tm_flow_value) in
	// its maps<gen>/: what an upgrade reads and then removes.
	static constexpr std::array<std::string_view, 2> kAbi2Flows = {"tm_flows", "tm_flows_new"};
	// Every entry, fixed first.
	static std::array<Entry, 13> all();

	// maps<gen>/ under the pin path (bpffs takes no dots in names).
	static std::filesystem::path sized_dir(const std::filesystem::path &pin_dir, uint32_t gen);

	// Opens the fixed maps and those of maps<gen>/ (tm_config.maps_gen when
	// gen is 0). Throws a runtime Error naming the missing pin. abi: the
	// state's, for an upgrade: ABI 2 has none of the flow table's maps (they
	// stay empty), ABI 3 only tm_flow_table, with buckets of its own layout
	// (tm_flow_bucket_v3 in state/resize.cpp); ABIs before 5 have no
	// tm_roles (roles stays empty).
	static MapSet open_pinned(const std::filesystem::path &pin_dir, uint32_t gen = 0,
				  uint32_t abi = TM_ABI_VERSION);

	tm_config read_config() const;
	void write_config(const tm_config &cfg) const;
	// The data plane's self-accounting, summed over the CPUs.
	tm_stats read_stats() const;
	// Capacity (max_entries) of a map.
	static uint32_t capacity(const Fd &map);
	// The kernel's id of a map: two descriptors of one map share it.
	static uint32_t id(const Fd &map);
	// Flows in the flow table (slots with a tag); two_way_only: in its
	// two-way ways.
	uint64_t count_flows(bool two_way_only = false) const;
};

// Number of possible CPUs: the stride of per-CPU map values.
unsigned possible_cpus();

} // namespace tmeter

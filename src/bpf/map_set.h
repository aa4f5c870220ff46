// The data plane's pinned maps, opened by name under the pin path. Commands
// other than `load` work on these alone: they never need the BPF object.
#pragma once

#include <array>
#include <filesystem>
#include <string_view>

#include "traffic_meter_kern_user.h"
#include "util/fd.h"

namespace tmeter {

struct MapSet {
	Fd config;
	Fd rules_v4;
	Fd rules_v6;
	Fd rule_slots;
	Fd counters;
	Fd flows;
	Fd frags;
	Fd attached;
	Fd stats;
	Fd flow_epochs; // shared by every load's flow cache (bpf/maps.h)

	// Pin file names: the map names in bpf/maps.h, which libbpf also uses.
	struct Entry {
		std::string_view name;
		Fd MapSet::*member;
	};
	static constexpr std::array<Entry, 10> kMaps = {{
		{"tm_config", &MapSet::config},
		{"tm_rules_v4", &MapSet::rules_v4},
		{"tm_rules_v6", &MapSet::rules_v6},
		{"tm_rule_slots", &MapSet::rule_slots},
		{"tm_counters", &MapSet::counters},
		{"tm_flows", &MapSet::flows},
		{"tm_frags", &MapSet::frags},
		{"tm_attached", &MapSet::attached},
		{"tm_stats", &MapSet::stats},
		{"tm_flow_epochs", &MapSet::flow_epochs},
	}};

	// True if the first `load` has pinned state under dir.
	static bool exists(const std::filesystem::path &dir);
	// Opens every pinned map; throws a runtime Error that says to run
	// `load` first when there is no state, or `purge` when it is partial.
	static MapSet open_pinned(const std::filesystem::path &dir);

	tm_config read_config() const;
	// The data plane's self-accounting, summed over the CPUs.
	tm_stats read_stats() const;
	void write_config(const tm_config &cfg) const;
	// Capacity (max_entries) of a map.
	static uint32_t capacity(const Fd &map);
	// The kernel's id of a map: two descriptors of one map share it.
	static uint32_t id(const Fd &map);
	// Entries in tm_flows.
	uint64_t count_flows() const;
};

// Number of possible CPUs: the stride of per-CPU map values.
unsigned possible_cpus();

} // namespace tmeter

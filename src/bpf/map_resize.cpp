#include "bpf/map_resize.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include <fmt/format.h>

#include "bpf/map_io.h"
#include "util/error.h"

namespace tmeter {

std::vector<RuleStore::SlotMove> copy_rules_for_resize(const MapSet &old_maps,
						       const MapSet &new_maps)
{
	auto moves = RuleStore(old_maps).copy_to(new_maps);
	const uint32_t capacity = MapSet::capacity(new_maps.rule_slots);
	tm_config cfg = old_maps.read_config();
	cfg.max_rules = capacity;
	cfg.max_flows = MapSet::capacity(new_maps.flows);
	cfg.next_slot = static_cast<uint32_t>(moves.size()) % capacity;
	++cfg.generation; // cached slots are old-table slots: re-resolve
	new_maps.write_config(cfg);
	return moves;
}

void finish_resize(const MapSet &old_maps, const MapSet &new_maps,
		   const std::vector<RuleStore::SlotMove> &moves, const std::filesystem::path &pin_dir)
{
	// Counters: added per CPU from each rule's old slot into its new one.
	const unsigned cpus = possible_cpus();
	const size_t stride = cpus * sizeof(tm_counters);
	std::vector<tm_counters> old_vals(cpus), new_vals(cpus);
	for (const auto &[old_slot, new_slot] : moves) {
		if (bpf_map_lookup_elem(old_maps.counters.get(), &old_slot, old_vals.data()) ||
		    bpf_map_lookup_elem(new_maps.counters.get(), &new_slot, new_vals.data()))
			fail_errno("cannot read counters while resizing", errno);
		for (unsigned cpu = 0; cpu < cpus; ++cpu) {
			new_vals[cpu].up_bytes += old_vals[cpu].up_bytes;
			new_vals[cpu].up_packets += old_vals[cpu].up_packets;
			new_vals[cpu].down_bytes += old_vals[cpu].down_bytes;
			new_vals[cpu].down_packets += old_vals[cpu].down_packets;
		}
		write_array(new_maps.counters, {&new_slot, 1},
			    reinterpret_cast<const uint8_t *>(new_vals.data()), stride);
	}

	// Flows keep their originator; generation 0 makes them re-resolve.
	if (MapSet::id(old_maps.flows) != MapSet::id(new_maps.flows)) {
		tm_flow_key key{}, next{};
		tm_flow_key *prev = nullptr;
		tm_flow_value value{};
		while (bpf_map_get_next_key(old_maps.flows.get(), prev, &next) == 0) {
			if (bpf_map_lookup_elem(old_maps.flows.get(), &next, &value) == 0) {
				value.generation = 0;
				bpf_map_update_elem(new_maps.flows.get(), &next, &value, BPF_NOEXIST);
			}
			key = next;
			prev = &key;
		}
	}

	// rename() over the old pin is atomic on bpffs: no moment without state.
	// (bpffs refuses names with a dot.)
	for (const auto &entry : MapSet::kMaps) {
		const Fd &new_fd = new_maps.*(entry.member);
		if (MapSet::id(old_maps.*(entry.member)) == MapSet::id(new_fd))
			continue; // reused, not resized
		auto path = pin_dir / entry.name;
		auto tmp = pin_dir / (std::string(entry.name) + "_resized");
		if (bpf_obj_pin(new_fd.get(), tmp.c_str()))
			fail_errno(fmt::format("cannot pin {}", tmp.string()), errno);
		if (std::rename(tmp.c_str(), path.c_str()))
			fail_errno(fmt::format("cannot replace {}", path.string()), errno);
	}
}

} // namespace tmeter

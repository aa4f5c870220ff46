#include "bpf/map_resize.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "bpf/map_io.h"
#include "util/error.h"

namespace tmeter {
namespace {

struct OldRules {
	std::vector<uint32_t> old_slots;
	std::vector<tm_rule_slot> values;
};

OldRules read_rules(const MapSet &maps)
{
	OldRules r;
	read_array_chunks(maps.rule_slots, sizeof(tm_rule_slot),
			  [&](uint32_t first, const uint8_t *values, uint32_t count) {
				  auto *v = reinterpret_cast<const tm_rule_slot *>(values);
				  for (uint32_t i = 0; i < count; ++i)
					  if (v[i].family != TM_FAMILY_NONE) {
						  r.old_slots.push_back(first + i);
						  r.values.push_back(v[i]);
					  }
			  });
	return r;
}

void insert_lpm(const MapSet &maps, const tm_rule_slot &rule, const tm_rule_ref &ref)
{
	int err;
	if (rule.family == TM_FAMILY_IPV4) {
		tm_lpm_v4_key k{rule.prefixlen, {}};
		std::memcpy(k.addr, rule.addr, sizeof(k.addr));
		err = bpf_map_update_elem(maps.rules_v4.get(), &k, &ref, BPF_ANY);
	} else {
		tm_lpm_v6_key k{rule.prefixlen, {}};
		std::memcpy(k.addr, rule.addr, sizeof(k.addr));
		err = bpf_map_update_elem(maps.rules_v6.get(), &k, &ref, BPF_ANY);
	}
	if (err)
		fail_errno("cannot copy a rule into the resized table", errno);
}

} // namespace

void copy_rules_for_resize(const MapSet &old_maps, const MapSet &new_maps)
{
	auto rules = read_rules(old_maps);
	const uint32_t capacity = MapSet::capacity(new_maps.rule_slots);
	if (rules.values.size() > capacity)
		fail_usage(fmt::format("--max-rules {} is too small: {} rules are in use; delete some "
				       "first",
				       capacity, rules.values.size()));
	const unsigned cpus = possible_cpus();
	std::vector<uint32_t> slots(rules.values.size());
	std::vector<tm_counters> counters(rules.values.size() * cpus);
	for (uint32_t i = 0; i < slots.size(); ++i) {
		slots[i] = i;
		for (unsigned cpu = 0; cpu < cpus; ++cpu)
			counters[i * cpus + cpu].serial = rules.values[i].serial;
	}
	write_array(new_maps.counters, slots, reinterpret_cast<const uint8_t *>(counters.data()),
		    cpus * sizeof(tm_counters));
	write_array(new_maps.rule_slots, slots, reinterpret_cast<const uint8_t *>(rules.values.data()),
		    sizeof(tm_rule_slot));
	for (uint32_t i = 0; i < slots.size(); ++i)
		insert_lpm(new_maps, rules.values[i], {i, rules.values[i].serial});

	tm_config cfg = old_maps.read_config();
	cfg.max_rules = capacity;
	cfg.max_flows = MapSet::capacity(new_maps.flows);
	cfg.next_slot = static_cast<uint32_t>(slots.size()) % capacity;
	++cfg.generation; // cached slots are old-table slots: re-resolve
	new_maps.write_config(cfg);
}

void finish_resize(const MapSet &old_maps, const MapSet &new_maps,
		   const std::filesystem::path &pin_dir)
{
	// Counters: old slot -> new slot by serial, then add per CPU.
	auto rules = read_rules(old_maps);
	const unsigned cpus = possible_cpus();
	const size_t stride = cpus * sizeof(tm_counters);
	std::vector<tm_counters> old_vals(cpus), new_vals(cpus);
	for (uint32_t i = 0; i < rules.old_slots.size(); ++i) {
		uint32_t old_slot = rules.old_slots[i], new_slot = i;
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
	if (old_maps.flows.get() != new_maps.flows.get()) {
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
		const Fd &old_fd = old_maps.*(entry.member);
		const Fd &new_fd = new_maps.*(entry.member);
		bpf_map_info a{}, b{};
		uint32_t la = sizeof(a), lb = sizeof(b);
		if (bpf_obj_get_info_by_fd(old_fd.get(), &a, &la) ||
		    bpf_obj_get_info_by_fd(new_fd.get(), &b, &lb))
			fail_errno("cannot query maps while resizing", errno);
		if (a.id == b.id)
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

#include "rules/slot_table.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "bpf/counter_table.h"
#include "bpf/map_io.h"
#include "util/error.h"

namespace tmeter {

Cidr cidr_of(const tm_rule_slot &s)
{
	Cidr c;
	c.family = s.family;
	c.prefixlen = s.prefixlen;
	std::memcpy(c.addr.data(), s.addr, sizeof(s.addr));
	return c;
}

tm_rule_slot slot_of(const Cidr &c, uint32_t serial, uint32_t added)
{
	tm_rule_slot s{};
	s.serial = serial;
	s.family = c.family;
	s.prefixlen = c.prefixlen;
	s.added = added;
	std::memcpy(s.addr, c.addr.data(), sizeof(s.addr));
	return s;
}

std::vector<uint8_t> lpm_key(const Cidr &c)
{
	if (c.family == TM_FAMILY_IPV4) {
		tm_lpm_v4_key k{};
		k.prefixlen = c.prefixlen;
		std::memcpy(k.addr, c.addr.data(), sizeof(k.addr));
		return {reinterpret_cast<uint8_t *>(&k), reinterpret_cast<uint8_t *>(&k) + sizeof(k)};
	}
	tm_lpm_v6_key k{};
	k.prefixlen = c.prefixlen;
	std::memcpy(k.addr, c.addr.data(), sizeof(k.addr));
	return {reinterpret_cast<uint8_t *>(&k), reinterpret_cast<uint8_t *>(&k) + sizeof(k)};
}

const Fd &trie_for(const MapSet &maps, const Cidr &c)
{
	return c.family == TM_FAMILY_IPV4 ? maps.rules_v4 : maps.rules_v6;
}

void read_used_slots(const MapSet &maps, uint32_t used, std::vector<tm_rule_slot> &out)
{
	out.clear();
	out.reserve(used);
	for_each_slot(maps, used, [&](uint32_t, const tm_rule_slot &s) { out.push_back(s); });
}

void write_slots(const MapSet &maps, std::span<const uint32_t> slots,
		 std::span<const tm_rule_slot> values)
{
	write_array(maps.rule_slots, slots, reinterpret_cast<const uint8_t *>(values.data()),
		    sizeof(tm_rule_slot));
}

namespace {

std::vector<tm_counters> read_counters(const CounterTable &table,
				       const std::vector<uint32_t> &slots)
{
	const unsigned cpus = table.cpus();
	std::vector<tm_counters> vals(slots.size() * cpus);
	if (slots.empty())
		return vals;
	// A large change takes mostly consecutive slots (next-fit): one batched
	// read of their range instead of a syscall per slot (a million-rule
	// import spent a second on those).
	const auto [lo, hi] = std::minmax_element(slots.begin(), slots.end());
	const uint64_t span = uint64_t(*hi) - *lo + 1;
	if (slots.size() >= 64 && span <= 2 * slots.size()) {
		std::vector<tm_counters> range(span * cpus);
		table.read_range(*lo, uint32_t(span), range.data());
		for (size_t i = 0; i < slots.size(); ++i)
			std::copy_n(&range[(slots[i] - *lo) * size_t(cpus)], cpus, &vals[i * cpus]);
		return vals;
	}
	table.read(slots, vals.data());
	return vals;
}

} // namespace

Totals sum_cpus(const tm_counters *per_cpu, unsigned cpus)
{
	Totals t;
	for (unsigned cpu = 0; cpu < cpus; ++cpu) {
		t.up_packets += per_cpu[cpu].up_packets;
		t.up_bytes += per_cpu[cpu].up_bytes;
		t.down_packets += per_cpu[cpu].down_packets;
		t.down_bytes += per_cpu[cpu].down_bytes;
	}
	return t;
}

std::vector<Totals> sum_counters(const MapSet &maps, const std::vector<uint32_t> &slots)
{
	const CounterTable table(maps.counters);
	const unsigned cpus = table.cpus();
	auto vals = read_counters(table, slots);
	std::vector<Totals> out(slots.size());
	for (size_t i = 0; i < slots.size(); ++i)
		out[i] = sum_cpus(&vals[i * cpus], cpus);
	return out;
}

std::vector<Totals> claim_counters(const MapSet &maps, std::span<const uint32_t> slots,
				   std::span<const uint32_t> serials, uint32_t slots_used)
{
	const CounterTable table(maps.counters);
	const unsigned cpus = table.cpus();
	// Counters of a slot never used are zero: no serial was ever set for
	// the data plane to add under. Only the others are read.
	std::vector<uint32_t> used;
	std::vector<size_t> used_at;
	for (size_t i = 0; i < slots.size(); ++i)
		if (slots[i] < slots_used)
			used.push_back(slots[i]), used_at.push_back(i);
	std::vector<tm_counters> vals(slots.size() * cpus);
	auto read = read_counters(table, used);
	for (size_t j = 0; j < used.size(); ++j)
		std::copy_n(&read[j * cpus], cpus, &vals[used_at[j] * cpus]);
	std::vector<Totals> kept(slots.size());
	for (size_t i = 0; i < slots.size(); ++i) {
		for (unsigned cpu = 0; cpu < cpus; ++cpu)
			vals[i * cpus + cpu].serial = serials[i];
		kept[i] = sum_cpus(&vals[i * cpus], cpus);
	}
	table.write(slots, vals.data());
	return kept;
}

void SlotView::load_all()
{
	// Slots from slots_used on are empty: at() reads them when allocation
	// gets there. Whole windows, as at() expects them.
	const uint64_t windows = (uint64_t(used_) + kWindow - 1) / kWindow;
	std::vector<tm_rule_slot> all;
	read_used_slots(maps_, uint32_t(std::min<uint64_t>(capacity_, windows * kWindow)), all);
	for (size_t w = 0; w * kWindow < all.size(); ++w) {
		auto first = all.begin() + static_cast<ptrdiff_t>(w * kWindow);
		auto last = all.begin() + static_cast<ptrdiff_t>(std::min(all.size(), (w + 1) * kWindow));
		windows_[static_cast<uint32_t>(w)].assign(first, last);
	}
	for (uint32_t i = 0; i < all.size(); ++i)
		if (all[i].family != TM_FAMILY_NONE && all[i].deleted == 0 && all[i].added != 0 &&
		    all[i].added <= committed_)
			by_cidr_.emplace(cidr_of(all[i]), i);
	complete_ = true;
}

tm_rule_slot &SlotView::at(uint32_t slot)
{
	auto it = windows_.find(slot / kWindow);
	if (it == windows_.end()) {
		uint32_t first = slot / kWindow * kWindow;
		uint32_t count = std::min(kWindow, capacity_ - first);
		std::vector<tm_rule_slot> w(count);
		if (first < used_) // above the high-water mark, all slots are empty
			read_array_range(maps_.rule_slots, sizeof(tm_rule_slot), first, count,
					 reinterpret_cast<uint8_t *>(w.data()));
		it = windows_.emplace(slot / kWindow, std::move(w)).first;
	}
	return it->second[slot % kWindow];
}

std::optional<uint32_t> SlotView::find(const Cidr &c)
{
	if (complete_) {
		auto it = by_cidr_.find(c);
		return it == by_cidr_.end() ? std::nullopt : std::optional(it->second);
	}
	// The trie's longest match for the rule's own key is the rule if it
	// exists; the slot table says whether the match is exactly it.
	tm_rule_ref ref{};
	auto key = lpm_key(c);
	if (bpf_map_lookup_elem(trie_for(maps_, c).get(), key.data(), &ref)) {
		if (errno == ENOENT)
			return std::nullopt;
		fail_errno(fmt::format("cannot look up rule {}", c.str()), errno);
	}
	if (ref.slot >= capacity_)
		return std::nullopt;
	const tm_rule_slot &s = at(ref.slot);
	if (s.family == TM_FAMILY_NONE || s.deleted != 0 || s.serial != ref.serial || cidr_of(s) != c)
		return std::nullopt;
	return ref.slot;
}

} // namespace tmeter

#include "rules/rule_store.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "bpf/map_io.h"
#include "util/error.h"

namespace tmeter {
namespace {

// Changes up to this many rules never read the whole slot table.
constexpr size_t kSparseLimit = 4096;

Cidr cidr_of(const tm_rule_slot &s)
{
	Cidr c;
	c.family = s.family;
	c.prefixlen = s.prefixlen;
	std::memcpy(c.addr.data(), s.addr, sizeof(s.addr));
	return c;
}

tm_rule_slot slot_of(const Cidr &c, uint32_t serial)
{
	tm_rule_slot s{};
	s.serial = serial;
	s.family = c.family;
	s.prefixlen = c.prefixlen;
	std::memcpy(s.addr, c.addr.data(), sizeof(s.addr));
	return s;
}

// The LPM key of a rule, as bytes: v4 and v6 keys differ in size.
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

// Per-CPU counter values for `slots`, each carrying its slot's serial.
std::vector<uint8_t> fresh_counters(const std::vector<uint32_t> &serials, unsigned cpus)
{
	std::vector<uint8_t> buf(serials.size() * cpus * sizeof(tm_counters), 0);
	auto *vals = reinterpret_cast<tm_counters *>(buf.data());
	for (size_t i = 0; i < serials.size(); ++i)
		for (unsigned cpu = 0; cpu < cpus; ++cpu)
			vals[i * cpus + cpu].serial = serials[i];
	return buf;
}

const Fd &trie_for(const MapSet &maps, const Cidr &c)
{
	return c.family == TM_FAMILY_IPV4 ? maps.rules_v4 : maps.rules_v6;
}

struct SlotTable {
	std::vector<tm_rule_slot> slots; // indexed by slot
	std::map<Cidr, uint32_t> by_cidr;
};

SlotTable read_slots(const MapSet &maps)
{
	SlotTable t;
	read_array_chunks(maps.rule_slots, sizeof(tm_rule_slot),
			  [&](uint32_t first, const uint8_t *values, uint32_t count) {
				  auto *v = reinterpret_cast<const tm_rule_slot *>(values);
				  t.slots.insert(t.slots.end(), v, v + count);
				  for (uint32_t i = 0; i < count; ++i)
					  if (v[i].family != TM_FAMILY_NONE)
						  t.by_cidr.emplace(cidr_of(v[i]), first + i);
			  });
	return t;
}

// The slot table as apply() needs it. A small change (the everyday `add`
// or `del`) reads only the windows it touches and finds rules through the
// tries, so its cost does not grow with the table; a large one reads it all.
class SlotView {
public:
	SlotView(const MapSet &maps, uint32_t capacity) : maps_(maps), capacity_(capacity) {}

	uint32_t capacity() const { return capacity_; }

	void load_all()
	{
		SlotTable t = read_slots(maps_);
		for (size_t w = 0; w * kWindow < t.slots.size(); ++w) {
			auto first = t.slots.begin() + static_cast<ptrdiff_t>(w * kWindow);
			auto last = t.slots.begin() +
				    static_cast<ptrdiff_t>(std::min(t.slots.size(), (w + 1) * kWindow));
			windows_[static_cast<uint32_t>(w)].assign(first, last);
		}
		by_cidr_ = std::move(t.by_cidr);
		complete_ = true;
	}

	tm_rule_slot &at(uint32_t slot)
	{
		auto it = windows_.find(slot / kWindow);
		if (it == windows_.end()) {
			uint32_t first = slot / kWindow * kWindow;
			uint32_t count = std::min(kWindow, capacity_ - first);
			std::vector<tm_rule_slot> w(count);
			read_array_range(maps_.rule_slots, sizeof(tm_rule_slot), first, count,
					 reinterpret_cast<uint8_t *>(w.data()));
			it = windows_.emplace(slot / kWindow, std::move(w)).first;
		}
		return it->second[slot % kWindow];
	}

	// The slot of an existing rule.
	std::optional<uint32_t> find(const Cidr &c)
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
		if (s.family == TM_FAMILY_NONE || s.serial != ref.serial || cidr_of(s) != c)
			return std::nullopt;
		return ref.slot;
	}

private:
	static constexpr uint32_t kWindow = 1024;
	const MapSet &maps_;
	uint32_t capacity_;
	bool complete_ = false;
	std::unordered_map<uint32_t, std::vector<tm_rule_slot>> windows_;
	std::map<Cidr, uint32_t> by_cidr_;
};


void write_slots(const MapSet &maps, const std::vector<uint32_t> &slots,
		 const std::vector<tm_rule_slot> &values)
{
	write_array(maps.rule_slots, slots, reinterpret_cast<const uint8_t *>(values.data()),
		    sizeof(tm_rule_slot));
}

void write_counters(const MapSet &maps, const std::vector<uint32_t> &slots,
		    const std::vector<uint32_t> &serials)
{
	unsigned cpus = possible_cpus();
	auto buf = fresh_counters(serials, cpus);
	write_array(maps.counters, slots, buf.data(), cpus * sizeof(tm_counters));
}

} // namespace

RuleStore::RuleStore(const MapSet &maps) : maps_(maps) {}

std::vector<RuleEntry> RuleStore::rules() const
{
	// SPEC order without a node per rule: IPv4 rules sort on one integer
	// (address, then prefix length), IPv6 rules on the Cidr order.
	std::vector<std::pair<uint64_t, RuleEntry>> v4;
	std::vector<RuleEntry> v6;
	read_array_chunks(maps_.rule_slots, sizeof(tm_rule_slot),
			  [&](uint32_t first, const uint8_t *values, uint32_t count) {
				  auto *v = reinterpret_cast<const tm_rule_slot *>(values);
				  for (uint32_t i = 0; i < count; ++i) {
					  if (v[i].family == TM_FAMILY_NONE)
						  continue;
					  RuleEntry e{cidr_of(v[i]), first + i, v[i].serial};
					  if (e.cidr.family == TM_FAMILY_IPV4) {
						  uint64_t key = uint64_t(v[i].addr[0]) << 32 |
								 uint64_t(v[i].addr[1]) << 24 |
								 uint64_t(v[i].addr[2]) << 16 |
								 uint64_t(v[i].addr[3]) << 8 | v[i].prefixlen;
						  v4.emplace_back(key, e);
					  } else {
						  v6.push_back(e);
					  }
				  }
			  });
	std::sort(v4.begin(), v4.end(),
		  [](const auto &a, const auto &b) { return a.first < b.first; });
	std::sort(v6.begin(), v6.end(),
		  [](const RuleEntry &a, const RuleEntry &b) { return a.cidr < b.cidr; });
	std::vector<RuleEntry> out;
	out.reserve(v4.size() + v6.size());
	for (const auto &[key, e] : v4)
		out.push_back(e);
	out.insert(out.end(), v6.begin(), v6.end());
	return out;
}

std::vector<RuleCounters> RuleStore::counters() const
{
	auto entries = rules();
	constexpr uint32_t kNoRow = UINT32_MAX;
	std::vector<uint32_t> row_of(MapSet::capacity(maps_.counters), kNoRow);
	std::vector<RuleCounters> out(entries.size());
	for (size_t i = 0; i < entries.size(); ++i) {
		out[i].cidr = entries[i].cidr;
		row_of[entries[i].slot] = uint32_t(i);
	}
	const unsigned cpus = possible_cpus();
	read_array_chunks(maps_.counters, cpus * sizeof(tm_counters),
			  [&](uint32_t first, const uint8_t *values, uint32_t count) {
				  auto *v = reinterpret_cast<const tm_counters *>(values);
				  for (uint32_t i = 0; i < count; ++i) {
					  if (row_of[first + i] == kNoRow)
						  continue;
					  RuleCounters &s = out[row_of[first + i]];
					  for (unsigned cpu = 0; cpu < cpus; ++cpu) {
						  const tm_counters &c = v[i * cpus + cpu];
						  s.up_bytes += c.up_bytes;
						  s.up_packets += c.up_packets;
						  s.down_bytes += c.down_bytes;
						  s.down_packets += c.down_packets;
					  }
				  }
			  });
	return out;
}

ChangeResult RuleStore::apply(const RuleChange &change)
{
	ChangeResult result;
	tm_config cfg = maps_.read_config();
	const uint32_t capacity = cfg.max_rules ? cfg.max_rules : MapSet::capacity(maps_.rule_slots);
	SlotView table(maps_, capacity);
	if (change.add.size() + change.del.size() > kSparseLimit)
		table.load_all();

	// Validate everything before touching the kernel.
	std::map<Cidr, uint32_t> to_delete; // rule -> its slot
	for (const auto &c : change.del) {
		auto slot = table.find(c);
		if (!slot)
			fail_runtime(fmt::format("no such rule {}", c.str()));
		to_delete.emplace(c, *slot);
	}
	// Sorted and unique, as a set would be, at a fraction of a million-rule
	// import's cost.
	std::vector<Cidr> to_add;
	for (const auto &c : change.add) {
		if (to_delete.contains(c))
			continue;
		if (table.find(c))
			result.already_present.push_back(c);
		else
			to_add.push_back(c);
	}
	std::sort(to_add.begin(), to_add.end());
	to_add.erase(std::unique(to_add.begin(), to_add.end()), to_add.end());

	// Deleted rules' slots count as free from here on; their values are
	// kept to restore them if the change fails.
	std::vector<uint32_t> freed;
	std::vector<tm_rule_slot> freed_values;
	std::set<uint32_t> freed_set;
	for (const auto &[c, slot] : to_delete) {
		freed.push_back(slot);
		freed_values.push_back(table.at(slot));
		freed_set.insert(slot);
		table.at(slot).family = TM_FAMILY_NONE;
	}

	// Allocate next-fit from the cursor, so a freed slot is reused last; a
	// slot freed by this very change only when nothing else is free. A rule
	// that finds no slot in two rounds means the table is full: checked
	// before anything in the kernel changes.
	std::vector<uint32_t> new_slots, new_serials;
	std::vector<tm_rule_slot> new_values;
	new_slots.reserve(to_add.size());
	uint32_t cursor = cfg.next_slot % capacity;
	for (const auto &c : to_add) {
		for (size_t steps = 0;; ++steps) {
			if (steps == 2 * size_t(capacity))
				fail_runtime(fmt::format("rule table full ({}); reload with --max-rules",
							 capacity));
			if (table.at(cursor).family == TM_FAMILY_NONE &&
			    (steps >= capacity || !freed_set.contains(cursor)))
				break;
			cursor = (cursor + 1) % capacity;
		}
		if (++cfg.next_serial == 0)
			++cfg.next_serial; // serial 0 means "no rule"
		new_slots.push_back(cursor);
		new_serials.push_back(cfg.next_serial);
		new_values.push_back(slot_of(c, cfg.next_serial));
		table.at(cursor).family = c.family; // reserve
		cursor = (cursor + 1) % capacity;
	}
	cfg.next_slot = cursor;

	// Deletes first. Tries first, so no new packet resolves to the slot; the
	// counters stay as they are (flows that cached the rule add there
	// harmlessly until the slot is reused with a new serial), which also
	// lets a failed change restore them intact.
	for (const auto &[c, slot] : to_delete)
		if (bpf_map_delete_elem(trie_for(maps_, c).get(), lpm_key(c).data()) && errno != ENOENT)
			fail_errno(fmt::format("cannot delete rule {}", c.str()), errno);
	write_slots(maps_, freed, std::vector<tm_rule_slot>(freed.size()));
	auto undo_deletes = [&] {
		write_slots(maps_, freed, freed_values);
		for (size_t i = 0; i < freed.size(); ++i) {
			tm_rule_ref ref{freed[i], freed_values[i].serial};
			Cidr c = cidr_of(freed_values[i]);
			bpf_map_update_elem(trie_for(maps_, c).get(), lpm_key(c).data(), &ref, BPF_ANY);
		}
	};

	// Counters first (with their serial), then the slot table, then the
	// tries: a packet that matches a new rule always finds its counters.
	size_t inserted = 0;
	auto undo_adds = [&] {
		size_t n = 0;
		for (const auto &c : to_add) {
			if (n++ >= inserted)
				break;
			bpf_map_delete_elem(trie_for(maps_, c).get(), lpm_key(c).data());
		}
		write_slots(maps_, new_slots, std::vector<tm_rule_slot>(new_slots.size()));
		undo_deletes();
		// Flows may have cached a rule that is gone again: re-resolve all.
		++cfg.generation;
		try {
			maps_.write_config(cfg);
		} catch (const Error &) {
		}
	};
	try {
		write_counters(maps_, new_slots, new_serials);
		write_slots(maps_, new_slots, new_values);
	} catch (const Error &) {
		undo_adds();
		throw;
	}
	// One batch per family (IPv4 sorts first, so what went in is always a
	// prefix of to_add); element by element where the kernel has no batch.
	auto insert = [&](size_t first, size_t last) {
		if (first == last)
			return;
		const Fd &trie = trie_for(maps_, to_add[first]);
		std::vector<uint8_t> keys;
		std::vector<tm_rule_ref> refs;
		for (size_t j = first; j < last; ++j) {
			auto k = lpm_key(to_add[j]);
			keys.insert(keys.end(), k.begin(), k.end());
			refs.push_back({new_slots[j], new_serials[j]});
		}
		const size_t key_size = keys.size() / (last - first);
		// BPF_ANY: batches take no BPF_NOEXIST, and validation under the
		// lock has shown that none of these rules is in the trie.
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		int err = 0;
		bool batch = true;
		while (inserted < last) {
			size_t j = inserted - first;
			if (batch) {
				uint32_t count = uint32_t(std::min<size_t>(16384, last - inserted));
				// On failure the count may be stale: redo the chunk one by one.
				if (bpf_map_update_batch(trie.get(), keys.data() + j * key_size, &refs[j],
							 &count, &opts))
					batch = false;
				else
					inserted += count;
				continue;
			}
			if (bpf_map_update_elem(trie.get(), keys.data() + j * key_size, &refs[j], BPF_ANY)) {
				err = errno;
				break;
			}
			++inserted;
		}
		if (err) {
			const Cidr &c = to_add[inserted];
			undo_adds();
			if (err == ENOSPC || err == E2BIG)
				fail_runtime(fmt::format("rule table full ({}); reload with --max-rules",
							 capacity));
			fail_errno(fmt::format("cannot add rule {}", c.str()), err);
		}
	};
	size_t first_v6 = size_t(std::partition_point(to_add.begin(), to_add.end(),
						       [](const Cidr &c) { return c.family == TM_FAMILY_IPV4; }) -
				  to_add.begin());
	insert(0, first_v6);
	insert(first_v6, to_add.size());
	result.added = to_add;
	for (const auto &[c, slot] : to_delete)
		result.deleted.push_back(c);

	if (!to_add.empty() || !to_delete.empty()) {
		++cfg.generation;
		maps_.write_config(cfg);
	}
	return result;
}

void RuleStore::reset(const std::optional<Cidr> &rule)
{
	std::vector<uint32_t> slots, serials;
	for (const auto &e : rules()) {
		if (rule && e.cidr != *rule)
			continue;
		slots.push_back(e.slot);
		serials.push_back(e.serial);
	}
	if (rule && slots.empty())
		fail_runtime(fmt::format("no such rule {}", rule->str()));
	write_counters(maps_, slots, serials);
}

std::vector<RuleStore::SlotMove> RuleStore::copy_to(const MapSet &target) const
{
	const auto entries = rules();
	const uint32_t capacity = MapSet::capacity(target.rule_slots);
	if (entries.size() > capacity)
		fail_usage(fmt::format("--max-rules {} is too small: {} rules are in use; delete some "
				       "first",
				       capacity, entries.size()));
	std::vector<uint32_t> slots, serials;
	std::vector<tm_rule_slot> values;
	std::vector<SlotMove> moves;
	for (uint32_t i = 0; i < entries.size(); ++i) {
		slots.push_back(i);
		serials.push_back(entries[i].serial);
		values.push_back(slot_of(entries[i].cidr, entries[i].serial));
		moves.push_back({entries[i].slot, i});
	}
	write_counters(target, slots, serials);
	write_slots(target, slots, values);
	for (uint32_t i = 0; i < entries.size(); ++i) {
		const tm_rule_ref ref{i, entries[i].serial};
		const Cidr &c = entries[i].cidr;
		if (bpf_map_update_elem(trie_for(target, c).get(), lpm_key(c).data(), &ref, BPF_ANY))
			fail_errno(fmt::format("cannot copy rule {}", c.str()), errno);
	}
	return moves;
}

RuleChange diff_rule_sets(const std::vector<Cidr> &current, const std::vector<Cidr> &wanted)
{
	std::set<Cidr> cur(current.begin(), current.end()), want(wanted.begin(), wanted.end());
	RuleChange change;
	std::set_difference(want.begin(), want.end(), cur.begin(), cur.end(),
			    std::back_inserter(change.add));
	std::set_difference(cur.begin(), cur.end(), want.begin(), want.end(),
			    std::back_inserter(change.del));
	return change;
}

} // namespace tmeter

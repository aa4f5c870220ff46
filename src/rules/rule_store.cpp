#include "rules/rule_store.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <span>
#include <thread>

#include <fmt/format.h>

#include "bpf/counter_table.h"
#include "util/error.h"

namespace tmeter {
namespace {

// Changes up to this many rules never read the whole slot table.
constexpr size_t kSparseLimit = 4096;
constexpr uint32_t kBatch = 16384;
// Rules per chunk when a large change overlaps trie insertion with the rest.
constexpr size_t kPipelineChunk = 65536;

// Totals <-> the four-counter arrays of tm_rule_slot, modulo 2^64.
void add_to(__u64 (&a)[4], const Totals &t, bool negate = false)
{
	const __u64 v[4] = {t.up_packets, t.up_bytes, t.down_packets, t.down_bytes};
	for (int i = 0; i < 4; ++i)
		a[i] += negate ? __u64(0) - v[i] : v[i];
}

Totals plus(const Totals &t, const __u64 (&a)[4])
{
	return {t.up_packets + a[0], t.up_bytes + a[1], t.down_packets + a[2], t.down_bytes + a[3]};
}

// SPEC order without a node per rule: IPv4 rules sort on one integer
// (address, then prefix length), IPv6 rules on the Cidr order.
template <typename T, typename CidrOf> void sort_rules(std::vector<T> &rows, CidrOf cidr)
{
	auto v4_key = [&](const T &r) {
		const Cidr &c = cidr(r);
		return uint64_t(c.addr[0]) << 32 | uint64_t(c.addr[1]) << 24 | uint64_t(c.addr[2]) << 16 |
		       uint64_t(c.addr[3]) << 8 | c.prefixlen;
	};
	auto first_v6 = std::partition(rows.begin(), rows.end(),
				       [&](const T &r) { return cidr(r).family == TM_FAMILY_IPV4; });
	std::sort(rows.begin(), first_v6, [&](const T &a, const T &b) { return v4_key(a) < v4_key(b); });
	std::sort(first_v6, rows.end(), [&](const T &a, const T &b) { return cidr(a) < cidr(b); });
}

// Inserts rules into their tries, one batch per family where the kernel has
// batches, element by element where not. BPF_ANY: batches take no
// BPF_NOEXIST, and validation under the lock has shown none is there.
void insert_tries(const MapSet &maps, std::span<const Cidr> rules, std::span<const tm_rule_ref> refs)
{
	size_t done = 0;
	while (done < rules.size()) {
		const Fd &trie = trie_for(maps, rules[done]);
		size_t last = done;
		while (last < rules.size() && rules[last].family == rules[done].family &&
		       last - done < kBatch)
			++last;
		std::vector<uint8_t> keys;
		for (size_t j = done; j < last; ++j) {
			auto k = lpm_key(rules[j]);
			keys.insert(keys.end(), k.begin(), k.end());
		}
		const size_t key_size = keys.size() / (last - done);
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		uint32_t count = uint32_t(last - done);
		if (bpf_map_update_batch(trie.get(), keys.data(), &refs[done], &count, &opts) == 0) {
			done = last;
			continue;
		}
		// No batches here, or a failure part way: one by one (idempotent).
		for (size_t j = done; j < last; ++j) {
			if (bpf_map_update_elem(trie.get(), keys.data() + (j - done) * key_size, &refs[j],
						BPF_ANY)) {
				int err = errno;
				if (err == ENOSPC || err == E2BIG)
					fail_runtime(fmt::format("rule table full ({}); reload with --max-rules",
								 MapSet::capacity(maps.rule_slots)));
				fail_errno(fmt::format("cannot add rule {}", rules[j].str()), err);
			}
		}
		done = last;
	}
}

// Trie entries inserted on a second thread, chunk by chunk, behind the
// counters and slots the calling thread writes for the same rules (a rule
// must find its counters the moment a packet can match it). A million-rule
// import spends most of its time in the kernel's trie insertion, which
// touches no other map, so the two overlap.
class BackgroundTries {
public:
	BackgroundTries(const MapSet &maps, std::span<const Cidr> rules, std::span<const tm_rule_ref> refs)
	    : maps_(maps), rules_(rules), refs_(refs), worker_([this] { run(); })
	{
	}
	~BackgroundTries() { stop(); }
	BackgroundTries(const BackgroundTries &) = delete;
	BackgroundTries &operator=(const BackgroundTries &) = delete;

	// Rules [0, n) have their counters and slots.
	void ready_up_to(size_t n)
	{
		std::lock_guard lock(mu_);
		ready_ = n;
		cv_.notify_one();
	}
	// Waits for every rule's trie entry; rethrows the worker's error.
	void finish()
	{
		ready_up_to(rules_.size());
		worker_.join();
		if (error_)
			std::rethrow_exception(error_);
	}

private:
	void run()
	{
		try {
			size_t done = 0;
			while (done < rules_.size()) {
				size_t ready;
				{
					std::unique_lock lock(mu_);
					cv_.wait(lock, [&] { return ready_ > done || stopped_; });
					if (stopped_)
						return;
					ready = ready_;
				}
				insert_tries(maps_, rules_.subspan(done, ready - done),
					     refs_.subspan(done, ready - done));
				done = ready;
			}
		} catch (...) {
			error_ = std::current_exception();
		}
	}
	// The calling thread failed: the worker stops after its current chunk
	// (recover() then removes what it inserted).
	void stop()
	{
		if (!worker_.joinable())
			return;
		{
			std::lock_guard lock(mu_);
			stopped_ = true;
			cv_.notify_one();
		}
		worker_.join();
	}

	const MapSet &maps_;
	std::span<const Cidr> rules_;
	std::span<const tm_rule_ref> refs_;
	std::mutex mu_;
	std::condition_variable cv_;
	size_t ready_ = 0;
	bool stopped_ = false;
	std::exception_ptr error_;
	std::thread worker_; // last: starts once the members above exist
};

void delete_trie(const MapSet &maps, const Cidr &c)
{
	if (bpf_map_delete_elem(trie_for(maps, c).get(), lpm_key(c).data()) && errno != ENOENT)
		fail_errno(fmt::format("cannot delete rule {}", c.str()), errno);
}

} // namespace

RuleStore::RuleStore(const MapSet &maps) : maps_(maps) {}

RuleStore::Snapshot RuleStore::snapshot() const
{
	// A writer that rewrites slots readers may see makes rewrite_seq odd
	// for the time it takes (short: one batch write); a reader that
	// overlapped one reads again. Everything else a writer does is
	// invisible at the committed id the reader read first.
	constexpr int kAttempts = 200;
	for (int attempt = 0;; ++attempt) {
		tm_config before = maps_.read_config();
		if ((before.rewrite_seq & 1) && attempt < kAttempts) {
			std::this_thread::sleep_for(std::chrono::milliseconds(1));
			continue; // a crashed writer leaves it odd: read anyway in the end
		}
		Snapshot s;
		s.committed = before.committed;
		s.slots.reserve(std::min(before.slots_used, before.max_rules));
		for_each_slot(maps_, before.slots_used, [&](uint32_t slot, const tm_rule_slot &v) {
			if (visible_at(v, before.committed))
				s.slots.emplace_back(slot, v);
		});
		if (maps_.read_config().rewrite_seq == before.rewrite_seq || attempt >= kAttempts)
			return s;
	}
}

void RuleStore::rewrite(std::span<const uint32_t> slots,
			std::span<const tm_rule_slot> values) const
{
	tm_config cfg = maps_.read_config();
	const bool already_odd = cfg.rewrite_seq & 1;
	if (!already_odd) {
		++cfg.rewrite_seq;
		maps_.write_config(cfg);
	}
	write_slots(maps_, slots, values);
	if (!already_odd) {
		++cfg.rewrite_seq;
		maps_.write_config(cfg);
	}
}

std::vector<RuleEntry> RuleStore::rules() const
{
	auto snap = snapshot();
	std::vector<RuleEntry> out;
	out.reserve(snap.slots.size());
	for (const auto &[slot, v] : snap.slots)
		out.push_back({cidr_of(v), slot, v.serial});
	sort_rules(out, [](const RuleEntry &e) -> const Cidr & { return e.cidr; });
	return out;
}

std::vector<RuleCounters> RuleStore::counters(Figures figures) const
{
	auto snap = snapshot();
	constexpr uint32_t kNoRow = UINT32_MAX;
	// Slots come in order: counters past the last visible rule's are not read.
	const uint32_t limit = snap.slots.empty() ? 0 : snap.slots.back().first + 1;
	std::vector<uint32_t> row_of(limit, kNoRow);
	std::vector<Totals> totals(snap.slots.size());
	for (size_t i = 0; i < snap.slots.size(); ++i)
		row_of[snap.slots[i].first] = uint32_t(i);
	const CounterTable table(maps_.counters);
	const unsigned cpus = table.cpus();
	table.read_chunks(limit, [&](uint32_t first, const tm_counters *v, uint32_t count) {
		for (uint32_t i = 0; i < count; ++i)
			if (row_of[first + i] != kNoRow)
				totals[row_of[first + i]] = sum_cpus(&v[size_t(i) * cpus], cpus);
	});
	std::vector<RuleCounters> out(snap.slots.size());
	for (size_t i = 0; i < snap.slots.size(); ++i) {
		const tm_rule_slot &s = snap.slots[i].second;
		Totals t = plus(totals[i], s.carried);
		if (figures == Figures::kShown)
			t = plus(t, s.adjust);
		out[i] = {cidr_of(s), t.up_bytes, t.up_packets, t.down_bytes, t.down_packets};
	}
	sort_rules(out, [](const RuleCounters &r) -> const Cidr & { return r.cidr; });
	return out;
}

ChangeResult RuleStore::apply(const RuleChange &change)
{
	ChangeResult result;
	tm_config cfg = maps_.read_config();
	if (cfg.pending)
		recover(), cfg = maps_.read_config();
	const uint32_t capacity = cfg.max_rules;
	const uint32_t id = cfg.committed + 1;
	SlotView table(maps_, capacity, cfg.committed, std::min(cfg.slots_used, capacity));
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
	if (to_add.empty() && to_delete.empty())
		return result;

	// Allocate next-fit from the cursor, so a freed slot is reused last. A
	// slot this very change frees stays a tombstone for readers until the
	// commit: it is taken only when nothing else is free, and then readers
	// wait for the commit (rewrite_seq odd until then).
	std::set<uint32_t> freed_here;
	for (const auto &[c, slot] : to_delete)
		freed_here.insert(slot);
	std::vector<uint32_t> new_slots, new_serials;
	bool reuses_tombstone = false, reuses_own = false;
	uint32_t cursor = cfg.next_slot % capacity;
	for (size_t round = 0; round < 2 && new_slots.size() < to_add.size(); ++round) {
		for (uint32_t steps = 0; steps < capacity && new_slots.size() < to_add.size();
		     ++steps, cursor = (cursor + 1) % capacity) {
			tm_rule_slot &s = table.at(cursor);
			const bool own = freed_here.contains(cursor);
			if (!(round == 0 ? reusable(s, cfg.committed) && !own : own))
				continue;
			reuses_tombstone |= s.family != TM_FAMILY_NONE;
			reuses_own |= own;
			if (own)
				freed_here.erase(cursor);
			s.family = TM_FAMILY_IPV4; // reserved: not reusable again in this pass
			s.deleted = 0;
			s.added = id;
			if (++cfg.next_serial == 0)
				++cfg.next_serial; // serial 0 means "no rule"
			new_slots.push_back(cursor);
			new_serials.push_back(cfg.next_serial);
		}
	}
	if (new_slots.size() < to_add.size())
		fail_runtime(fmt::format("rule table full ({}); reload with --max-rules", capacity));

	// The journal entry: from here on, a killed writer is rolled back by
	// the next one (recover()).
	cfg.pending = id;
	cfg.next_slot = cursor;
	const uint32_t used_before = cfg.slots_used;
	for (uint32_t slot : new_slots)
		cfg.slots_used = std::max(cfg.slots_used, slot + 1); // before any slot is written
	if (reuses_own)
		++cfg.rewrite_seq; // odd until the commit
	maps_.write_config(cfg);
	try {
		// Deletes: tombstones readers at the committed id still see, then
		// out of the tries (no new packet resolves to them).
		std::vector<uint32_t> del_slots;
		std::vector<tm_rule_slot> del_values;
		for (const auto &[c, slot] : to_delete) {
			tm_rule_slot v = table.at(slot);
			if (!reuses_own || freed_here.contains(slot)) {
				v.deleted = id;
				del_slots.push_back(slot);
				del_values.push_back(v);
			}
		}
		if (!del_slots.empty())
			rewrite(del_slots, del_values);
		for (const auto &[c, slot] : to_delete)
			delete_trie(maps_, c);

		// Adds: counters (with their serial), then slots, then tries, so a
		// packet that matches a new rule always finds its counters. Large
		// changes in chunks, the tries of one chunk on a second thread while
		// the next chunk's counters and slots are written.
		std::vector<tm_rule_ref> refs(to_add.size());
		for (size_t i = 0; i < to_add.size(); ++i)
			refs[i] = {new_slots[i], new_serials[i]};
		auto write_adds = [&](size_t first, size_t last) {
			const auto slots = std::span<const uint32_t>(new_slots).subspan(first, last - first);
			const auto serials =
				std::span<const uint32_t>(new_serials).subspan(first, last - first);
			auto kept = claim_counters(maps_, slots, serials, used_before);
			std::vector<tm_rule_slot> values(last - first);
			for (size_t i = first; i < last; ++i) {
				values[i - first] = slot_of(to_add[i], new_serials[i], id);
				add_to(values[i - first].carried, kept[i - first], true); // starts at 0
			}
			if (reuses_tombstone)
				rewrite(slots, values);
			else
				write_slots(maps_, slots, values);
		};
		if (to_add.size() < 2 * kPipelineChunk) {
			write_adds(0, to_add.size());
			insert_tries(maps_, to_add, refs);
		} else {
			BackgroundTries tries(maps_, to_add, refs);
			for (size_t first = 0; first < to_add.size(); first += kPipelineChunk) {
				const size_t last = std::min(to_add.size(), first + kPipelineChunk);
				write_adds(first, last);
				tries.ready_up_to(last);
			}
			tries.finish();
		}
	} catch (const Error &) {
		recover();
		throw;
	}

	// Commit: one write, after which readers see the new set.
	cfg = maps_.read_config();
	cfg.committed = id;
	cfg.pending = 0;
	if (cfg.rewrite_seq & 1)
		++cfg.rewrite_seq;
	++cfg.rules_gen; // flows re-resolve their cached rules
	maps_.write_config(cfg);
	result.added = to_add;
	for (const auto &[c, slot] : to_delete)
		result.deleted.push_back(c);
	return result;
}

bool RuleStore::recover()
{
	tm_config cfg = maps_.read_config();
	const uint32_t id = cfg.pending;
	if (!id)
		return false;
	std::vector<uint32_t> slots;
	std::vector<tm_rule_slot> values;
	std::vector<Cidr> reinsert;
	std::vector<tm_rule_ref> refs;
	for_each_slot(maps_, cfg.slots_used, [&](uint32_t slot, const tm_rule_slot &v) {
		if (v.family == TM_FAMILY_NONE)
			return;
		if (v.added == id) {
			delete_trie(maps_, cidr_of(v));
			slots.push_back(slot);
			values.push_back(tm_rule_slot{});
		} else if (v.deleted == id) {
			tm_rule_slot back = v;
			back.deleted = 0;
			slots.push_back(slot);
			values.push_back(back);
			reinsert.push_back(cidr_of(v));
			refs.push_back({slot, v.serial});
		}
	});
	// Readers never saw any of it (it was not committed): no rewrite_seq.
	write_slots(maps_, slots, values);
	insert_tries(maps_, reinsert, refs);
	cfg = maps_.read_config();
	cfg.pending = 0;
	if (cfg.rewrite_seq & 1)
		++cfg.rewrite_seq;
	++cfg.rules_gen;
	maps_.write_config(cfg);
	return true;
}

void RuleStore::reset(const std::optional<Cidr> &rule)
{
	auto snap = snapshot();
	std::vector<uint32_t> slots;
	std::vector<tm_rule_slot> values;
	for (const auto &[slot, v] : snap.slots) {
		if (rule && cidr_of(v) != *rule)
			continue;
		slots.push_back(slot);
		values.push_back(v);
	}
	if (rule && slots.empty())
		fail_runtime(fmt::format("no such rule {}", rule->str()));
	auto live = sum_counters(maps_, slots);
	for (size_t i = 0; i < slots.size(); ++i) {
		// shown = live + carried + adjust = 0
		Totals kernel = plus(live[i], values[i].carried);
		std::fill(std::begin(values[i].adjust), std::end(values[i].adjust), 0);
		add_to(values[i].adjust, kernel, true);
	}
	rewrite(slots, values);
}

void RuleStore::add_to_shown(const std::vector<SavedCounters> &saved)
{
	auto snap = snapshot();
	std::map<Cidr, size_t> where;
	for (size_t i = 0; i < snap.slots.size(); ++i)
		where.emplace(cidr_of(snap.slots[i].second), i);
	std::vector<uint32_t> slots;
	std::vector<tm_rule_slot> values;
	for (const auto &s : saved) {
		auto it = where.find(s.cidr);
		if (it == where.end())
			fail_runtime(fmt::format("no such rule {}", s.cidr.str()));
		tm_rule_slot v = snap.slots[it->second].second;
		add_to(v.adjust, s.totals);
		slots.push_back(snap.slots[it->second].first);
		values.push_back(v);
	}
	if (!slots.empty())
		rewrite(slots, values);
}

std::vector<RuleStore::SlotMove> RuleStore::copy_to(const MapSet &target) const
{
	auto snap = snapshot();
	sort_rules(snap.slots, [](const std::pair<uint32_t, tm_rule_slot> &e) { return cidr_of(e.second); });
	const uint32_t capacity = MapSet::capacity(target.rule_slots);
	if (snap.slots.size() > capacity)
		fail_usage(fmt::format("--max-rules {} is too small: {} rules are in use; delete some "
				       "first",
				       capacity, snap.slots.size()));
	std::vector<uint32_t> from, to, serials;
	for (uint32_t i = 0; i < snap.slots.size(); ++i) {
		from.push_back(snap.slots[i].first);
		to.push_back(i);
		serials.push_back(snap.slots[i].second.serial);
	}
	claim_counters(target, to, serials, 0); // empty maps: nothing to keep
	std::vector<tm_rule_slot> values;
	std::vector<Cidr> rules;
	std::vector<tm_rule_ref> refs;
	std::vector<SlotMove> moves;
	for (uint32_t i = 0; i < snap.slots.size(); ++i) {
		tm_rule_slot v = snap.slots[i].second;
		v.added = snap.committed;
		v.deleted = 0;
		values.push_back(v);
		rules.push_back(cidr_of(v));
		refs.push_back({i, v.serial});
		moves.push_back({from[i], i});
	}
	write_slots(target, to, values);
	insert_tries(target, rules, refs);
	return moves;
}

void RuleStore::carry_counters_to(const MapSet &target) const
{
	auto mine = snapshot();
	auto theirs = RuleStore(target).snapshot();
	std::map<std::pair<Cidr, uint32_t>, size_t> index;
	std::vector<uint32_t> from;
	for (size_t i = 0; i < mine.slots.size(); ++i) {
		index.emplace(std::pair{cidr_of(mine.slots[i].second), mine.slots[i].second.serial}, i);
		from.push_back(mine.slots[i].first);
	}
	auto live = sum_counters(maps_, from);
	std::vector<uint32_t> to;
	std::vector<tm_rule_slot> values;
	for (const auto &[slot, v] : theirs.slots) {
		auto it = index.find({cidr_of(v), v.serial});
		if (it == index.end())
			continue;
		tm_rule_slot updated = v;
		std::copy(std::begin(mine.slots[it->second].second.carried),
			  std::end(mine.slots[it->second].second.carried), std::begin(updated.carried));
		add_to(updated.carried, live[it->second]);
		to.push_back(slot);
		values.push_back(updated);
	}
	write_slots(target, to, values);
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

#include "state/resize.h"

#include <bpf/bpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "bpf/flow_table.h"
#include "bpf/map_io.h"
#include "rules/rule_store.h"
#include "state/attach.h"
#include "state/ifaces.h"
#include "util/error.h"

namespace tmeter {
namespace {

bool is_rule_map(std::string_view name)
{
	return name == "tm_rules_v4" || name == "tm_rules_v6" || name == "tm_rule_slots" ||
	       name == "tm_counters";
}

bool is_fixed(std::string_view name)
{
	for (const auto &e : MapSet::kFixed)
		if (e.name == name)
			return true;
	return false;
}

void remove_gen(const std::filesystem::path &pin_dir, uint32_t gen)
{
	const auto dir = MapSet::sized_dir(pin_dir, gen);
	for (const auto &e : MapSet::kSized)
		unlink((dir / e.name).c_str());
	for (const auto name : MapSet::kAbi2Flows)
		unlink((dir / name).c_str());
	rmdir(dir.c_str());
}

// ABI 3's flow table: buckets with their entries inline, what an upgrade
// from it reads.
struct tm_flow_bucket_v3 {
	bpf_spin_lock lock;
	__u32 seq;
	__u32 tag[TM_FLOW_SLOTS];
	__u8 recent[TM_FLOW_SLOTS];
	__u8 pad[26];
	tm_flow_entry slot[TM_FLOW_SLOTS];
};
static_assert(sizeof(tm_flow_bucket_v3) == 448);

// A flow carried into a new table keeps its originator and re-resolves its
// rules (rules_gen 0 never matches). A flow whose group is already full in
// the new table is dropped: its next packet starts it again.
void carry_flow(FlowTableImage &to, tm_flow_entry e, bool two_way)
{
	e.value.rules_gen = 0;
	place_flow(to, e, two_way);
}

// The flows of one table placed in a new one of another size, where the
// data plane will look for them (tm_flow_hash), two-way flows in two-way
// ways. The new table is not attached yet: plain writes.
void copy_flows(const MapSet &from, const MapSet &to)
{
	if (MapSet::id(from.flow_table) == MapSet::id(to.flow_table))
		return;
	FlowTableImage fresh(MapSet::capacity(to.flow_table));
	// The old table is live; a bucket written to on every attempt to read
	// it (not seen in practice) is left out, and its flows start again.
	for_each_flow(from, [&](const tm_flow_entry &e, bool two_way) { carry_flow(fresh, e, two_way); });
	write_flow_table(to, fresh);
}

// ABI 3's flows (buckets with inline entries), placed like copy_flows does.
// The old program still writes, always under the bucket's lock: each bucket
// is copied under that lock (BPF_F_LOCK), so none is read half-written.
void copy_abi3_flows(const Fd &from, const MapSet &to)
{
	FlowTableImage fresh(MapSet::capacity(to.flow_table));
	read_array_chunks(
		from, sizeof(tm_flow_bucket_v3), kWholeArray,
		[&](uint32_t, const uint8_t *values, uint32_t count) {
			const auto *old = reinterpret_cast<const tm_flow_bucket_v3 *>(values);
			for (uint32_t i = 0; i < count; ++i)
				for (int j = 0; j < TM_FLOW_SLOTS; ++j)
					if (old[i].tag[j])
						carry_flow(fresh, old[i].slot[j], j < TM_FLOW_WAYS);
		},
		BPF_F_LOCK);
	write_flow_table(to, fresh);
}

// ABI 2's flows (maps<gen>/tm_flows: two-way, tm_flows_new: one-way),
// placed like copy_flows does: a flow keeps its direction across the
// upgrade. Read in batches (kernel 5.6+): a router has hundreds of
// thousands, and the old program still adds and evicts some meanwhile.
void copy_abi2_flows(const std::filesystem::path &pin_dir, uint32_t gen, const MapSet &to)
{
	FlowTableImage fresh(MapSet::capacity(to.flow_table));
	constexpr uint32_t kChunk = 4096;
	std::vector<tm_flow_key> keys(kChunk);
	std::vector<tm_flow_value> values(kChunk);
	for (const auto name : MapSet::kAbi2Flows) {
		const auto path = MapSet::sized_dir(pin_dir, gen) / name;
		Fd map(bpf_obj_get(path.c_str()));
		if (!map)
			fail_errno(fmt::format("cannot open {} of the ABI 2 state", path.string()), errno);
		const bool two_way = name == MapSet::kAbi2Flows[0];
		tm_flow_key batch{};
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		for (bool first = true;; first = false) {
			uint32_t count = kChunk;
			const int err = bpf_map_lookup_batch(map.get(), first ? nullptr : &batch, &batch,
							     keys.data(), values.data(), &count, &opts);
			if (err && errno != ENOENT)
				fail_errno(fmt::format("cannot read {}", path.string()), errno);
			for (uint32_t i = 0; i < count; ++i)
				carry_flow(fresh, tm_flow_entry{keys[i], values[i]}, two_way);
			if (err)
				break; // ENOENT: the last batch
		}
	}
	write_flow_table(to, fresh);
}

// Everything after the interfaces moved, also when recovering: idempotent.
void finish(State &state, const MapSet &fresh, uint32_t gen)
{
	const MapSet &old = state.maps();
	if (MapSet::id(old.rule_slots) != MapSet::id(fresh.rule_slots))
		RuleStore(old).carry_counters_to(fresh);

	// Again: a recovered resize may commit after roles changed (a reader's
	// upper-device refresh writes the old set's tm_roles).
	sync_roles(fresh);

	tm_config cfg = old.read_config();
	const uint32_t previous = cfg.maps_gen;
	cfg.maps_gen = gen;
	cfg.resize_gen = 0;
	cfg.max_rules = MapSet::capacity(fresh.rule_slots);
	cfg.max_flows = flow_capacity(MapSet::capacity(fresh.flow_table));
	cfg.abi_version = TM_ABI_VERSION; // an upgrade from ABI 2 to 5 commits here too
	if (MapSet::id(old.rule_slots) != MapSet::id(fresh.rule_slots)) {
		// copy_to put the rules in slots 0..n-1.
		const auto n = uint32_t(RuleStore(fresh).rules().size());
		cfg.next_slot = n % cfg.max_rules;
		cfg.slots_used = n;
	}
	++cfg.rules_gen; // cached slots are old-table slots: re-resolve
	old.write_config(cfg); // the commit
	remove_gen(state.pin_dir(), previous);
	state.reopen();
}

BpfObject load_object(const ObjectOptions &opts, const Capacities &caps)
{
	BpfObject obj = BpfObject::open(opts.file);
	obj.set_capacities(caps);
	return obj;
}

} // namespace

BpfObject resize_state(State &state, const Capacities &target, const ObjectOptions &opts)
{
	tm_config cfg = state.config();
	// An upgrade is a resize to the same capacities. From ABI 2 or 3 the
	// new flow table has another layout: the flows are carried over. Before
	// ABI 6 tm_counters was a per-CPU array: the rule maps are new too, and
	// the rules' counts are carried (finish). ABI 4 has no tm_roles, which
	// every resize builds.
	const bool upgrade = cfg.abi_version != TM_ABI_VERSION;
	const CapacityChange change = capacity_change(cfg, target);
	const bool rules = change.rules || (upgrade && cfg.abi_version < MapSet::kCpuMajorCountersAbi),
		   flows = change.flows || (upgrade && cfg.abi_version < MapSet::kPooledFlowsAbi);
	const uint32_t gen = cfg.maps_gen + 1;
	if (rules) {
		const size_t in_use = RuleStore(state.maps()).rules().size();
		if (in_use > target.rules)
			fail_usage(fmt::format("--max-rules {} is too small: {} rules are in use; delete "
					       "some first",
					       target.rules, in_use));
	}

	// The journal entry: a kill from here on is undone or completed.
	remove_gen(state.pin_dir(), gen); // a leftover of an undone earlier attempt
	cfg.resize_gen = gen;
	state.maps().write_config(cfg);
	const auto dir = MapSet::sized_dir(state.pin_dir(), gen);
	if (mkdir(dir.c_str(), 0700) && errno != EEXIST)
		fail_errno(fmt::format("cannot create {}", dir.string()), errno);

	BpfObject obj = load_object(opts, target);
	obj.reuse_if(state.maps(), [&](std::string_view name) {
		return is_fixed(name) || (!rules && is_rule_map(name)) ||
		       (!flows && MapSet::is_flow_map(name));
	});
	obj.load(opts.verbose);
	MapSet fresh = obj.maps();
	for (const auto &e : MapSet::kSized)
		if (bpf_obj_pin((fresh.*(e.member)).get(), (dir / e.name).c_str()))
			fail_errno(fmt::format("cannot pin {}", (dir / e.name).string()), errno);
	sync_roles(fresh); // before a program that reads it is attached
	if (rules)
		RuleStore(state.maps()).copy_to(fresh);
	if (cfg.abi_version == 2)
		copy_abi2_flows(state.pin_dir(), cfg.maps_gen, fresh);
	else if (cfg.abi_version == 3)
		copy_abi3_flows(state.maps().flow_table, fresh);
	else
		copy_flows(state.maps(), fresh);

	try {
		reattach_all(state, obj, gen);
		finish(state, fresh, gen);
	} catch (const Error &) {
		// Undone if nothing moved yet, completed otherwise; the error stands.
		try {
			recover_resize(state, opts, true);
		} catch (const Error &) {
		}
		throw;
	}
	return obj;
}

std::optional<BpfObject> upgrade_older_abi(State &state, const ObjectOptions &opts)
{
	recover_resize(state, opts, true); // an upgrade killed part way: undone or completed
	const tm_config cfg = state.config();
	if (cfg.abi_version == TM_ABI_VERSION)
		return std::nullopt;
	return resize_state(state, {cfg.max_rules, cfg.max_flows}, opts);
}

void recover_resize(State &state, const ObjectOptions &opts, bool can_attach)
{
	const tm_config cfg = state.config();
	const uint32_t gen = cfg.resize_gen;
	if (!gen)
		return;
	bool moved = false;
	for (const auto &[ifindex, rec] : attached_ifaces(state.maps()))
		moved |= rec.maps_gen == gen;
	if (!moved) {
		remove_gen(state.pin_dir(), gen);
		tm_config undone = cfg;
		undone.resize_gen = 0;
		state.maps().write_config(undone);
		return;
	}
	if (!can_attach)
		fail_runtime(fmt::format("a resize of the state at {} was interrupted after some "
					 "interfaces moved; run `traffic_meter load --dev IF` (it "
					 "finishes the resize) before changing rules",
					 state.pin_dir().string()));
	MapSet fresh = MapSet::open_pinned(state.pin_dir(), gen);
	BpfObject obj = BpfObject::open(opts.file);
	obj.reuse_if(fresh, [](std::string_view) { return true; });
	obj.load(opts.verbose);
	reattach_all(state, obj, gen);
	finish(state, fresh, gen);
}

} // namespace tmeter

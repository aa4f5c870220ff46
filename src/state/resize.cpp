#include "state/resize.h"

#include <bpf/bpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

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

bool is_flow_map(std::string_view name) { return name == "tm_flows" || name == "tm_flows_new"; }

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
	rmdir(dir.c_str());
}

// Copies flows the new table does not have yet; they keep their originator
// and re-resolve their rules (rules_gen 0 never matches).
void copy_flows(const Fd &from, const Fd &to)
{
	if (MapSet::id(from) == MapSet::id(to))
		return;
	tm_flow_key key{}, next{};
	tm_flow_key *prev = nullptr;
	tm_flow_value value{};
	while (bpf_map_get_next_key(from.get(), prev, &next) == 0) {
		if (bpf_map_lookup_elem(from.get(), &next, &value) == 0) {
			value.rules_gen = 0;
			bpf_map_update_elem(to.get(), &next, &value, BPF_NOEXIST);
		}
		key = next;
		prev = &key;
	}
}

// Everything after the interfaces moved, also when recovering: idempotent.
void finish(State &state, const MapSet &fresh, uint32_t gen)
{
	const MapSet &old = state.maps();
	if (MapSet::id(old.rule_slots) != MapSet::id(fresh.rule_slots))
		RuleStore(old).carry_counters_to(fresh);
	copy_flows(old.flows, fresh.flows);
	copy_flows(old.flows_new, fresh.flows_new);

	tm_config cfg = old.read_config();
	const uint32_t previous = cfg.maps_gen;
	cfg.maps_gen = gen;
	cfg.resize_gen = 0;
	cfg.max_rules = MapSet::capacity(fresh.rule_slots);
	cfg.max_flows = MapSet::capacity(fresh.flows);
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
	const bool rules = target.rules != cfg.max_rules, flows = target.flows != cfg.max_flows;
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
		return is_fixed(name) || (!rules && is_rule_map(name)) || (!flows && is_flow_map(name));
	});
	obj.load(opts.verbose);
	MapSet fresh = obj.maps();
	for (const auto &e : MapSet::kSized)
		if (bpf_obj_pin((fresh.*(e.member)).get(), (dir / e.name).c_str()))
			fail_errno(fmt::format("cannot pin {}", (dir / e.name).string()), errno);
	if (rules)
		RuleStore(state.maps()).copy_to(fresh);
	copy_flows(state.maps().flows, fresh.flows);

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

// apply: make the live state equal a configuration file (SPEC §2):
// capacities, then the rule set (as import --replace), then the interfaces.
// Each step is atomic on its own; a second run finds nothing to do.
#include <net/if.h>

#include <algorithm>

#include <fmt/format.h>

#include "commands/commands.h"
#include "config/meter_config.h"
#include "net/device.h"
#include "rules/rule_store.h"
#include "state/attach.h"
#include "state/capacity.h"
#include "state/ifaces.h"
#include "state/provision.h"
#include "util/error.h"
#include "util/read_file.h"

namespace tmeter {
namespace {

struct Plan {
	bool create = false;
	std::optional<Capacities> resize;
	RuleChange rules;
	std::vector<LinkInfo> attach;
	std::vector<std::pair<int, std::string>> detach;
	std::vector<std::string> absent; // listed, not here (yet)

	bool empty() const
	{
		return !create && !resize && rules.add.empty() && rules.del.empty() && attach.empty() &&
		       detach.empty();
	}
};

std::vector<Cidr> cidrs_of(const std::vector<RuleEntry> &entries)
{
	std::vector<Cidr> out;
	for (const auto &e : entries)
		out.push_back(e.cidr);
	return out;
}

// What the state (nullptr: none yet) lacks to match the configuration.
Plan plan_for(const MeterConfig &cfg, const std::vector<LinkInfo> &links, const State *state)
{
	Plan plan;
	auto link_named = [&](const std::string &n) -> const LinkInfo * {
		for (const auto &l : links)
			if (l.name == n)
				return &l;
		return nullptr;
	};
	std::vector<LinkInfo> listed;
	for (const auto &name : cfg.interfaces) {
		if (const LinkInfo *l = link_named(name)) {
			link_kind_of(*l); // a device traffic_meter cannot parse: refused now
			listed.push_back(*l);
		} else {
			plan.absent.push_back(name);
		}
	}
	for (const auto &l : listed) {
		std::vector<int> others;
		for (const auto &o : listed)
			if (o.ifindex != l.ifindex)
				others.push_back(o.ifindex);
		auto stacked = stacked_with(l, others);
		if (!stacked.empty())
			fail_usage(fmt::format("{} and {} are both in the configuration, but one is stacked "
					       "on the other: the same packet would be counted on both; "
					       "list only one",
					       l.name, stacked.front().name));
	}
	if (!state) {
		plan.create = true;
		plan.rules.add = cfg.rules;
		std::sort(plan.rules.add.begin(), plan.rules.add.end());
		plan.rules.add.erase(std::unique(plan.rules.add.begin(), plan.rules.add.end()),
				     plan.rules.add.end());
		plan.attach = listed;
		return plan;
	}
	const tm_config c = state->config();
	Capacities want{cfg.max_rules.value_or(c.max_rules), cfg.max_flows.value_or(c.max_flows)};
	if (capacity_change(c, want).any())
		plan.resize = want;
	plan.rules = diff_rule_sets(cidrs_of(RuleStore(state->maps()).rules()), cfg.rules);
	auto attached = attached_ifaces(state->maps());
	for (const auto &l : listed) {
		auto it = attached.find(l.ifindex);
		if (it != attached.end()) {
			auto hooks = query_hooks(l.ifindex, hook_record_of(it->second), state->links_dir());
			if (hooks.ingress && (hooks.egress || it->second.link_kind == TM_LINK_LOOPBACK))
				continue;
		}
		plan.attach.push_back(l);
	}
	for (const auto &[ifindex, rec] : attached) {
		char name[IF_NAMESIZE] = {};
		const bool here = if_indextoname(unsigned(ifindex), name);
		const std::string n = here ? name : rec.name;
		if (std::find(cfg.interfaces.begin(), cfg.interfaces.end(), n) == cfg.interfaces.end() ||
		    !here)
			plan.detach.emplace_back(ifindex, here ? n : "");
	}
	return plan;
}

void print_plan(const Plan &plan, const MeterConfig &cfg, bool dry)
{
	auto say = [dry](const char *would, const char *did) { return dry ? would : did; };
	if (plan.create)
		fmt::print("{} the state ({} rules, {} flows)\n", say("would create", "created"),
			   cfg.max_rules.value_or(TM_DEFAULT_MAX_RULES),
			   cfg.max_flows.value_or(TM_DEFAULT_MAX_FLOWS));
	if (plan.resize)
		fmt::print("{} to {} rules, {} flows\n", say("would resize", "resized"), plan.resize->rules,
			   plan.resize->flows);
	if (!plan.rules.add.empty() || !plan.rules.del.empty())
		fmt::print("{} {} rules, {} {}\n", say("would add", "added"), plan.rules.add.size(),
			   say("would delete", "deleted"), plan.rules.del.size());
	for (const auto &[ifindex, name] : plan.detach)
		fmt::print("{} {}\n", say("would detach from", "detached from"),
			   name.empty() ? fmt::format("ifindex {} (gone)", ifindex) : name);
	for (const auto &l : plan.attach)
		fmt::print("{} {}\n", say("would attach to", "attached to"), l.name);
	for (const auto &n : plan.absent)
		fmt::print("{} is not here (yet): `serve --config` attaches it when it appears\n", n);
}

} // namespace

int cmd_apply(const Context &ctx, const ApplyArgs &args)
{
	const std::filesystem::path file = args.config.value_or(kDefaultConfigPath);
	const MeterConfig cfg = parse_meter_config(read_input_file(file), file.string());
	const auto links = list_links();
	const ObjectOptions opts{std::nullopt, ctx.verbose};
	StateLock lock(ctx.pin_dir);
	refuse_throwaway_mount(ctx.pin_dir);

	if (args.dry_run) {
		std::optional<State> state;
		if (probe_state(ctx.pin_dir).kind != StateKind::kNone)
			state.emplace(State::open(ctx.pin_dir, Access::kRead));
		Plan plan = plan_for(cfg, links, state ? &*state : nullptr);
		if (plan.empty())
			fmt::print("no changes: the live state matches {}\n", file.string());
		print_plan(plan, cfg, true);
		return kExitOk;
	}

	Plan plan = plan_for(cfg, links, probe_state(ctx.pin_dir).kind == StateKind::kCurrent
						? &static_cast<const State &>(State::open(ctx.pin_dir, Access::kRead))
						: nullptr);
	if (plan.resize)
		check_capacities_fit(*plan.resize);
	Capacities fresh{cfg.max_rules.value_or(TM_DEFAULT_MAX_RULES),
			 cfg.max_flows.value_or(TM_DEFAULT_MAX_FLOWS)};
	Provisioned p = provision_state(ctx.pin_dir, fresh, opts, std::move(lock));
	State &state = p.state;
	if (!p.created)
		plan = plan_for(cfg, links, &state); // as it is under the lock
	if (plan.empty()) {
		fmt::print("no changes: the live state matches {}\n", file.string());
		print_plan(plan, cfg, false);
		return kExitOk;
	}
	if (plan.resize)
		p.obj.emplace(resize_state(state, *plan.resize, opts));
	if (!plan.rules.add.empty() || !plan.rules.del.empty())
		RuleStore(state.maps()).apply(plan.rules);
	for (const auto &[ifindex, name] : plan.detach)
		detach_interface(state, ifindex, name);
	if (!plan.attach.empty()) {
		if (!p.obj)
			p.obj.emplace(load_object_on(state, opts));
		for (const auto &l : plan.attach)
			attach_interface(state, *p.obj, l, AttachMode::kAuto, state.config().maps_gen);
	}
	state.refresh_bookkeeping();
	print_plan(plan, cfg, false);
	return kExitOk;
}

} // namespace tmeter

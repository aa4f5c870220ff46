// load, unload, purge: putting the data plane on interfaces, taking it off,
// and removing the state.
#include <net/if.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bpf/bpf_object.h"
#include "commands/commands.h"
#include "net/device.h"
#include "state/attach.h"
#include "state/capacity.h"
#include "state/ifaces.h"
#include "state/migrate_v1.h"
#include "state/provision.h"
#include "state/resize.h"
#include "state/state.h"
#include "util/error.h"

namespace tmeter {
namespace {

std::vector<int> attached_indexes(const State &state)
{
	std::vector<int> out;
	for (const auto &[ifindex, rec] : attached_ifaces(state.maps()))
		out.push_back(ifindex);
	return out;
}

void refuse_stacked(const State &state, const LinkInfo &link)
{
	auto stacked = stacked_with(link, attached_indexes(state));
	if (!stacked.empty())
		fail_runtime(fmt::format("{} is stacked on or under {}, which is attached: the same "
					 "packet would be counted on both; attach only one, or pass "
					 "--force",
					 link.name, stacked.front().name));
}

std::string if_name(int ifindex)
{
	char name[IF_NAMESIZE] = {};
	return if_indextoname(unsigned(ifindex), name) ? name : "";
}

} // namespace

int cmd_load(const Context &ctx, const LoadArgs &args)
{
	LinkInfo link = find_link(args.dev);
	const uint32_t kind = link_kind_of(link); // an unparseable device changes nothing
	const ObjectOptions opts{args.object, ctx.verbose};
	Capacities fresh{args.max_rules.value_or(TM_DEFAULT_MAX_RULES),
			 args.max_flows.value_or(TM_DEFAULT_MAX_FLOWS)};
	Provisioned p = provision_state(ctx.pin_dir, fresh, opts, StateLock(ctx.pin_dir));
	if (p.migrated_from)
		fmt::print("migrated the state at {} from ABI {}: rules and counters kept\n",
			   ctx.pin_dir.string(), p.migrated_from);
	State &state = p.state;
	try {
		if (!p.created) {
			if (!args.force)
				refuse_stacked(state, link);
			tm_config cfg = state.config();
			Capacities want{args.max_rules.value_or(cfg.max_rules),
					args.max_flows.value_or(cfg.max_flows)};
			if (capacity_change(cfg, want).any()) {
				check_capacities_fit(want);
				p.obj.emplace(resize_state(state, want, opts));
				cfg = state.config();
				fmt::print("resized: {} rules, {} flows\n", cfg.max_rules, cfg.max_flows);
			}
		}
		if (!p.obj)
			p.obj.emplace(load_object_on(state, opts));
		attach_interface(state, *p.obj, link, args.mode, state.config().maps_gen);
	} catch (const Error &) {
		if (p.created)
			state.purge(true);
		throw;
	}
	state.refresh_bookkeeping();
	auto rec = read_ifaces(state.maps().ifaces).at(link.ifindex);
	fmt::print("attached to {} ({}, link layer {}, {}), program id {}\n", link.name,
		   kind == TM_LINK_LOOPBACK ? "ingress" : "ingress and egress", link_kind_name(kind),
		   attach_mode_name(rec.attach_mode), rec.prog_id[0]);
	return kExitOk;
}

int cmd_unload(const Context &ctx, const UnloadArgs &args)
{
	if (args.all == !args.dev.empty())
		fail_usage("unload needs exactly one of --dev IF or --all");
	State state = State::open(ctx.pin_dir, Access::kWrite);
	recover_resize(state, {}, true);
	auto attached = attached_ifaces(state.maps());

	std::vector<std::pair<int, std::string>> targets;
	if (args.all) {
		for (const auto &[ifindex, rec] : attached)
			targets.emplace_back(ifindex, if_name(ifindex));
	} else if (auto link = lookup_link(args.dev)) {
		if (!attached.contains(link->ifindex))
			fail_runtime(fmt::format("traffic_meter is not attached to {}", args.dev));
		targets.emplace_back(link->ifindex, link->name);
	} else {
		// The interface is gone, and its hooks with it; only our records
		// of vanished interfaces are left (an index does not say which name
		// it had now), so forget those.
		std::vector<std::string> forgotten;
		for (const auto &[ifindex, rec] : attached) {
			if (if_name(ifindex).empty()) {
				forget_iface(state.maps(), ifindex);
				forgotten.push_back(fmt::format("{} (ifindex {})", rec.name, ifindex));
			}
		}
		if (forgotten.empty())
			fail_runtime(fmt::format("no such interface '{}' in this network namespace",
						 args.dev));
		fmt::print("{} no longer exists; forgot the vanished interface{} {}\n", args.dev,
			   forgotten.size() > 1 ? "s" : "", fmt::join(forgotten, ", "));
		state.refresh_bookkeeping();
		return kExitOk;
	}
	if (targets.empty())
		fmt::print("traffic_meter is attached nowhere; nothing to detach\n");
	for (const auto &[ifindex, name] : targets) {
		detach_interface(state, ifindex, name);
		fmt::print("detached from {}\n", name.empty() ? fmt::format("ifindex {}", ifindex) : name);
	}
	state.refresh_bookkeeping();
	return kExitOk;
}

int cmd_purge(const Context &ctx, bool force)
{
	refuse_throwaway_mount(ctx.pin_dir);
	std::error_code ec;
	if (!std::filesystem::is_directory(ctx.pin_dir, ec)) {
		fmt::print("nothing to purge at {}: no traffic_meter state there\n",
			   ctx.pin_dir.string());
		return kExitOk;
	}
	StateLock lock(ctx.pin_dir);
	const StateProbe probe = probe_state(ctx.pin_dir);
	switch (probe.kind) {
	case StateKind::kNone:
		fmt::print("nothing to purge at {}: no traffic_meter state there\n",
			   ctx.pin_dir.string());
		return kExitOk;
	case StateKind::kV1:
		purge_v1(ctx.pin_dir);
		break;
	case StateKind::kOlder:
	case StateKind::kCurrent: {
		State state = probe.kind == StateKind::kOlder
				      ? State::open_older(ctx.pin_dir, probe.abi, std::move(lock), force)
				      : State::open(ctx.pin_dir, Access::kWrite, std::move(lock), force);
		// --force: the state of a namespace that is gone; its interfaces
		// and their hooks went with it.
		const bool here = !force || [&] {
			try {
				check_netns(ctx.pin_dir, state.config());
				return true;
			} catch (const Error &) {
				return false;
			}
		}();
		state.purge(here);
		break;
	}
	}
	fmt::print("purged {}\n", ctx.pin_dir.string());
	return kExitOk;
}

} // namespace tmeter

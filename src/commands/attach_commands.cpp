// load, unload, purge: putting the data plane on interfaces and taking it off.
#include <bpf/bpf.h>
#include <net/if.h>

#include <cerrno>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "bpf/bpf_object.h"
#include "bpf/map_resize.h"
#include "bpf/map_set.h"
#include "commands/commands.h"
#include "net/device.h"
#include "net/tc_filter.h"
#include "state/attached.h"
#include "state/pin_dir.h"
#include "util/error.h"

namespace tmeter {
namespace {

std::vector<int> attached_indexes(const MapSet &maps)
{
	std::vector<int> out;
	for (const auto &[ifindex, info] : read_attached(maps.attached))
		out.push_back(ifindex);
	return out;
}

// The entry points fit for the device: no link-layer header or Ethernet;
// loopback at ingress only (its egress comes straight back in).
void attach_device(const BpfObject &obj, int ifindex, const char *name, uint32_t kind)
{
	const bool l3 = kind == TM_LINK_NONE;
	attach_filters(ifindex, name, obj.prog_fd(false, l3),
		       kind == TM_LINK_LOOPBACK ? -1 : obj.prog_fd(true, l3));
}

} // namespace

int cmd_load(const Context &ctx, const LoadArgs &args)
{
	LinkInfo link = find_link(args.dev);
	uint32_t kind = link_kind_of(link);
	prepare_pin_dir(ctx.pin_dir, PinDirMode::kCreate);
	PinLock lock(ctx.pin_dir);

	if (!args.force && MapSet::exists(ctx.pin_dir)) {
		auto maps = MapSet::open_pinned(ctx.pin_dir);
		auto stacked = stacked_with(link, attached_indexes(maps));
		if (!stacked.empty())
			fail_runtime(fmt::format("{} is stacked on or under {}, which is attached: the same "
						 "packet would be counted on both; attach only one, or pass "
						 "--force",
						 link.name, stacked.front().name));
	}

	LoadSettings settings{ctx.pin_dir, args.object, args.max_rules, args.max_flows, ctx.verbose};
	BpfObject obj = BpfObject::load(settings);
	std::optional<MapSet> resized;
	std::vector<RuleStore::SlotMove> moves;
	if (obj.resizing()) {
		// New capacities: every attached interface moves to the new maps.
		resized = obj.loaded_maps();
		moves = copy_rules_for_resize(obj.pinned_maps(), *resized);
		for (const auto &[ifindex, info] : read_attached(resized->attached)) {
			char name[IF_NAMESIZE] = {};
			if (ifindex != link.ifindex && if_indextoname(ifindex, name))
				attach_device(obj, ifindex, name, info.link_kind);
		}
	}
	try {
		auto maps = resized ? obj.loaded_maps() : MapSet::open_pinned(ctx.pin_dir);
		// Recorded first: an egress hook elsewhere must not count again what
		// this ingress is about to count.
		mark_attached(maps, link.ifindex, kind);
		try {
			attach_device(obj, link.ifindex, link.name.c_str(), kind);
		} catch (const Error &) {
			if (!attached_prog_id(link.ifindex, TcHook::kIngress))
				mark_detached(maps, link.ifindex);
			throw;
		}
	} catch (const Error &) {
		if (obj.created_state())
			obj.discard_state(ctx.pin_dir);
		throw;
	}
	if (resized) {
		finish_resize(obj.pinned_maps(), *resized, moves, ctx.pin_dir);
		auto cfg = resized->read_config();
		fmt::print("resized: {} rules, {} flows\n", cfg.max_rules, cfg.max_flows);
	}
	auto prog_id = attached_prog_id(link.ifindex, TcHook::kIngress);
	fmt::print("attached to {} ({}, link layer {}), program id {}\n", link.name,
		   kind == TM_LINK_LOOPBACK ? "ingress" : "ingress and egress", link_kind_name(kind),
		   prog_id.value_or(0));
	return kExitOk;
}

int cmd_unload(const Context &ctx, const UnloadArgs &args)
{
	if (args.all == !args.dev.empty())
		fail_usage("unload needs exactly one of --dev IF or --all");
	prepare_pin_dir(ctx.pin_dir, PinDirMode::kMustExist);
	PinLock lock(ctx.pin_dir);
	auto maps = MapSet::open_pinned(ctx.pin_dir);
	auto attached = read_attached(maps.attached);

	std::vector<std::pair<int, std::string>> targets;
	if (args.all) {
		for (const auto &[ifindex, info] : attached) {
			char name[IF_NAMESIZE] = {};
			targets.emplace_back(ifindex, if_indextoname(ifindex, name) ? name : "");
		}
	} else if (auto link = lookup_link(args.dev)) {
		if (!attached.contains(link->ifindex) && !attached_prog_id(link->ifindex, TcHook::kIngress))
			fail_runtime(fmt::format("traffic_meter is not attached to {}", args.dev));
		targets.emplace_back(link->ifindex, link->name);
	} else {
		// The interface is gone, and its filters with it; only our records
		// of vanished interfaces are left (an index does not say which name
		// it had), so forget those.
		std::vector<std::string> forgotten;
		for (const auto &[ifindex, info] : attached) {
			char name[IF_NAMESIZE] = {};
			if (!if_indextoname(ifindex, name)) {
				mark_detached(maps, ifindex);
				forgotten.push_back(fmt::format("ifindex {}", ifindex));
			}
		}
		if (forgotten.empty())
			fail_runtime(fmt::format("no such interface '{}' in this network namespace",
						 args.dev));
		fmt::print("{} no longer exists; forgot the vanished interface{} {}\n", args.dev,
			   forgotten.size() > 1 ? "s" : "", fmt::join(forgotten, ", "));
		return kExitOk;
	}
	if (targets.empty())
		fmt::print("traffic_meter is attached nowhere; nothing to detach\n");
	for (const auto &[ifindex, name] : targets) {
		// The interface may be gone; then only our record of it remains.
		if (!name.empty())
			detach_filters(ifindex, name.c_str());
		mark_detached(maps, ifindex);
		fmt::print("detached from {}\n", name.empty() ? fmt::format("ifindex {}", ifindex) : name);
	}
	return kExitOk;
}

int cmd_purge(const Context &ctx)
{
	refuse_throwaway_mount(ctx.pin_dir);
	std::error_code ec;
	if (!std::filesystem::is_directory(ctx.pin_dir, ec)) {
		fmt::print("nothing to purge at {}\n", ctx.pin_dir.string());
		return kExitOk;
	}
	{
		PinLock lock(ctx.pin_dir);
		// Opened alone, not through MapSet: purge must work on state of any ABI.
		Fd attached(bpf_obj_get((ctx.pin_dir / "tm_attached").c_str()));
		if (attached) {
			for (const auto &[ifindex, info] : read_attached(attached)) {
				char name[IF_NAMESIZE] = {};
				if (if_indextoname(ifindex, name))
					detach_filters(ifindex, name);
			}
		}
		for (const auto &entry : MapSet::kMaps)
			std::filesystem::remove(ctx.pin_dir / entry.name, ec);
	}
	remove_pin_dir(ctx.pin_dir);
	fmt::print("purged {}\n", ctx.pin_dir.string());
	return kExitOk;
}

} // namespace tmeter

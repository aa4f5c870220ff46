// status: what is attached where, how full the tables are, and the data
// plane's own accounting.
#include <bpf/bpf.h>
#include <net/if.h>

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bpf/map_io.h"
#include "bpf/map_set.h"
#include "commands/commands.h"
#include "net/device.h"
#include "net/tc_filter.h"
#include "rules/rule_store.h"
#include "state/attached.h"
#include "state/pin_dir.h"
#include "util/error.h"

namespace tmeter {
namespace {

struct ProgramInfo {
	uint32_t id = 0;
	std::string tag;
};

ProgramInfo program_info(uint32_t id)
{
	ProgramInfo p{id, {}};
	Fd fd(bpf_prog_get_fd_by_id(id));
	if (!fd)
		return p;
	bpf_prog_info info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0)
		for (uint8_t b : info.tag)
			p.tag += fmt::format("{:02x}", b);
	return p;
}

std::string iso_time(uint64_t unix_seconds)
{
	time_t t = static_cast<time_t>(unix_seconds);
	struct tm utc {};
	gmtime_r(&t, &utc);
	char buf[32];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc);
	return buf;
}

} // namespace

int cmd_status(const Context &ctx, bool json)
{
	prepare_pin_dir(ctx.pin_dir, PinDirMode::kMustExist);
	auto maps = MapSet::open_pinned(ctx.pin_dir);
	auto cfg = maps.read_config();
	auto rules = RuleStore(maps).rules();
	auto stats = maps.read_stats();
	uint64_t flows = maps.count_flows();

	nlohmann::json ifaces = nlohmann::json::array();
	for (const auto &[ifindex, info] : read_attached(maps.attached)) {
		char name[IF_NAMESIZE] = {};
		bool present = if_indextoname(ifindex, name) != nullptr;
		auto in = attached_prog_id(ifindex, TcHook::kIngress);
		auto eg = attached_prog_id(ifindex, TcHook::kEgress);
		auto prog = program_info(in.value_or(0));
		ifaces.push_back({{"name", present ? name : ""},
				  {"present", present},
				  {"ifindex", ifindex},
				  {"link_layer", link_kind_name(info.link_kind)},
				  {"since", iso_time(info.attached_at)},
				  {"ingress", in.has_value()},
				  {"egress", eg.has_value()},
				  {"program_id", prog.id},
				  {"program_tag", prog.tag}});
	}
	nlohmann::json doc = {
		{"pin_path", ctx.pin_dir.string()},
		{"abi_version", cfg.abi_version},
		{"attach_mode", "tc clsact (netlink)"},
		{"interfaces", ifaces},
		{"rules", {{"count", rules.size()}, {"capacity", cfg.max_rules}}},
		{"flows", {{"count", flows}, {"capacity", cfg.max_flows}}},
		{"rule_set_generation", cfg.generation},
		{"dataplane",
		 {{"packets", stats.packets},
		  {"bytes", stats.bytes},
		  {"counted", stats.counted},
		  {"no_rule", stats.no_rule},
		  {"egress_skipped", stats.egress_skipped},
		  {"not_ip", stats.not_ip},
		  {"malformed", stats.malformed},
		  {"flow_insert_failed", stats.flow_insert_failed}}},
	};
	if (json) {
		fmt::print("{}\n", doc.dump(2));
		return kExitOk;
	}
	fmt::print("pin path:    {} (ABI {})\n", ctx.pin_dir.string(), cfg.abi_version);
	fmt::print("attach mode: tc clsact (netlink)\n");
	fmt::print("{}\n", ifaces.empty() ? "interfaces:  none" : "interfaces:");
	for (const auto &i : ifaces) {
		if (!i["present"].get<bool>()) {
			fmt::print("  (gone) (ifindex {}, link layer {}) since {}: the interface no "
				   "longer exists; `unload --all` forgets it\n",
				   i["ifindex"].get<int>(), i["link_layer"].get<std::string>(),
				   i["since"].get<std::string>());
			continue;
		}
		fmt::print("  {} (ifindex {}, link layer {}) since {}: ingress {}, egress {}, program "
			   "id {} tag {}\n",
			   i["name"].get<std::string>(), i["ifindex"].get<int>(),
			   i["link_layer"].get<std::string>(), i["since"].get<std::string>(),
			   i["ingress"].get<bool>() ? "yes" : "NO", i["egress"].get<bool>() ? "yes" : "NO",
			   i["program_id"].get<uint32_t>(), i["program_tag"].get<std::string>());
	}
	fmt::print("rules:       {} of {}\n", rules.size(), cfg.max_rules);
	fmt::print("flows:       {} of {}\n", flows, cfg.max_flows);
	fmt::print("data plane:  {} packets ({} bytes) seen, {} counted, {} matched no rule, {} "
		   "egress already counted at ingress, {} not IP, {} malformed, {} flow inserts "
		   "failed\n",
		   stats.packets, stats.bytes, stats.counted, stats.no_rule, stats.egress_skipped,
		   stats.not_ip, stats.malformed, stats.flow_insert_failed);
	return kExitOk;
}

} // namespace tmeter

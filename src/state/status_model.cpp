// The status model from the live state: what `status` prints and what the
// exporter's interface and table gauges come from.
#include "state/status_model.h"

#include <net/if.h>

#include <ctime>

#include "net/device.h"
#include "net/hooks.h"
#include "rules/rule_store.h"
#include "state/ifaces.h"
#include "state/netns.h"

namespace tmeter {
namespace {

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

StatusModel build_status(const State &state, std::optional<size_t> rules)
{
	StatusModel m;
	const tm_config cfg = state.config();
	m.pin_path = state.pin_dir().string();
	m.abi_version = cfg.abi_version;
	m.network_namespace = describe_netns({cfg.netns_dev, cfg.netns_ino});
	m.rules = rules ? *rules : RuleStore(state.maps()).rules().size();
	m.rules_capacity = cfg.max_rules;
	m.flows = state.maps().count_flows();
	m.flows_capacity = cfg.max_flows;
	m.rule_set_generation = cfg.rules_gen;
	m.dataplane = state.maps().read_stats();
	for (const auto &[ifindex, rec] : read_ifaces(state.maps().ifaces)) {
		char name[IF_NAMESIZE] = {};
		const bool present = if_indextoname(unsigned(ifindex), name) != nullptr;
		if (rec.role != TM_ROLE_ATTACHED) {
			if (present)
				m.upper_devices.push_back({name, rec.role == TM_ROLE_UPPER_PARTIAL});
			continue;
		}
		InterfaceStatus i;
		i.ifindex = ifindex;
		i.name = present ? name : rec.name;
		i.present = present;
		i.link_layer = link_kind_name(rec.link_kind);
		i.since = iso_time(rec.since);
		i.attach_mode = attach_mode_name(rec.attach_mode);
		i.egress_expected = rec.link_kind != TM_LINK_LOOPBACK;
		i.maps_gen = rec.maps_gen;
		if (present) {
			auto hooks = query_hooks(ifindex, hook_record_of(rec), state.links_dir());
			i.ingress = hooks.ingress;
			i.egress = hooks.egress;
		}
		i.program_id = rec.prog_id[0];
		i.program_tag = hex_tag(rec.prog_tag[0]);
		m.interfaces.push_back(i);
	}
	auto stale = stale_uppers(state.maps());
	for (const auto &n : stale.added)
		m.uppers_stale.push_back(n + " not recorded");
	for (const auto &n : stale.removed)
		m.uppers_stale.push_back(n + " no longer stacked");
	for (const auto &n : stale.changed)
		m.uppers_stale.push_back(n + " changed");
	return m;
}

} // namespace tmeter

#include "output/status_view.h"

#include <iterator>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tmeter {

std::vector<std::string> StatusModel::problems() const
{
	std::vector<std::string> out;
	for (const auto &i : interfaces) {
		if (!i.present)
			out.push_back(fmt::format("{} (ifindex {}) is gone", i.name, i.ifindex));
		else if (!i.ingress || (i.egress_expected && !i.egress))
			out.push_back(fmt::format("{}: {} hook missing", i.name,
						  !i.ingress ? "ingress" : "egress"));
	}
	return out;
}

std::string render_status_json(const StatusModel &m)
{
	nlohmann::json ifaces = nlohmann::json::array();
	for (const auto &i : m.interfaces)
		ifaces.push_back({{"name", i.name},
				  {"present", i.present},
				  {"ifindex", i.ifindex},
				  {"link_layer", i.link_layer},
				  {"since", i.since},
				  {"attach_mode", i.attach_mode},
				  {"ingress", i.ingress},
				  {"egress", i.egress || !i.egress_expected},
				  {"egress_hooked", i.egress},
				  {"program_id", i.program_id},
				  {"program_tag", i.program_tag}});
	nlohmann::json uppers = nlohmann::json::array();
	for (const auto &u : m.upper_devices)
		uppers.push_back({{"name", u.name}, {"all_lower_attached", !u.partial}});
	const tm_stats &s = m.dataplane;
	nlohmann::json doc = {
		{"pin_path", m.pin_path},
		{"abi_version", m.abi_version},
		{"network_namespace", m.network_namespace},
		{"interfaces", ifaces},
		{"upper_devices", uppers},
		{"upper_devices_current", m.uppers_stale.empty()},
		{"rules", {{"count", m.rules}, {"capacity", m.rules_capacity}}},
		{"flows", {{"count", m.flows}, {"capacity", m.flows_capacity}}},
		{"rule_set_generation", m.rule_set_generation},
		{"dataplane",
		 {{"packets", s.packets},
		  {"bytes", s.bytes},
		  {"counted", s.counted},
		  {"no_rule", s.no_rule},
		  {"egress_skipped", s.egress_skipped},
		  {"not_ip", s.not_ip},
		  {"malformed", s.malformed},
		  {"flow_insert_failed", s.flow_insert_failed},
		  {"paged", s.paged},
		  {"gso_from_size", s.gso_from_size}}},
		{"healthy", m.problems().empty()},
		{"problems", m.problems()},
	};
	return doc.dump(2) + "\n";
}

std::string render_status_text(const StatusModel &m)
{
	std::string out;
	auto line = [&](fmt::string_view f, auto &&...args) {
		fmt::vformat_to(std::back_inserter(out), f, fmt::make_format_args(args...));
		out += '\n';
	};
	line("pin path:    {} (ABI {})", m.pin_path, m.abi_version);
	line("namespace:   {}", m.network_namespace);
	line("{}", m.interfaces.empty() ? "interfaces:  none" : "interfaces:");
	for (const auto &i : m.interfaces) {
		if (!i.present) {
			line("  (gone) {} (ifindex {}, link layer {}) since {}: the interface no longer "
			     "exists; `unload --all` forgets it",
			     i.name, i.ifindex, i.link_layer, i.since);
			continue;
		}
		line("  {} (ifindex {}, link layer {}, {}) since {}: ingress {}, egress {}, program id "
		     "{} tag {}",
		     i.name, i.ifindex, i.link_layer, i.attach_mode, i.since, i.ingress ? "yes" : "NO",
		     !i.egress_expected ? "n/a (loopback)" : i.egress ? "yes" : "NO", i.program_id,
		     i.program_tag);
	}
	if (!m.upper_devices.empty()) {
		std::string names;
		for (const auto &u : m.upper_devices)
			names += fmt::format("{}{}{}", names.empty() ? "" : ", ", u.name,
					     u.partial ? " (some lower devices not attached)" : "");
		line("upper devices: {}", names);
	}
	if (!m.uppers_stale.empty())
		line("upper devices: STALE ({}); any command that changes state, or `serve`, "
		     "refreshes them",
		     fmt::join(m.uppers_stale, ", "));
	line("rules:       {} of {}", m.rules, m.rules_capacity);
	line("flows:       {} of {}", m.flows, m.flows_capacity);
	const tm_stats &s = m.dataplane;
	line("data plane:  {} packets ({} bytes) seen, {} counted, {} matched no rule, {} egress "
	     "already counted at ingress, {} not IP, {} malformed, {} flow inserts failed, {} "
	     "with headers in paged data, {} aggregates counted from gso_size",
	     s.packets, s.bytes, s.counted, s.no_rule, s.egress_skipped, s.not_ip, s.malformed,
	     s.flow_insert_failed, s.paged, s.gso_from_size);
	for (const auto &p : m.problems())
		line("PROBLEM:     {}", p);
	return out;
}

} // namespace tmeter

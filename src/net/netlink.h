// Route netlink queries the control plane needs and libbpf does not offer:
// links (type, master, lower device) and the filters on a clsact hook.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tmeter {

struct LinkInfo {
	int ifindex = 0;
	std::string name;
	uint16_t type = 0; // ARPHRD_*
	int master = 0;	   // IFLA_MASTER: bridge, bond, VRF...
	int lower = 0;	   // IFLA_LINK: the parent of a VLAN, macvlan...
	std::string kind;  // IFLA_INFO_KIND: "bridge", "vlan", "veth", ...
	bool lower_elsewhere = false; // IFLA_LINK is in another namespace
};

std::vector<LinkInfo> list_links();

struct TcFilter {
	uint32_t priority = 0;
	uint32_t handle = 0; // 0: the classifier instance itself, not a filter
	std::string kind;    // "bpf", "u32", ...
	uint32_t prog_id = 0; // bpf filters: the program it runs
	std::string prog_tag; // hex
};

// Every filter on one clsact hook (parent ffff:fff2 ingress / fff3 egress).
// Needs no privilege: what `status` uses to check our hooks.
std::vector<TcFilter> list_filters(int ifindex, bool ingress);

} // namespace tmeter

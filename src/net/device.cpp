#include "net/device.h"

#include <linux/if_arp.h>

#include <algorithm>

#include <fmt/format.h>

#include "traffic_meter_kern_user.h"
#include "util/error.h"

namespace tmeter {

std::optional<LinkInfo> lookup_link(const std::string &name)
{
	for (auto &link : list_links())
		if (link.name == name)
			return link;
	return std::nullopt;
}

LinkInfo find_link(const std::string &name)
{
	if (auto link = lookup_link(name))
		return *link;
	fail_runtime(fmt::format("no such interface '{}' in this network namespace", name));
}

uint32_t link_kind_of(const LinkInfo &link)
{
	switch (link.type) {
	case ARPHRD_ETHER:
		return TM_LINK_ETHERNET;
	case ARPHRD_LOOPBACK:
		return TM_LINK_LOOPBACK;
	case ARPHRD_NONE:   // tun, WireGuard
	case ARPHRD_PPP:    // ppp0: the PPP header is gone before TC sees the packet
	case ARPHRD_RAWIP:  // cellular modems
	case ARPHRD_TUNNEL: // ipip
	case ARPHRD_TUNNEL6:
	case ARPHRD_SIT:
		return TM_LINK_NONE;
	default:
		fail_runtime(fmt::format("interface {} has link type {}, which traffic_meter cannot "
					 "parse (supported: Ethernet, and devices without a link-layer "
					 "header such as tun, WireGuard, PPP)",
					 link.name, link.type));
	}
}

const char *link_kind_name(uint32_t kind)
{
	switch (kind) {
	case TM_LINK_NONE:
		return "none (L3)";
	case TM_LINK_LOOPBACK:
		return "loopback";
	default:
		return "ethernet";
	}
}

std::vector<LinkInfo> stacked_with(const LinkInfo &link, const std::vector<int> &attached)
{
	// Walk down (lower devices and ports) and up (masters and devices on
	// top) transitively, never sideways: two ports of one bridge are not
	// stacked, but a VLAN on a bridge is stacked on the bridge's ports.
	const auto links = list_links();
	auto by_index = [&](int ifindex) -> const LinkInfo * {
		for (const auto &l : links)
			if (l.ifindex == ifindex)
				return &l;
		return nullptr;
	};
	std::vector<LinkInfo> out;
	auto visit = [&](bool down) {
		std::vector<int> todo = {link.ifindex}, seen = {link.ifindex};
		while (!todo.empty()) {
			const LinkInfo *cur = by_index(todo.back());
			todo.pop_back();
			if (!cur)
				continue;
			for (const auto &other : links) {
				bool related = down ? (cur->lower == other.ifindex || other.master == cur->ifindex)
						    : (cur->master == other.ifindex || other.lower == cur->ifindex);
				if (!related || std::find(seen.begin(), seen.end(), other.ifindex) != seen.end())
					continue;
				seen.push_back(other.ifindex);
				todo.push_back(other.ifindex);
				if (std::find(attached.begin(), attached.end(), other.ifindex) != attached.end())
					out.push_back(other);
			}
		}
	};
	visit(true);
	visit(false);
	return out;
}

} // namespace tmeter

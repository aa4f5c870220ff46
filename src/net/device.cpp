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
	case ARPHRD_LOOPBACK:
		return TM_LINK_ETHERNET;
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
	return kind == TM_LINK_NONE ? "none (L3)" : "ethernet";
}

std::vector<LinkInfo> stacked_with(const LinkInfo &link, const std::vector<int> &attached)
{
	std::vector<LinkInfo> out;
	for (const auto &other : list_links()) {
		if (other.ifindex == link.ifindex ||
		    std::find(attached.begin(), attached.end(), other.ifindex) == attached.end())
			continue;
		bool stacked = other.master == link.ifindex || link.master == other.ifindex ||
			       other.lower == link.ifindex || link.lower == other.ifindex;
		if (stacked)
			out.push_back(other);
	}
	return out;
}

} // namespace tmeter

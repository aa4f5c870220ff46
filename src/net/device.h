// Interfaces as `load` and `unload` see them: which entry point fits the
// device, and which attached devices it is stacked on or under.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "net/netlink.h"

namespace tmeter {

// Throws a runtime Error ("no such interface") if it does not exist.
LinkInfo find_link(const std::string &name);
std::optional<LinkInfo> lookup_link(const std::string &name);

// TM_LINK_ETHERNET, TM_LINK_NONE or TM_LINK_LOOPBACK; throws a runtime Error for a link
// layer the data plane cannot parse.
uint32_t link_kind_of(const LinkInfo &link);
const char *link_kind_name(uint32_t kind);

// Attached devices that `link` is stacked on or under (bridge master and
// port, VLAN and parent): the same packet would pass both.
std::vector<LinkInfo> stacked_with(const LinkInfo &link, const std::vector<int> &attached);

} // namespace tmeter

// tm_ifaces: the interfaces this instance is attached to (kept by load and
// unload) and the upper devices stacked on them (kept current by every
// command and by `serve`): what the data plane reads to count each packet
// once per host.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "bpf/map_set.h"
#include "net/hooks.h"
#include "net/netlink.h"

namespace tmeter {

std::map<int, tm_iface> read_ifaces(const Fd &map);
// Only role TM_ROLE_ATTACHED.
std::map<int, tm_iface> attached_ifaces(const MapSet &maps);

HookRecord hook_record_of(const tm_iface &v);
// Every write of tm_ifaces goes through these, which write the role into
// tm_roles too (where maps has one: not in an older ABI's state).
void write_iface(const MapSet &maps, int ifindex, const tm_iface &v);
void record_attached(const MapSet &maps, const LinkInfo &link, uint32_t link_kind,
		     const HookRecord &hooks, uint32_t maps_gen);
void forget_iface(const MapSet &maps, int ifindex);
// Rewrites maps.roles from maps.ifaces: a new tm_roles (a resize or the
// upgrade from ABI 4) before the programs that read it are attached, and
// again when the resize commits.
void sync_roles(const MapSet &maps);

// The upper-device records the live links call for: an upper device whose
// every lower device (bridge or bond port, VLAN or macvlan parent) is
// attached or itself such an upper device gets TM_ROLE_UPPER; one with only
// some gets TM_ROLE_UPPER_PARTIAL.
std::map<int, uint32_t> wanted_uppers(const std::map<int, tm_iface> &records,
				      const std::vector<LinkInfo> &links);

struct UpperSync {
	std::vector<std::string> added, removed, changed; // interface names
	bool any() const { return !added.empty() || !removed.empty() || !changed.empty(); }
};
// Makes the records match the live links (writes only the difference).
UpperSync refresh_uppers(const MapSet &maps);
// The difference, without writing (status: is the bookkeeping current?).
UpperSync stale_uppers(const MapSet &maps);

std::string hex_tag(const uint8_t (&tag)[8]);

} // namespace tmeter

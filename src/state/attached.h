// tm_attached: the interfaces this tool is attached to, kept by load and
// unload; the data plane reads it to count each packet once per host.
#pragma once

#include <map>

#include "bpf/map_set.h"

namespace tmeter {

std::map<int, tm_attached_iface> read_attached(const Fd &attached_map);
void mark_attached(const MapSet &maps, int ifindex, uint32_t link_kind);
void mark_detached(const MapSet &maps, int ifindex);

} // namespace tmeter

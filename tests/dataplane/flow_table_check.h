// The flow table's structure, read back from its maps: the checks the
// flow-table tests share.
#pragma once

#include <cstdint>
#include <vector>

#include "bpf/map_set.h"

namespace tmeter::dptest {

// What every way of the table says, checked against the pool (EXPECT_*
// failures): a way with a flow has an entry, whose key hashes to that
// bucket and tag; no entry belongs to two ways; and every entry the
// allocator handed out is either a way's or still in a CPU's reserve (none
// leaked, none handed out twice). Returns the entries in use, in pool order.
std::vector<uint32_t> check_table(const MapSet &maps);

} // namespace tmeter::dptest

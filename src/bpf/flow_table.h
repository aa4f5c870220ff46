// The flow table as the control plane writes it: whole buckets, flows
// placed where the data plane looks for them (tm_flow_hash in the shared
// header). Only for a table no program uses yet (resize, upgrade, tests):
// a table in use changes under the data plane's bucket locks alone.
#pragma once

#include <span>

#include "traffic_meter_kern_user.h"
#include "util/fd.h"

namespace tmeter {

// Puts a flow into the first empty slot of its group (two-way or one-way
// ways) of its bucket; false if the group is full.
bool place_flow(std::span<tm_flow_bucket> table, const tm_flow_entry &e, bool two_way);

// Writes every bucket of the table.
void write_flow_table(const Fd &map, std::span<const tm_flow_bucket> table);

} // namespace tmeter

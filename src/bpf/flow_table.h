// The flow table as the control plane writes it: bucket heads and the pool
// of entries they point to, flows placed where the data plane looks for
// them (tm_flow_hash in the shared header) and packed at the pool's start.
// Written only to a table no program uses yet (resize, upgrade, tests): a
// table in use changes under the data plane's bucket locks alone.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "bpf/map_set.h"
#include "traffic_meter_kern_user.h"

namespace tmeter {

struct FlowTableImage {
	explicit FlowTableImage(uint32_t buckets) : heads(buckets), pool(1) {}

	std::vector<tm_flow_bucket> heads;
	std::vector<tm_flow_entry> pool; // pool[0] is never handed out
};

// Puts a flow into the first empty way of its group (two-way or one-way
// ways) of its bucket, with the next entry of the pool; false if the group
// is full.
bool place_flow(FlowTableImage &table, const tm_flow_entry &e, bool two_way);

// Writes the heads, the entries handed out and the allocator's count into
// the maps' flow table; the CPUs' reserves start empty.
void write_flow_table(const MapSet &maps, const FlowTableImage &table);

// Calls fn(entry, two_way) for every flow of the maps' flow table, which
// the data plane may be writing to: each bucket's flows as they were at one
// moment, none twice. Returns how many buckets were left out, written to
// on every attempt to read them. after_first_read (tests) runs between
// the bulk read and its check, where a packet could change the table.
uint64_t for_each_flow(const MapSet &maps,
		       const std::function<void(const tm_flow_entry &, bool)> &fn,
		       const std::function<void()> &after_first_read = {});

} // namespace tmeter

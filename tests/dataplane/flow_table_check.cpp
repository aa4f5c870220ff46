#include "flow_table_check.h"

#include <gtest/gtest.h>
#include <bpf/bpf.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "traffic_meter_kern_user.h"

namespace tmeter::dptest {

std::vector<uint32_t> check_table(const MapSet &maps)
{
	const uint32_t buckets = MapSet::capacity(maps.flow_table);
	uint32_t zero = 0;
	tm_flow_alloc alloc{};
	EXPECT_EQ(bpf_map_lookup_elem(maps.flow_alloc.get(), &zero, &alloc), 0);
	std::vector<uint32_t> used;
	std::set<uint32_t> owned;
	for (uint32_t i = 0; i < buckets; ++i) {
		tm_flow_bucket b{};
		EXPECT_EQ(bpf_map_lookup_elem(maps.flow_table.get(), &i, &b), 0);
		for (int j = 0; j < TM_FLOW_SLOTS; ++j) {
			if (!b.entry[j]) {
				EXPECT_EQ(b.tag[j], 0u) << "bucket " << i << " way " << j << ": a flow, no entry";
				continue;
			}
			EXPECT_LE(b.entry[j], alloc.used) << "bucket " << i << " way " << j;
			EXPECT_TRUE(owned.insert(b.entry[j]).second) << "entry " << b.entry[j] << " in two ways";
			if (!b.tag[j])
				continue;
			tm_flow_entry e{};
			EXPECT_EQ(bpf_map_lookup_elem(maps.flow_pool.get(), &b.entry[j], &e), 0);
			__u64 w[5];
			std::memcpy(w, &e.key, sizeof(w));
			const uint64_t h = tm_flow_hash(w);
			EXPECT_EQ(tm_flow_bucket_index(h, buckets), i) << "entry " << b.entry[j];
			EXPECT_EQ(tm_flow_tag(h), b.tag[j]) << "entry " << b.entry[j];
			used.push_back(b.entry[j]);
		}
	}
	std::vector<tm_flow_reserve> reserves(possible_cpus());
	EXPECT_EQ(bpf_map_lookup_elem(maps.flow_reserve.get(), &zero, reserves.data()), 0);
	uint64_t reserved = 0;
	for (const auto &r : reserves)
		reserved += r.end > r.next ? r.end - r.next : 0;
	EXPECT_EQ(owned.size() + reserved, alloc.used) << "entries owned by ways + in reserves";
	std::sort(used.begin(), used.end());
	return used;
}

} // namespace tmeter::dptest

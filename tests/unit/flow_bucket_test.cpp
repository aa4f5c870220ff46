// The flow table's bucket of a hash (the shared header): a table of 2^k
// buckets takes the hash's top k bits by a shift, which must find the
// bucket the multiply finds, or the control plane (resize, listings) would
// look for the program's flows in the wrong bucket.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "traffic_meter_kern_user.h"

namespace {

TEST(FlowBucketShift, PowersOfTwoShiftToTheMultiplysBucket)
{
	std::mt19937_64 rng(31);
	for (uint32_t k = 1; k < 32; ++k) {
		const uint32_t buckets = 1u << k;
		const uint32_t shift = tm_flow_bucket_shift(buckets);
		ASSERT_EQ(shift, 64 - k) << buckets << " buckets";
		for (uint64_t h : {uint64_t(0), ~uint64_t(0), uint64_t(1) << 63, uint64_t(0xffffffff)})
			EXPECT_EQ(uint32_t(h >> shift), tm_flow_bucket_index(h, buckets)) << buckets << ", " << h;
		for (int i = 0; i < 1000; ++i) {
			const uint64_t h = rng();
			ASSERT_EQ(uint32_t(h >> shift), tm_flow_bucket_index(h, buckets)) << buckets << ", " << h;
		}
	}
}

TEST(FlowBucketShift, OtherSizesKeepTheMultiply)
{
	for (uint32_t buckets : {0u, 1u, 3u, 6u, 30u, 100000u, 131073u, 0xffffffffu})
		EXPECT_EQ(tm_flow_bucket_shift(buckets), 0u) << buckets << " buckets";
}

} // namespace

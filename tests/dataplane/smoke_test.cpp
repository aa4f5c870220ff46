#include <gtest/gtest.h>

#include "dataplane_fixture.h"

namespace tmeter::dptest {

TEST(Smoke, UdpCounted)
{
	Dataplane dp;
	dp.add({prefix("198.18.0.0/24")});
	auto f = PacketBuilder().eth().ipv4(ip("198.18.0.1"), ip("198.19.0.1")).udp(1000, 53).payload(100).build();
	EXPECT_EQ(dp.run({.frame = f}), kTcActUnspec);
	EXPECT_EQ(dp.counters(prefix("198.18.0.0/24")), (Counters{1, 128, 0, 0}));
}

} // namespace tmeter::dptest

// wanted_uppers: which devices stacked on attached ones tm_ifaces records,
// and whether all their lower devices are attached. Shapes this machine
// cannot create (VLAN devices, bonds) are as the kernel reports them:
// IFLA_LINK for a VLAN's parent, IFLA_MASTER for a bond's or bridge's port.
#include <gtest/gtest.h>

#include "state/ifaces.h"

namespace tmeter {
namespace {

LinkInfo link(int ifindex, const char *name, int master = 0, int lower = 0)
{
	LinkInfo l;
	l.ifindex = ifindex;
	l.name = name;
	l.master = master;
	l.lower = lower;
	return l;
}

std::map<int, tm_iface> attached(std::initializer_list<int> ifindexes)
{
	std::map<int, tm_iface> out;
	for (int i : ifindexes)
		out[i].role = TM_ROLE_ATTACHED;
	return out;
}

TEST(Uppers, VlanOnAttachedParentIsCovered)
{
	// eth0 (2) attached; eth0.10 (3) and eth0.20 (4) on it.
	auto links = {link(2, "eth0"), link(3, "eth0.10", 0, 2), link(4, "eth0.20", 0, 2)};
	auto want = wanted_uppers(attached({2}), links);
	EXPECT_EQ(want, (std::map<int, uint32_t>{{3, TM_ROLE_UPPER}, {4, TM_ROLE_UPPER}}));
}

TEST(Uppers, BridgeWithSomePortsAttachedIsPartial)
{
	auto links = {link(2, "lan1", 5), link(3, "lan2", 5), link(4, "wan"), link(5, "br-lan")};
	EXPECT_EQ(wanted_uppers(attached({2, 4}), links),
		  (std::map<int, uint32_t>{{5, TM_ROLE_UPPER_PARTIAL}}));
	EXPECT_EQ(wanted_uppers(attached({2, 3, 4}), links),
		  (std::map<int, uint32_t>{{5, TM_ROLE_UPPER}}));
	EXPECT_TRUE(wanted_uppers(attached({4}), links).empty());
}

TEST(Uppers, BondOfAttachedSlavesThenVlanOnIt)
{
	// bond0 (4) of eth0 (2) and eth1 (3); bond0.100 (5) on bond0.
	auto links = {link(2, "eth0", 4), link(3, "eth1", 4), link(4, "bond0"),
		      link(5, "bond0.100", 0, 4)};
	EXPECT_EQ(wanted_uppers(attached({2, 3}), links),
		  (std::map<int, uint32_t>{{4, TM_ROLE_UPPER}, {5, TM_ROLE_UPPER}}));
	// One slave only: the bond and the VLAN on it are partial.
	EXPECT_EQ(wanted_uppers(attached({2}), links),
		  (std::map<int, uint32_t>{{4, TM_ROLE_UPPER_PARTIAL}, {5, TM_ROLE_UPPER_PARTIAL}}));
}

TEST(Uppers, AttachedUpperIsNotRecordedAgain)
{
	// lan1 and br-lan both attached (load --force): br-lan is ATTACHED.
	auto links = {link(2, "lan1", 3), link(3, "br-lan")};
	EXPECT_TRUE(wanted_uppers(attached({2, 3}), links).empty());
}

TEST(Uppers, UnrelatedDevicesAreNotUppers)
{
	auto links = {link(2, "eth0"), link(3, "veth0"), link(4, "br0"), link(5, "p0", 4)};
	EXPECT_TRUE(wanted_uppers(attached({2}), links).empty());
}

} // namespace
} // namespace tmeter

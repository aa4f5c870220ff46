// diff_rule_sets: the change `import --replace` applies.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rules/rule_store.h"

namespace tmeter {
namespace {

std::vector<Cidr> cidrs(std::initializer_list<const char *> texts)
{
	std::vector<Cidr> out;
	for (const char *t : texts)
		out.push_back(parse_cidr(t));
	return out;
}

std::vector<std::string> strs(const std::vector<Cidr> &rules)
{
	std::vector<std::string> out;
	for (const auto &c : rules)
		out.push_back(c.str());
	return out;
}

TEST(DiffRuleSets, KeepsCommonAddsNewDeletesMissing)
{
	auto change = diff_rule_sets(cidrs({"10.0.0.0/24", "10.0.1.0/24", "2001:db8::/64"}),
				     cidrs({"2001:db8::/64", "10.0.2.0/24", "10.0.0.0/24"}));
	EXPECT_EQ(strs(change.add), (std::vector<std::string>{"10.0.2.0/24"}));
	EXPECT_EQ(strs(change.del), (std::vector<std::string>{"10.0.1.0/24"}));
}

TEST(DiffRuleSets, SameSetIsNoChange)
{
	auto change = diff_rule_sets(cidrs({"10.0.0.0/24", "2001:db8::/64"}),
				     cidrs({"2001:db8::/64", "10.0.0.0/24"}));
	EXPECT_TRUE(change.add.empty());
	EXPECT_TRUE(change.del.empty());
}

TEST(DiffRuleSets, EmptyWantedDeletesEverything)
{
	auto change = diff_rule_sets(cidrs({"10.0.0.0/24", "2001:db8::/64"}), {});
	EXPECT_TRUE(change.add.empty());
	EXPECT_EQ(strs(change.del), (std::vector<std::string>{"10.0.0.0/24", "2001:db8::/64"}));
}

TEST(DiffRuleSets, EmptyCurrentAddsEverythingOnce)
{
	auto change = diff_rule_sets({}, cidrs({"10.0.0.0/24", "10.0.0.0/24", "2001:DB8::/64"}));
	EXPECT_EQ(strs(change.add), (std::vector<std::string>{"10.0.0.0/24", "2001:db8::/64"}));
	EXPECT_TRUE(change.del.empty());
}

TEST(DiffRuleSets, PrefixLengthMakesADifferentRule)
{
	auto change = diff_rule_sets(cidrs({"10.0.0.0/24"}), cidrs({"10.0.0.0/25"}));
	EXPECT_EQ(strs(change.add), (std::vector<std::string>{"10.0.0.0/25"}));
	EXPECT_EQ(strs(change.del), (std::vector<std::string>{"10.0.0.0/24"}));
}

TEST(DiffRuleSets, FamiliesDoNotCollide)
{
	// 10.0.0.0/8 and ::a00:0/8 share their first address bytes; they are
	// still different rules.
	auto change = diff_rule_sets(cidrs({"10.0.0.0/8"}), cidrs({"a00::/8"}));
	EXPECT_EQ(strs(change.add), (std::vector<std::string>{"a00::/8"}));
	EXPECT_EQ(strs(change.del), (std::vector<std::string>{"10.0.0.0/8"}));
}

TEST(DiffRuleSets, LargeSets)
{
	std::vector<Cidr> current, wanted;
	for (unsigned i = 0; i < 20000; ++i) {
		Cidr c = parse_cidr("10.0.0.0/32");
		c.addr[2] = static_cast<uint8_t>(i >> 8);
		c.addr[3] = static_cast<uint8_t>(i);
		if (i % 2 == 0)
			current.push_back(c);
		if (i % 3 == 0)
			wanted.push_back(c);
	}
	auto change = diff_rule_sets(current, wanted);
	// Kept: multiples of 6. Added: multiples of 3 that are odd. Deleted:
	// even numbers that are not multiples of 3.
	size_t six = (20000 + 5) / 6, three = (20000 + 2) / 3, two = 20000 / 2;
	EXPECT_EQ(change.add.size(), three - six);
	EXPECT_EQ(change.del.size(), two - six);
}

} // namespace
} // namespace tmeter

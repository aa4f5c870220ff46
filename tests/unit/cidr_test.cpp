// Address parsing and normalization (SPEC §2 address syntax).
#include <gtest/gtest.h>

#include <string>

#include "rules/cidr.h"
#include "traffic_meter_kern_user.h"
#include "util/error.h"

namespace tmeter {
namespace {

struct Good {
	const char *input;
	const char *canonical;
	uint8_t family;
	uint8_t prefixlen;
};

class CidrGood : public ::testing::TestWithParam<Good> {};

TEST_P(CidrGood, ParsesToCanonicalForm)
{
	const Good &g = GetParam();
	Cidr c = parse_cidr(g.input);
	EXPECT_EQ(c.str(), g.canonical);
	EXPECT_EQ(c.family, g.family);
	EXPECT_EQ(c.prefixlen, g.prefixlen);
	// The canonical form parses back to the same rule.
	EXPECT_EQ(parse_cidr(c.str()), c);
}

INSTANTIATE_TEST_SUITE_P(
	Addresses, CidrGood,
	::testing::Values(
		Good{"10.0.0.0/24", "10.0.0.0/24", TM_FAMILY_IPV4, 24},
		Good{"10.0.0.1", "10.0.0.1/32", TM_FAMILY_IPV4, 32},
		Good{"0.0.0.0/0", "0.0.0.0/0", TM_FAMILY_IPV4, 0},
		Good{"255.255.255.255/32", "255.255.255.255/32", TM_FAMILY_IPV4, 32},
		Good{"198.18.0.0/15", "198.18.0.0/15", TM_FAMILY_IPV4, 15},
		Good{"2001:db8::/32", "2001:db8::/32", TM_FAMILY_IPV6, 32},
		Good{"2001:DB8::1", "2001:db8::1/128", TM_FAMILY_IPV6, 128},
		// RFC 5952: leading zeros dropped, longest zero run compressed,
		// first one on a tie, a single zero field not compressed.
		Good{"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1/128", TM_FAMILY_IPV6, 128},
		Good{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1/128", TM_FAMILY_IPV6, 128},
		Good{"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1/128", TM_FAMILY_IPV6, 128},
		Good{"2001:0:0:1:0:0:0:1", "2001:0:0:1::1/128", TM_FAMILY_IPV6, 128},
		Good{"::", "::/128", TM_FAMILY_IPV6, 128},
		Good{"::/0", "::/0", TM_FAMILY_IPV6, 0},
		Good{"::1", "::1/128", TM_FAMILY_IPV6, 128},
		Good{"fe80::/10", "fe80::/10", TM_FAMILY_IPV6, 10},
		Good{"::ffff:198.18.0.1", "::ffff:198.18.0.1/128", TM_FAMILY_IPV6, 128},
		Good{"2001:db8::/127", "2001:db8::/127", TM_FAMILY_IPV6, 127}));

struct Bad {
	const char *input;
	const char *message; // the whole line
};

class CidrBad : public ::testing::TestWithParam<Bad> {};

TEST_P(CidrBad, RejectedAsUsageErrorWithMessage)
{
	const Bad &b = GetParam();
	try {
		parse_cidr(b.input);
		FAIL() << "accepted '" << b.input << "'";
	} catch (const Error &e) {
		EXPECT_EQ(e.exit_code(), kExitUsage);
		EXPECT_EQ(std::string(e.what()), b.message);
		EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
	}
	EXPECT_EQ(validate_cidr(b.input, nullptr), b.message);
}

INSTANTIATE_TEST_SUITE_P(
	HostBits, CidrBad,
	::testing::Values(
		Bad{"10.0.0.1/24", "host bits set in '10.0.0.1/24': did you mean 10.0.0.0/24?"},
		Bad{"198.19.255.255/15",
		    "host bits set in '198.19.255.255/15': did you mean 198.18.0.0/15?"},
		Bad{"10.0.0.1/0", "host bits set in '10.0.0.1/0': did you mean 0.0.0.0/0?"},
		Bad{"2001:db8::1/64", "host bits set in '2001:db8::1/64': did you mean 2001:db8::/64?"},
		Bad{"2001:DB8:0:0:1::/48",
		    "host bits set in '2001:DB8:0:0:1::/48': did you mean 2001:db8::/48?"}));

INSTANTIATE_TEST_SUITE_P(
	PrefixLength, CidrBad,
	::testing::Values(
		Bad{"10.0.0.0/33", "invalid prefix length in '10.0.0.0/33': expected 0 to 32"},
		Bad{"10.0.0.0/", "invalid prefix length in '10.0.0.0/': expected 0 to 32"},
		Bad{"10.0.0.0/-1", "invalid prefix length in '10.0.0.0/-1': expected 0 to 32"},
		Bad{"10.0.0.0/+8", "invalid prefix length in '10.0.0.0/+8': expected 0 to 32"},
		Bad{"10.0.0.0/08", "invalid prefix length in '10.0.0.0/08': expected 0 to 32"},
		Bad{"10.0.0.0/24/8", "invalid prefix length in '10.0.0.0/24/8': expected 0 to 32"},
		Bad{"10.0.0.0/ 8", "invalid prefix length in '10.0.0.0/ 8': expected 0 to 32"},
		Bad{"10.0.0.0/8x", "invalid prefix length in '10.0.0.0/8x': expected 0 to 32"},
		Bad{"10.0.0.0/4294967304",
		    "invalid prefix length in '10.0.0.0/4294967304': expected 0 to 32"},
		Bad{"2001:db8::/129", "invalid prefix length in '2001:db8::/129': expected 0 to 128"},
		Bad{"::/0128", "invalid prefix length in '::/0128': expected 0 to 128"}));

INSTANTIATE_TEST_SUITE_P(
	Garbage, CidrBad,
	::testing::Values(
		Bad{"", "invalid IP address '': expected A.B.C.D[/P] or an IPv6 address[/P]"},
		Bad{"/24", "invalid IP address '/24': expected A.B.C.D[/P] or an IPv6 address[/P]"},
		Bad{"10.0.0", "invalid IP address '10.0.0': expected A.B.C.D[/P] or an IPv6 address[/P]"},
		Bad{"10.0.0.256", "invalid IP address '10.0.0.256': expected A.B.C.D[/P] or an IPv6 "
				  "address[/P]"},
		Bad{"010.0.0.1", "invalid IP address '010.0.0.1': expected A.B.C.D[/P] or an IPv6 "
				 "address[/P]"},
		Bad{"10.0.0.01", "invalid IP address '10.0.0.01': expected A.B.C.D[/P] or an IPv6 "
				 "address[/P]"},
		Bad{"0x0a.0.0.1", "invalid IP address '0x0a.0.0.1': expected A.B.C.D[/P] or an IPv6 "
				  "address[/P]"},
		Bad{" 10.0.0.1", "invalid IP address ' 10.0.0.1': expected A.B.C.D[/P] or an IPv6 "
				 "address[/P]"},
		Bad{"10.0.0.1 ", "invalid IP address '10.0.0.1 ': expected A.B.C.D[/P] or an IPv6 "
				 "address[/P]"},
		Bad{"hello", "invalid IP address 'hello': expected A.B.C.D[/P] or an IPv6 address[/P]"},
		Bad{"2001:db8:::1", "invalid IPv6 address '2001:db8:::1'"},
		Bad{"2001:db8::1::2", "invalid IPv6 address '2001:db8::1::2'"},
		Bad{"2001:db8:00001::", "invalid IPv6 address '2001:db8:00001::'"},
		Bad{"fe80::1%eth0", "invalid IPv6 address 'fe80::1%eth0'"},
		Bad{"[2001:db8::1]", "invalid IPv6 address '[2001:db8::1]'"},
		Bad{"1:2:3:4:5:6:7:8:9", "invalid IPv6 address '1:2:3:4:5:6:7:8:9'"}));

TEST(Cidr, EmbeddedNulIsRejected)
{
	using namespace std::string_literals;
	EXPECT_FALSE(validate_cidr("10.0.0.1\0garbage"s, nullptr).empty());
}

TEST(Cidr, OrderIsIpv4FirstThenAddressThenPrefix)
{
	EXPECT_LT(parse_cidr("255.255.255.255"), parse_cidr("::/0"));
	EXPECT_LT(parse_cidr("10.0.0.0/8"), parse_cidr("10.0.0.0/24"));
	EXPECT_LT(parse_cidr("10.0.0.0/24"), parse_cidr("10.0.1.0/24"));
	EXPECT_LT(parse_cidr("9.255.255.255"), parse_cidr("10.0.0.0/8"));
	EXPECT_LT(parse_cidr("2001:db8::/32"), parse_cidr("2001:db8::/48"));
}

TEST(Cidr, FamilyName)
{
	EXPECT_EQ(parse_cidr("10.0.0.0/8").family_name(), "ipv4");
	EXPECT_EQ(parse_cidr("2001:db8::/32").family_name(), "ipv6");
}

} // namespace
} // namespace tmeter

// Rendering of `show`, `list` and `export` exactly as SPEC §4.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "output/counters_view.h"
#include "output/rules_view.h"

namespace tmeter {
namespace {

RuleCounters row(const char *cidr, uint64_t up_b, uint64_t up_p, uint64_t down_b, uint64_t down_p)
{
	return {parse_cidr(cidr), up_b, up_p, down_b, down_p};
}

std::vector<std::string> lines(const std::string &text)
{
	std::vector<std::string> out;
	std::istringstream in(text);
	for (std::string l; std::getline(in, l);)
		out.push_back(l);
	return out;
}

std::vector<std::string> order(const std::vector<RuleCounters> &rows)
{
	std::vector<std::string> out;
	for (const auto &r : rows)
		out.push_back(r.cidr.str());
	return out;
}

const std::vector<RuleCounters> kRows = {
	row("10.0.0.0/24", 524288, 512, 10485760, 7300),
	row("198.18.0.1", 0, 0, 0, 0),
	row("2001:db8::/32", 3ull << 40, 3, 1023, 1),
};

TEST(ShowTable, HeaderColumnsAsSpec)
{
	auto out = render_counters({}, ShowOptions{});
	auto l = lines(out);
	ASSERT_EQ(l.size(), 1u);
	EXPECT_EQ(l[0].find("IP/CIDR"), 2u);
	EXPECT_EQ(l[0].find("UPSTREAM-BYTES"), 43u);
	EXPECT_EQ(l[0].find("DOWNSTREAM-BYTES"), 64u);
	EXPECT_EQ(l[0], "  IP/CIDR                                  UPSTREAM-BYTES       DOWNSTREAM-BYTES");
}

TEST(ShowTable, RowsMatchSpecExample)
{
	auto l = lines(render_counters({kRows[0]}, ShowOptions{}));
	ASSERT_EQ(l.size(), 2u);
	EXPECT_EQ(l[1], "  10.0.0.0/24                              524288               10485760");
}

TEST(ShowTable, ValuesAlignUnderHeaders)
{
	auto l = lines(render_counters(kRows, ShowOptions{}));
	ASSERT_EQ(l.size(), 4u);
	for (size_t i = 1; i < l.size(); ++i) {
		EXPECT_EQ(l[i].substr(0, 2), "  ");
		EXPECT_NE(l[i][2], ' ');
		EXPECT_EQ(l[i][42], ' ') << l[i];
		EXPECT_NE(l[i][43], ' ') << l[i];
		EXPECT_EQ(l[i][63], ' ') << l[i];
		EXPECT_NE(l[i][64], ' ') << l[i];
		EXPECT_NE(l[i].back(), ' ') << "trailing space: '" << l[i] << "'";
	}
	EXPECT_EQ(l[3], "  2001:db8::/32                            3298534883328        1023");
}

TEST(ShowTable, LongIpv6RuleStillSeparatesColumns)
{
	auto l = lines(render_counters(
		{row("2001:db8:1234:5678:9abc:def0:1234:5678", 1, 1, 2, 1)}, ShowOptions{}));
	ASSERT_EQ(l.size(), 2u);
	// 43 characters of rule: wider than the column; still one space at least.
	EXPECT_EQ(l[1], "  2001:db8:1234:5678:9abc:def0:1234:5678/128 1                    2");
}

TEST(ShowTable, Human)
{
	ShowOptions opts;
	opts.human = true;
	auto l = lines(render_counters(kRows, opts));
	ASSERT_EQ(l.size(), 4u);
	EXPECT_EQ(l[1], "  10.0.0.0/24                              512.0 KiB            10.0 MiB");
	EXPECT_EQ(l[2], "  198.18.0.1/32                            0 B                  0 B");
	EXPECT_EQ(l[3], "  2001:db8::/32                            3.0 TiB              1023 B");
}

TEST(HumanBytes, Units)
{
	EXPECT_EQ(human_bytes(0), "0 B");
	EXPECT_EQ(human_bytes(1023), "1023 B");
	EXPECT_EQ(human_bytes(1024), "1.0 KiB");
	EXPECT_EQ(human_bytes(1536), "1.5 KiB");
	EXPECT_EQ(human_bytes(524288), "512.0 KiB");
	EXPECT_EQ(human_bytes(1048575), "1.0 MiB"); // never "1024.0 KiB"
	EXPECT_EQ(human_bytes(1048576), "1.0 MiB");
	EXPECT_EQ(human_bytes(10485760), "10.0 MiB");
	EXPECT_EQ(human_bytes(1ull << 30), "1.0 GiB");
	EXPECT_EQ(human_bytes(1ull << 40), "1.0 TiB");
	EXPECT_EQ(human_bytes(1ull << 50), "1024.0 TiB");
	EXPECT_EQ(human_bytes(UINT64_MAX), "16777216.0 TiB");
}

TEST(ShowJson, ExactFieldsAndValues)
{
	ShowOptions opts;
	opts.format = OutputFormat::kJson;
	auto doc = nlohmann::json::parse(render_counters(kRows, opts));
	auto expected = nlohmann::json::parse(R"({"rules": [
		{"rule": "10.0.0.0/24", "family": "ipv4", "up_bytes": 524288, "up_packets": 512,
		 "down_bytes": 10485760, "down_packets": 7300},
		{"rule": "198.18.0.1/32", "family": "ipv4", "up_bytes": 0, "up_packets": 0,
		 "down_bytes": 0, "down_packets": 0},
		{"rule": "2001:db8::/32", "family": "ipv6", "up_bytes": 3298534883328, "up_packets": 3,
		 "down_bytes": 1023, "down_packets": 1}]})");
	EXPECT_EQ(doc, expected);
}

TEST(ShowJson, EmptyAndHugeValues)
{
	ShowOptions opts;
	opts.format = OutputFormat::kJson;
	EXPECT_EQ(nlohmann::json::parse(render_counters({}, opts)),
		  nlohmann::json::parse(R"({"rules": []})"));
	auto doc = nlohmann::json::parse(
		render_counters({row("10.0.0.0/8", UINT64_MAX, UINT64_MAX, 0, 0)}, opts));
	EXPECT_EQ(doc["rules"][0]["up_bytes"].get<uint64_t>(), UINT64_MAX);
}

TEST(ShowJson, HumanDoesNotChangeJson)
{
	ShowOptions opts;
	opts.format = OutputFormat::kJson;
	auto plain = render_counters(kRows, opts);
	opts.human = true;
	EXPECT_EQ(render_counters(kRows, opts), plain);
}

TEST(ShowCsv, HeaderAndRows)
{
	ShowOptions opts;
	opts.format = OutputFormat::kCsv;
	EXPECT_EQ(render_counters(kRows, opts),
		  "rule,family,up_bytes,up_packets,down_bytes,down_packets\n"
		  "10.0.0.0/24,ipv4,524288,512,10485760,7300\n"
		  "198.18.0.1/32,ipv4,0,0,0,0\n"
		  "2001:db8::/32,ipv6,3298534883328,3,1023,1\n");
	EXPECT_EQ(render_counters({}, opts), "rule,family,up_bytes,up_packets,down_bytes,down_packets\n");
}

TEST(Sort, NoKeyKeepsSpecOrder)
{
	auto rows = kRows;
	sort_rows(rows, std::nullopt);
	EXPECT_EQ(order(rows), order(kRows));
}

TEST(Sort, LargestFirstStableAmongEquals)
{
	std::vector<RuleCounters> rows = {
		row("10.0.0.0/24", 10, 1, 100, 1), row("10.0.1.0/24", 30, 1, 10, 1),
		row("10.0.2.0/24", 10, 1, 5, 1),   row("10.0.3.0/24", 20, 1, 300, 1),
		row("2001:db8::/64", 30, 1, 0, 1),
	};
	auto up = rows;
	sort_rows(up, SortKey::kUp);
	EXPECT_EQ(order(up), (std::vector<std::string>{"10.0.1.0/24", "2001:db8::/64", "10.0.3.0/24",
						       "10.0.0.0/24", "10.0.2.0/24"}));
	auto down = rows;
	sort_rows(down, SortKey::kDown);
	EXPECT_EQ(order(down), (std::vector<std::string>{"10.0.3.0/24", "10.0.0.0/24", "10.0.1.0/24",
							 "10.0.2.0/24", "2001:db8::/64"}));
	auto total = rows;
	sort_rows(total, SortKey::kTotal);
	EXPECT_EQ(order(total), (std::vector<std::string>{"10.0.3.0/24", "10.0.0.0/24", "10.0.1.0/24",
							  "2001:db8::/64", "10.0.2.0/24"}));
}

TEST(Sort, TotalDoesNotOverflow)
{
	std::vector<RuleCounters> rows = {row("10.0.0.0/24", 10, 1, 10, 1),
					  row("10.0.1.0/24", UINT64_MAX, 1, 1, 1)};
	sort_rows(rows, SortKey::kTotal);
	EXPECT_EQ(rows[0].cidr.str(), "10.0.1.0/24");
}

TEST(RuleList, TextAndJson)
{
	std::vector<Cidr> rules = {parse_cidr("10.0.0.0/8"), parse_cidr("2001:db8::1")};
	EXPECT_EQ(render_rule_list(rules, false), "10.0.0.0/8\n2001:db8::1/128\n");
	EXPECT_EQ(nlohmann::json::parse(render_rule_list(rules, true)),
		  nlohmann::json::parse(R"({"rules": ["10.0.0.0/8", "2001:db8::1/128"]})"));
	EXPECT_EQ(render_rule_list({}, false), "");
}

TEST(RuleExport, RoundTripsThroughImportFormat)
{
	std::vector<Cidr> rules = {parse_cidr("10.0.0.0/8"), parse_cidr("198.18.0.1"),
				   parse_cidr("2001:db8::/32")};
	EXPECT_EQ(render_rule_export(rules),
		  "{\"rules\": [\"10.0.0.0/8\", \"198.18.0.1/32\", \"2001:db8::/32\"]}\n");
	EXPECT_EQ(render_rule_export({}), "{\"rules\": []}\n");
}

} // namespace
} // namespace tmeter

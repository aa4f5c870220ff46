// The import file format: {"rules": [...]} or a bare array, all or nothing.
#include <gtest/gtest.h>

#include <string>

#include "rules/rule_file.h"
#include "util/error.h"

namespace tmeter {
namespace {

std::vector<std::string> strs(const std::vector<Cidr> &rules)
{
	std::vector<std::string> out;
	for (const auto &c : rules)
		out.push_back(c.str());
	return out;
}

// The usage Error's message, or "" if the text parsed.
std::string error_of(const std::string &text)
{
	try {
		parse_rule_file(text, "rules.json");
	} catch (const Error &e) {
		EXPECT_EQ(e.exit_code(), kExitUsage);
		std::string msg = e.what();
		EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
		return msg;
	}
	return {};
}

// Valid files take a streaming pass without a document tree; these shapes
// must read exactly as the tree reader reads them: other keys (even holding
// CIDR strings) are ignored, a repeated "rules" key means its last value,
// nesting beside the list does not confuse it.
TEST(RuleFile, StreamingPassReadsWhatTheTreeReads)
{
	EXPECT_EQ(strs(parse_rule_file(
			  R"({"comment": ["10.9.0.0/16"], "rules": ["10.1.0.0/16"], "more": {"rules": ["10.2.0.0/16"]}})",
			  "f")),
		  (std::vector<std::string>{"10.1.0.0/16"}));
	EXPECT_EQ(strs(parse_rule_file(R"({"rules": ["10.0.0.0/8"], "rules": ["10.1.0.0/16"]})", "f")),
		  (std::vector<std::string>{"10.1.0.0/16"}));
	EXPECT_EQ(strs(parse_rule_file(R"(  ["10.0.0.0/8" , "2001:db8::/32"] )", "f")),
		  (std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32"}));
	EXPECT_EQ(strs(parse_rule_file(R"({"rules": []})", "f")), std::vector<std::string>{});
	EXPECT_NE(error_of(R"({"rulez": ["10.0.0.0/8"]})").find("no \"rules\" key"), std::string::npos);
}

TEST(RuleFile, ObjectForm)
{
	auto rules = parse_rule_file(R"({"rules": ["10.0.0.0/24", "2001:db8::1", "198.18.0.1"]})", "f");
	EXPECT_EQ(strs(rules),
		  (std::vector<std::string>{"10.0.0.0/24", "2001:db8::1/128", "198.18.0.1/32"}));
}

TEST(RuleFile, BareArray)
{
	auto rules = parse_rule_file(R"(["10.0.0.0/8", "2001:DB8::/32"])", "f");
	EXPECT_EQ(strs(rules), (std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32"}));
}

TEST(RuleFile, EmptyListsAreValid)
{
	EXPECT_TRUE(parse_rule_file(R"({"rules": []})", "f").empty());
	EXPECT_TRUE(parse_rule_file("[]", "f").empty());
}

TEST(RuleFile, OtherKeysAreIgnored)
{
	auto rules = parse_rule_file(R"({"comment": "lab", "rules": ["10.0.0.0/8"]})", "f");
	EXPECT_EQ(strs(rules), (std::vector<std::string>{"10.0.0.0/8"}));
}

TEST(RuleFile, WhitespaceAndNewlinesAroundJson)
{
	auto rules = parse_rule_file("\n  {\n \"rules\" : [ \"10.0.0.0/8\" ]\n }\n\n", "f");
	EXPECT_EQ(strs(rules), (std::vector<std::string>{"10.0.0.0/8"}));
}

TEST(RuleFile, EveryBadEntryIsNamed)
{
	std::string msg = error_of(
		R"({"rules": ["10.0.0.0/24", "10.0.0.1/24", "nonsense", "2001:db8::/129", "198.18.0.0/15"]})");
	EXPECT_EQ(msg, "rules.json: 3 invalid entries, nothing imported: "
		       "entry 2: host bits set in '10.0.0.1/24': did you mean 10.0.0.0/24?; "
		       "entry 3: invalid IP address 'nonsense': expected A.B.C.D[/P] or an IPv6 "
		       "address[/P]; "
		       "entry 4: invalid prefix length in '2001:db8::/129': expected 0 to 128");
}

TEST(RuleFile, OneBadEntry)
{
	EXPECT_EQ(error_of(R"(["10.0.0.0/24", "10.0.0.300"])"),
		  "rules.json: 1 invalid entry, nothing imported: entry 2: invalid IP address "
		  "'10.0.0.300': expected A.B.C.D[/P] or an IPv6 address[/P]");
}

TEST(RuleFile, NonStringsAreNamed)
{
	std::string msg = error_of(R"({"rules": [167772160, null, ["10.0.0.0/8"], {"cidr": "10.0.0.0/8"}, true]})");
	EXPECT_NE(msg.find("5 invalid entries"), std::string::npos) << msg;
	EXPECT_NE(msg.find("entry 1: not a string: 167772160"), std::string::npos) << msg;
	EXPECT_NE(msg.find("entry 2: not a string: null"), std::string::npos) << msg;
	EXPECT_NE(msg.find("entry 3: not a string: [\"10.0.0.0/8\"]"), std::string::npos) << msg;
	EXPECT_NE(msg.find("entry 4: not a string: {\"cidr\":\"10.0.0.0/8\"}"), std::string::npos)
		<< msg;
	EXPECT_NE(msg.find("entry 5: not a string: true"), std::string::npos) << msg;
}

TEST(RuleFile, EmbeddedNewlineInEntryStaysOnOneLine)
{
	std::string msg = error_of("[\"10.0.0.0/8\\nx\"]");
	EXPECT_NE(msg.find("entry 1"), std::string::npos) << msg;
}

TEST(RuleFile, EmbeddedNulIsRejected)
{
	std::string msg = error_of(R"(["10.0.0.1\u0000junk"])");
	EXPECT_NE(msg.find("entry 1"), std::string::npos) << msg;
}

TEST(RuleFile, InvalidJson)
{
	for (const char *text : {"", "{", "{\"rules\": [\"10.0.0.0/8\",]}", "rules: [10.0.0.0/8]",
				 "[\"10.0.0.0/8\"] trailing", "\xff\xfe"}) {
		std::string msg = error_of(text);
		EXPECT_NE(msg.find("rules.json: not valid JSON"), std::string::npos)
			<< "input: " << text << " message: " << msg;
	}
}

TEST(RuleFile, WrongShape)
{
	EXPECT_EQ(error_of(R"({"rule": ["10.0.0.0/8"]})"),
		  R"(rules.json: no "rules" key; expected {"rules": ["CIDR", ...]})");
	EXPECT_EQ(error_of(R"({"rules": "10.0.0.0/8"})"),
		  R"(rules.json: "rules" must be an array of CIDR strings)");
	EXPECT_EQ(error_of(R"("10.0.0.0/8")"),
		  R"(rules.json: expected {"rules": ["CIDR", ...]} or an array of CIDR strings)");
	EXPECT_EQ(error_of("42"),
		  R"(rules.json: expected {"rules": ["CIDR", ...]} or an array of CIDR strings)");
}

TEST(RuleFile, DuplicatesAreAccepted)
{
	// The same rule twice (even written differently) is one rule; import
	// treats it like `add` of an existing rule.
	auto rules = parse_rule_file(R"(["2001:db8::1", "2001:0db8::0001"])", "f");
	ASSERT_EQ(rules.size(), 2u);
	EXPECT_EQ(rules[0], rules[1]);
}

} // namespace
} // namespace tmeter

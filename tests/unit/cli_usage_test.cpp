// Usage errors are found while parsing the command line: exit 2, one line,
// before any state, privilege or kernel object is looked at.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/cli.h"
#include "util/error.h"

namespace tmeter {
namespace {

struct Case {
	std::vector<std::string> args; // after "traffic_meter"
	const char *message_part;
};

class CliUsage : public ::testing::TestWithParam<Case> {};

TEST_P(CliUsage, IsExit2WithOneLine)
{
	std::vector<std::string> words = {"traffic_meter", "--pin-path", "/nonexistent/tm-unit"};
	words.insert(words.end(), GetParam().args.begin(), GetParam().args.end());
	std::vector<char *> argv;
	for (auto &w : words)
		argv.push_back(w.data());
	argv.push_back(nullptr);
	try {
		run_cli(static_cast<int>(words.size()), argv.data());
		FAIL() << "accepted";
	} catch (const Error &e) {
		std::string msg = e.what();
		EXPECT_EQ(e.exit_code(), kExitUsage) << msg;
		EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
		EXPECT_NE(msg.find(GetParam().message_part), std::string::npos) << msg;
	}
}

INSTANTIATE_TEST_SUITE_P(
	Cases, CliUsage,
	::testing::Values(
		Case{{}, "A subcommand is required"},
		Case{{"frobnicate"}, "unknown command 'frobnicate'; see --help"},
		Case{{"frobnicate", "--dev", "x"}, "unknown command 'frobnicate'"},
		Case{{"show", "--bogus"}, "--bogus"},
		Case{{"show", "--csv", "--json"}, "--csv"},
		Case{{"show", "--sort", "sideways"}, "--sort"},
		Case{{"show", "--ip-address", "10.0.0.1/24"}, "did you mean 10.0.0.0/24?"},
		Case{{"add"}, "--ip-address"},
		Case{{"add", "--ip-address", "198.18.0.1", "--ip-address", "nope"},
		     "invalid IP address 'nope'"},
		Case{{"del", "--ip-address", "2001:db8::1/64"}, "did you mean 2001:db8::/64?"},
		Case{{"reset", "--ip-address", "10.0.0.0/33"}, "invalid prefix length"},
		Case{{"load"}, "--dev"},
		Case{{"load", "--dev", "x", "--max-rules", "0"}, "--max-rules"},
		Case{{"load", "--dev", "x", "--max-flows", "-5"}, "--max-flows"},
		Case{{"unload", "--dev", "x", "--all"}, "--all"},
		Case{{"import"}, "--file"},
		Case{{"list", "--csv"}, "--csv"}));

} // namespace
} // namespace tmeter

// The signature `restore` records must not depend on the build that
// computes it: a binary upgraded between two restores in one boot has to
// recognize the file it restored already (std::hash, used before, is free
// to change between library versions).
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "persist/state_file.h"

namespace tmeter {
namespace {

TEST(StateFileSignature, IsCrc32AndAdler32OfTheText)
{
	// zlib.crc32 and zlib.adler32 of the same bytes, computed apart (Python).
	EXPECT_EQ(state_file_signature("{\"format\": \"traffic_meter-state\"}\n"),
		  0xf124aa5ed4550c17ULL);
}

TEST(StateFileSignature, ChangesWithOneByteAndIsNeverZero)
{
	EXPECT_NE(state_file_signature("{\"format\": \"traffic_meter-state\"}\n"),
		  state_file_signature("{\"format\": \"traffic_meter-statE\"}\n"));
	EXPECT_EQ(state_file_signature(""), 1u); // 0 means "nothing restored"
}

// The earlier builds' formula, as state_commands.cpp had it.
uint64_t earlier_builds_signature(const std::string &text) { return std::hash<std::string>{}(text) | 1; }

TEST(StateFileSignature, RestoredFromKnowsThisAndEarlierBuildsSignatures)
{
	const std::string text = "{\"format\": \"traffic_meter-state\"}\n";
	EXPECT_TRUE(restored_from(0xf124aa5ed4550c17ULL, text));
	EXPECT_TRUE(restored_from(earlier_builds_signature(text), text));
	EXPECT_FALSE(restored_from(0, text));
	EXPECT_FALSE(restored_from(earlier_builds_signature(text + " "), text));
}

} // namespace
} // namespace tmeter

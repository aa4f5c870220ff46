// The signature `restore` records must not depend on the build that
// computes it: a binary upgraded between two restores in one boot has to
// recognize the file it restored already (std::hash, used before, is free
// to change between library versions).
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

} // namespace
} // namespace tmeter

// The file `save` writes and `restore` reads (SPEC §4): rules and the
// figures `show` prints, with a format version, the time, the boot and the
// instance they were saved in, and a checksum of the rest, so that a
// truncated or corrupt file is refused.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "rules/rule_store.h"
#include "state/state.h"

namespace tmeter {

inline constexpr int kStateFileVersion = 1;

struct SavedState {
	std::string saved_at; // ISO 8601, UTC
	std::string boot_id;
	uint64_t instance_id = 0;
	std::vector<RuleCounters> rules;
};

// What `save` writes now: the figures `show` prints, of one committed rule set.
SavedState snapshot_state(const State &state);

// The file's text: one rule per line, then the checksum (CRC-32 of every
// byte before it).
std::string render_state_file(const SavedState &s);
// Throws a usage Error naming what is wrong (not JSON, truncated, checksum,
// unknown format or version, a bad rule).
SavedState parse_state_file(const std::string &text, const std::string &name);

// What `restore` records in the state (tm_config.restored) so that a second
// restore of the same file in one boot adds nothing: CRC-32 and Adler-32 of
// the whole text, a value that is the same whichever build computes it
// (a binary upgraded between two restores must still recognize the file).
// Never 0, which means "nothing restored".
uint64_t state_file_signature(std::string_view text);
// Whether `recorded` (tm_config.restored) names this text: its signature,
// or the std::hash value that builds before state_file_signature() recorded.
bool restored_from(uint64_t recorded, std::string_view text);

// Temporary file in the same directory, fsync, rename over `path`, fsync of
// the directory: the file is the old one or the new one, whole.
void write_file_atomically(const std::filesystem::path &path, const std::string &text);

// This boot's id (/proc/sys/kernel/random/boot_id; $TRAFFIC_METER_BOOT_ID_FILE
// names another file, for tests that play a reboot).
std::string current_boot_id();

std::string utc_now_iso8601();

} // namespace tmeter

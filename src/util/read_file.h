// Reading an input file the user named, bounded (SPEC §5: an import or
// configuration file over 64 MiB is refused before anything changes, and
// /dev/zero must not fill the memory).
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace tmeter {

inline constexpr size_t kMaxInputBytes = 64u << 20;

// Throws a usage Error naming the file when it cannot be read or is larger
// than `limit`.
std::string read_input_file(const std::filesystem::path &path, size_t limit = kMaxInputBytes);

} // namespace tmeter

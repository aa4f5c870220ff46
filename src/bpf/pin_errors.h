// What the user should do when a pinned object cannot be opened: the errno
// of bpf_obj_get() says which permission is missing, and for what path.
#pragma once

#include <filesystem>
#include <string>

namespace tmeter {

[[noreturn]] void fail_pin_errno(const std::filesystem::path &path, int err);

// The message for a permission error (EPERM, EACCES) on a path.
std::string permission_message(const std::filesystem::path &path, int err);

} // namespace tmeter

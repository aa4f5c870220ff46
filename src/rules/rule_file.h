// The rules file of `import`: {"rules": ["CIDR", ...]} or a bare array.
#pragma once

#include <string_view>
#include <vector>

#include "rules/cidr.h"

namespace tmeter {

// All or nothing: throws one usage Error naming every bad entry.
std::vector<Cidr> parse_rule_file(std::string_view text, std::string_view name);

} // namespace tmeter

// `list` and `export`: the rule set alone, one model (the CIDRs in SPEC
// order), rendered as lines or as the import format.
#pragma once

#include <string>
#include <vector>

#include "rules/cidr.h"

namespace tmeter {

// One CIDR per line, or with `json` the export document.
std::string render_rule_list(const std::vector<Cidr> &rules, bool json);
// {"rules": ["10.0.0.0/24", ...]}: what `import` reads back.
std::string render_rule_export(const std::vector<Cidr> &rules);

} // namespace tmeter

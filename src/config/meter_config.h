// The configuration file of `apply` (and of `serve`, for the interfaces it
// re-attaches): SPEC §2, a superset of the import format.
//   {"interfaces": ["br-lan", "wg0"], "rules": ["10.0.0.0/24", ...],
//    "max_rules": N, "max_flows": N}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/cidr.h"

namespace tmeter {

inline constexpr const char *kDefaultConfigPath = "/etc/traffic_meter/config.json";

struct MeterConfig {
	std::vector<std::string> interfaces;
	std::vector<Cidr> rules;
	std::optional<uint32_t> max_rules;
	std::optional<uint32_t> max_flows;
};

// All or nothing: one usage Error naming every problem (the first few, then
// how many more): not JSON, unknown keys, wrong types, bad rules.
MeterConfig parse_meter_config(std::string_view text, std::string_view name);

} // namespace tmeter

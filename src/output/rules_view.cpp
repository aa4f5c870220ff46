#include "output/rules_view.h"

#include <iterator>

#include <fmt/format.h>

namespace tmeter {

std::string render_rule_list(const std::vector<Cidr> &rules, bool json)
{
	if (json)
		return render_rule_export(rules);
	std::string out;
	for (const auto &c : rules)
		fmt::format_to(std::back_inserter(out), "{}\n", c.str());
	return out;
}

std::string render_rule_export(const std::vector<Cidr> &rules)
{
	std::string out = "{\"rules\": [";
	for (size_t i = 0; i < rules.size(); ++i)
		fmt::format_to(std::back_inserter(out), "{}\"{}\"", i ? ", " : "", rules[i].str());
	out += "]}\n";
	return out;
}

} // namespace tmeter

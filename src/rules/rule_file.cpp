#include "rules/rule_file.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace tmeter {

std::vector<Cidr> parse_rule_file(std::string_view text, std::string_view name)
{
	nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
	if (doc.is_discarded())
		fail_usage(fmt::format("{}: not valid JSON; expected {{\"rules\": [\"CIDR\", ...]}}", name));
	const nlohmann::json *list = &doc;
	if (!doc.is_object() && !doc.is_array())
		fail_usage(fmt::format("{}: expected {{\"rules\": [\"CIDR\", ...]}} or an array of "
				       "CIDR strings",
				       name));
	if (doc.is_object()) {
		auto it = doc.find("rules");
		if (it == doc.end())
			fail_usage(fmt::format("{}: no \"rules\" key; expected {{\"rules\": [\"CIDR\", ...]}}",
					       name));
		list = &*it;
	}
	if (!list->is_array())
		fail_usage(fmt::format("{}: \"rules\" must be an array of CIDR strings", name));

	// One readable line however many entries are bad: the first few, then
	// how many more.
	constexpr size_t kNamed = 5;
	std::vector<Cidr> rules;
	rules.reserve(list->size());
	std::string problems;
	size_t bad = 0;
	for (size_t i = 0; i < list->size(); ++i) {
		const auto &entry = (*list)[i];
		std::string err;
		Cidr c;
		if (!entry.is_string()) {
			std::string shown = entry.dump();
			if (shown.size() > 64)
				shown = shown.substr(0, 64) + "...";
			err = fmt::format("not a string: {}", shown);
		} else {
			err = validate_cidr(entry.get_ref<const std::string &>(), &c);
		}
		if (!err.empty()) {
			if (bad < kNamed)
				problems += fmt::format("{}entry {}: {}", bad ? "; " : "", i + 1, err);
			++bad;
			continue;
		}
		rules.push_back(c);
	}
	if (bad > kNamed)
		problems += fmt::format("; and {} more", bad - kNamed);
	if (bad)
		fail_usage(fmt::format("{}: {} invalid {}, nothing imported: {}", name, bad,
				       bad == 1 ? "entry" : "entries", problems));
	return rules;
}

} // namespace tmeter

#include "config/meter_config.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace tmeter {
namespace {

constexpr size_t kNamed = 5;

class Problems {
public:
	void add(std::string p)
	{
		if (n_++ < kNamed)
			text_ += (text_.empty() ? "" : "; ") + p;
	}
	void throw_if_any(std::string_view name) const
	{
		if (!n_)
			return;
		std::string more = n_ > kNamed ? fmt::format("; and {} more", n_ - kNamed) : "";
		fail_usage(fmt::format("{}: {} problem{}, nothing changed: {}{}", name, n_,
				       n_ == 1 ? "" : "s", text_, more));
	}

private:
	size_t n_ = 0;
	std::string text_;
};

std::optional<uint32_t> capacity(const nlohmann::json &doc, const char *key, Problems &problems)
{
	auto it = doc.find(key);
	if (it == doc.end())
		return std::nullopt;
	if (!it->is_number_unsigned() || it->get<uint64_t>() == 0 || it->get<uint64_t>() > UINT32_MAX) {
		problems.add(fmt::format("\"{}\" must be a whole number from 1 to {}", key, UINT32_MAX));
		return std::nullopt;
	}
	return uint32_t(it->get<uint64_t>());
}

} // namespace

MeterConfig parse_meter_config(std::string_view text, std::string_view name)
{
	nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
	if (doc.is_discarded())
		fail_usage(fmt::format("{}: not valid JSON", name));
	if (!doc.is_object())
		fail_usage(fmt::format("{}: expected an object with \"rules\" and optionally "
				       "\"interfaces\", \"max_rules\", \"max_flows\"",
				       name));
	Problems problems;
	MeterConfig cfg;
	for (const auto &[key, value] : doc.items())
		if (key != "interfaces" && key != "rules" && key != "max_rules" && key != "max_flows")
			problems.add(fmt::format("unknown key \"{}\"", key));
	if (auto it = doc.find("interfaces"); it != doc.end()) {
		if (!it->is_array()) {
			problems.add("\"interfaces\" must be an array of interface names");
		} else {
			for (size_t i = 0; i < it->size(); ++i) {
				const auto &v = (*it)[i];
				if (!v.is_string() || v.get_ref<const std::string &>().empty() ||
				    v.get_ref<const std::string &>().size() >= 16)
					problems.add(fmt::format("interfaces entry {}: not an interface name: {}",
								 i + 1, v.dump()));
				else
					cfg.interfaces.push_back(v.get<std::string>());
			}
		}
	}
	auto rules = doc.find("rules");
	if (rules == doc.end()) {
		problems.add("no \"rules\" key (an empty array for none)");
	} else if (!rules->is_array()) {
		problems.add("\"rules\" must be an array of CIDR strings");
	} else {
		cfg.rules.reserve(rules->size());
		for (size_t i = 0; i < rules->size(); ++i) {
			const auto &v = (*rules)[i];
			Cidr c;
			std::string err = v.is_string() ? validate_cidr(v.get_ref<const std::string &>(), &c)
							: fmt::format("not a string: {}", v.dump());
			if (err.empty())
				cfg.rules.push_back(c);
			else
				problems.add(fmt::format("rules entry {}: {}", i + 1, err));
		}
	}
	cfg.max_rules = capacity(doc, "max_rules", problems);
	cfg.max_flows = capacity(doc, "max_flows", problems);
	problems.throw_if_any(name);
	return cfg;
}

} // namespace tmeter

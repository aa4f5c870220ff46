#include "rules/rule_file.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "util/error.h"

namespace tmeter {

namespace {

// The fast way through a valid file: a SAX pass that validates each entry
// as the parser meets it, with no document tree (a million-rule file's
// tree costs more than the rest of the parse). Anything unexpected (not
// JSON, another shape, an entry that is not a valid CIDR string) sends the
// file to the tree-based reader below, which names every problem.
class RuleListSax : public nlohmann::json_sax<nlohmann::json> {
public:
	explicit RuleListSax(std::vector<Cidr> &out) : out_(out) {}
	bool ok() const { return ok_ && seen_list_; }

	bool null() override { return value(); }
	bool boolean(bool) override { return value(); }
	bool number_integer(number_integer_t) override { return value(); }
	bool number_unsigned(number_unsigned_t) override { return value(); }
	bool number_float(number_float_t, const string_t &) override { return value(); }
	bool binary(binary_t &) override { return value(); }
	bool string(string_t &s) override
	{
		if (!in_list())
			return true;
		Cidr c;
		if (!validate_cidr(s, &c).empty())
			return ok_ = false;
		out_.push_back(c);
		return true;
	}
	bool start_object(std::size_t) override
	{
		if (in_list())
			return ok_ = false;
		++depth_;
		return true;
	}
	bool end_object() override
	{
		--depth_;
		return true;
	}
	bool key(string_t &k) override
	{
		rules_key_ = depth_ == 1 && k == "rules";
		return true;
	}
	bool start_array(std::size_t) override
	{
		if (in_list())
			return ok_ = false;
		++depth_;
		// The list: the document itself, or the value of its "rules" key.
		if ((depth_ == 1 && !object_root_) || (depth_ == 2 && rules_key_ && object_root_)) {
			if (seen_list_)
				return ok_ = false; // "rules" twice: the tree reader decides
			list_depth_ = depth_;
			seen_list_ = true;
		}
		return true;
	}
	bool end_array() override
	{
		if (depth_ == list_depth_)
			list_depth_ = 0;
		--depth_;
		return true;
	}
	bool parse_error(std::size_t, const std::string &, const nlohmann::detail::exception &) override
	{
		return ok_ = false;
	}
	void root_is_object() { object_root_ = true; }

private:
	bool in_list() const { return list_depth_ && depth_ == list_depth_; }
	bool value() { return in_list() ? (ok_ = false) : true; }

	std::vector<Cidr> &out_;
	int depth_ = 0, list_depth_ = 0;
	bool object_root_ = false, rules_key_ = false, seen_list_ = false, ok_ = true;
};

} // namespace

std::vector<Cidr> parse_rule_file(std::string_view text, std::string_view name)
{
	{
		std::vector<Cidr> rules;
		rules.reserve(text.size() / 16); // an upper bound for any real file
		RuleListSax sax(rules);
		const auto first = text.find_first_not_of(" \t\r\n");
		if (first != std::string_view::npos && text[first] == '{')
			sax.root_is_object();
		if (nlohmann::json::sax_parse(text, &sax) && sax.ok())
			return rules;
	}
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

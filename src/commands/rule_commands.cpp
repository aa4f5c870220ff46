// add, del, import, export, list, show, reset: the rule set and its counters.
#include <algorithm>
#include <cstdio>
#include <set>

#include <fmt/format.h>

#include "commands/commands.h"
#include "output/rules_view.h"
#include "rules/rule_file.h"
#include "rules/rule_store.h"
#include "state/resize.h"
#include "state/state.h"
#include "util/error.h"
#include "util/read_file.h"

namespace tmeter {
namespace {

std::vector<Cidr> parse_all(const std::vector<std::string> &texts)
{
	std::vector<Cidr> out;
	out.reserve(texts.size());
	for (const auto &t : texts)
		out.push_back(parse_cidr(t));
	return out;
}

std::vector<Cidr> cidrs_of(const std::vector<RuleEntry> &entries)
{
	std::vector<Cidr> out;
	out.reserve(entries.size());
	for (const auto &e : entries)
		out.push_back(e.cidr);
	return out;
}

// Rule changes need no CAP_NET_ADMIN, so they cannot finish a resize that
// was interrupted after interfaces moved; recover_resize says so.
State open_for_rules(const Context &ctx)
{
	State state = State::open(ctx.pin_dir, Access::kWrite);
	recover_resize(state, {}, false);
	return state;
}

State open_reader(const Context &ctx)
{
	State state = State::open(ctx.pin_dir, Access::kRead);
	state.refresh_bookkeeping();
	return state;
}

} // namespace

int cmd_add(const Context &ctx, const std::vector<std::string> &texts)
{
	RuleChange change{parse_all(texts), {}};
	State state = open_for_rules(ctx);
	auto result = RuleStore(state.maps()).apply(change);
	state.refresh_bookkeeping();
	for (const auto &c : result.added)
		fmt::print("added {}\n", c.str());
	for (const auto &c : std::set<Cidr>(result.already_present.begin(), result.already_present.end()))
		fmt::print(stderr, "traffic_meter: rule {} already exists; its counters are kept\n", c.str());
	return kExitOk;
}

int cmd_del(const Context &ctx, const std::vector<std::string> &texts)
{
	RuleChange change{{}, parse_all(texts)};
	State state = open_for_rules(ctx);
	auto result = RuleStore(state.maps()).apply(change);
	state.refresh_bookkeeping();
	for (const auto &c : result.deleted)
		fmt::print("deleted {}\n", c.str());
	return kExitOk;
}

int cmd_import(const Context &ctx, const ImportArgs &args)
{
	auto wanted = parse_rule_file(read_input_file(args.file), args.file.string());
	State state = open_for_rules(ctx);
	RuleStore store(state.maps());
	RuleChange change = args.replace ? diff_rule_sets(cidrs_of(store.rules()), wanted)
					 : RuleChange{wanted, {}};
	auto result = store.apply(change);
	state.refresh_bookkeeping();
	// A file may name a rule twice (in different spellings, even).
	std::sort(wanted.begin(), wanted.end());
	const size_t distinct = size_t(std::unique(wanted.begin(), wanted.end()) - wanted.begin());
	fmt::print("imported {}: {} added, {} already present, {} deleted\n", args.file.string(),
		   result.added.size(), distinct - result.added.size(), result.deleted.size());
	return kExitOk;
}

int cmd_export(const Context &ctx)
{
	State state = open_reader(ctx);
	fmt::print("{}", render_rule_export(cidrs_of(RuleStore(state.maps()).rules())));
	return kExitOk;
}

int cmd_list(const Context &ctx, bool json)
{
	State state = open_reader(ctx);
	fmt::print("{}", render_rule_list(cidrs_of(RuleStore(state.maps()).rules()), json));
	return kExitOk;
}

int cmd_show(const Context &ctx, const ShowArgs &args)
{
	std::optional<Cidr> only;
	if (args.rule)
		only = parse_cidr(*args.rule);
	State state = open_reader(ctx);
	auto rows = RuleStore(state.maps()).counters();
	if (only) {
		std::erase_if(rows, [&](const RuleCounters &r) { return r.cidr != *only; });
		if (rows.empty())
			fail_runtime(fmt::format("no such rule {}", only->str()));
	}
	sort_rows(rows, args.view.sort);
	render_counters(rows, args.view,
			[](std::string_view piece) { fwrite(piece.data(), 1, piece.size(), stdout); });
	return kExitOk;
}

int cmd_reset(const Context &ctx, const std::optional<std::string> &rule)
{
	std::optional<Cidr> only;
	if (rule)
		only = parse_cidr(*rule);
	State state = open_for_rules(ctx);
	RuleStore(state.maps()).reset(only);
	fmt::print("counters reset for {}\n", only ? only->str() : "all rules");
	return kExitOk;
}

} // namespace tmeter

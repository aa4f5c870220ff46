// add, del, import, export, list, reset: the rule set and its counters.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "bpf/map_set.h"
#include "commands/commands.h"
#include "rules/rule_file.h"
#include "rules/rule_store.h"
#include "state/pin_dir.h"
#include "util/error.h"

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

// Opens the state for a command; the lock is held by the caller's scope.
MapSet open_state(const Context &ctx)
{
	prepare_pin_dir(ctx.pin_dir, PinDirMode::kMustExist);
	return MapSet::open_pinned(ctx.pin_dir);
}

} // namespace

int cmd_add(const Context &ctx, const std::vector<std::string> &texts)
{
	RuleChange change{parse_all(texts), {}};
	prepare_pin_dir(ctx.pin_dir, PinDirMode::kMustExist);
	PinLock lock(ctx.pin_dir);
	auto maps = MapSet::open_pinned(ctx.pin_dir);
	auto result = RuleStore(maps).apply(change);
	for (const auto &c : result.added)
		fmt::print("added {}\n", c.str());
	for (const auto &c : std::set<Cidr>(result.already_present.begin(), result.already_present.end()))
		fmt::print(stderr, "traffic_meter: rule {} already exists; its counters are kept\n", c.str());
	return kExitOk;
}

int cmd_del(const Context &ctx, const std::vector<std::string> &texts)
{
	RuleChange change{{}, parse_all(texts)};
	prepare_pin_dir(ctx.pin_dir, PinDirMode::kMustExist);
	PinLock lock(ctx.pin_dir);
	auto maps = MapSet::open_pinned(ctx.pin_dir);
	for (const auto &c : RuleStore(maps).apply(change).deleted)
		fmt::print("deleted {}\n", c.str());
	return kExitOk;
}

int cmd_import(const Context &ctx, const ImportArgs &args)
{
	std::ifstream in(args.file);
	if (!in)
		fail_usage(fmt::format("cannot read {}: {}", args.file.string(), std::strerror(errno)));
	std::stringstream text;
	text << in.rdbuf();
	auto wanted = parse_rule_file(text.str(), args.file.string());

	prepare_pin_dir(ctx.pin_dir, PinDirMode::kMustExist);
	PinLock lock(ctx.pin_dir);
	auto maps = MapSet::open_pinned(ctx.pin_dir);
	RuleStore store(maps);
	RuleChange change = args.replace ? diff_rule_sets(cidrs_of(store.rules()), wanted)
					 : RuleChange{wanted, {}};
	auto result = store.apply(change);
	// A file may name a rule twice (in different spellings, even).
	const size_t distinct = std::set<Cidr>(wanted.begin(), wanted.end()).size();
	fmt::print("imported {}: {} added, {} already present, {} deleted\n", args.file.string(),
		   result.added.size(), distinct - result.added.size(), result.deleted.size());
	return kExitOk;
}

int cmd_export(const Context &ctx)
{
	auto maps = open_state(ctx);
	fmt::print("{}", render_rule_export(cidrs_of(RuleStore(maps).rules())));
	return kExitOk;
}

int cmd_list(const Context &ctx, bool json)
{
	auto maps = open_state(ctx);
	fmt::print("{}", render_rule_list(cidrs_of(RuleStore(maps).rules()), json));
	return kExitOk;
}

int cmd_show(const Context &ctx, const ShowArgs &args)
{
	std::optional<Cidr> only;
	if (args.rule)
		only = parse_cidr(*args.rule);
	auto maps = open_state(ctx);
	auto rows = RuleStore(maps).counters();
	if (only) {
		std::erase_if(rows, [&](const RuleCounters &r) { return r.cidr != *only; });
		if (rows.empty())
			fail_runtime(fmt::format("no such rule {}", only->str()));
	}
	sort_rows(rows, args.view.sort);
	auto out = render_counters(rows, args.view);
	fwrite(out.data(), 1, out.size(), stdout);
	return kExitOk;
}

int cmd_reset(const Context &ctx, const std::optional<std::string> &rule)
{
	std::optional<Cidr> only;
	if (rule)
		only = parse_cidr(*rule);
	prepare_pin_dir(ctx.pin_dir, PinDirMode::kMustExist);
	PinLock lock(ctx.pin_dir);
	auto maps = MapSet::open_pinned(ctx.pin_dir);
	RuleStore(maps).reset(only);
	fmt::print("counters reset for {}\n", only ? only->str() : "all rules");
	return kExitOk;
}

} // namespace tmeter

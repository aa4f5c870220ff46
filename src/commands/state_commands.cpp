// save, restore: rules and figures through a reboot (SPEC §2).
#include <fmt/format.h>

#include "commands/commands.h"
#include "persist/state_file.h"
#include "rules/rule_store.h"
#include "state/resize.h"
#include "state/state.h"
#include "util/error.h"
#include "util/read_file.h"

namespace tmeter {
namespace {

// A state file holds about 120 bytes a rule: room for millions.
constexpr size_t kMaxStateFileBytes = size_t(1) << 30;

} // namespace

int cmd_save(const Context &ctx, const std::filesystem::path &file)
{
	State state = State::open(ctx.pin_dir, Access::kRead);
	SavedState s = snapshot_state(state);
	write_file_atomically(file, render_state_file(s));
	fmt::print("saved {} rules to {}\n", s.rules.size(), file.string());
	return kExitOk;
}

int cmd_restore(const Context &ctx, const std::filesystem::path &file, bool if_exists)
{
	std::error_code ec;
	if (if_exists && !std::filesystem::exists(file, ec)) {
		fmt::print("no state file {}: nothing to restore\n", file.string());
		return kExitOk;
	}
	const std::string text = read_input_file(file, kMaxStateFileBytes);
	SavedState saved = parse_state_file(text, file.string());

	State state = State::open(ctx.pin_dir, Access::kWrite);
	recover_resize(state, {}, false);
	tm_config cfg = state.config();
	if (saved.boot_id == current_boot_id() && saved.instance_id == cfg.instance_id) {
		fmt::print("the figures in {} (saved at {}) are this state's own and still counting: "
			   "nothing to restore\n",
			   file.string(), saved.saved_at);
		return kExitOk;
	}
	if (restored_from(cfg.restored, text)) {
		fmt::print("{} (saved at {}) was restored already in this boot: nothing added\n",
			   file.string(), saved.saved_at);
		return kExitOk;
	}
	RuleChange change;
	std::vector<SavedCounters> figures;
	for (const auto &r : saved.rules) {
		change.add.push_back(r.cidr);
		figures.push_back({r.cidr, {r.up_packets, r.up_bytes, r.down_packets, r.down_bytes}});
	}
	RuleStore store(state.maps());
	auto result = store.apply(change);
	// The figures, then the mark that they are in: a restore killed in
	// between leaves the rules, and the next restore adds the figures.
	store.add_to_shown(figures);
	cfg = state.config();
	cfg.restored = state_file_signature(text);
	state.maps().write_config(cfg);
	state.refresh_bookkeeping();
	fmt::print("restored {} rules from {} (saved at {}): {} recreated\n", saved.rules.size(),
		   file.string(), saved.saved_at, result.added.size());
	return kExitOk;
}

} // namespace tmeter

// Every command's arguments and entry point. cli/cli.cpp declares the
// command line in one table and calls these; they print, library code
// (bpf/, net/, rules/, state/, output/) does not.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "net/hooks.h"
#include "output/counters_view.h"

namespace tmeter {

struct Context {
	std::filesystem::path pin_dir;
	bool verbose = false;
};

struct LoadArgs {
	std::string dev;
	std::optional<std::filesystem::path> object;
	std::optional<uint32_t> max_rules;
	std::optional<uint32_t> max_flows;
	bool force = false;
	AttachMode mode = AttachMode::kAuto;
};

struct UnloadArgs {
	std::string dev;
	bool all = false;
};

struct ImportArgs {
	std::filesystem::path file;
	bool replace = false;
};

struct ShowArgs {
	std::optional<std::string> rule;
	ShowOptions view;
};

struct ApplyArgs {
	std::optional<std::filesystem::path> config;
	bool dry_run = false;
};

struct WatchArgs {
	double interval = 1.0;
	std::optional<uint64_t> count;
	std::optional<SortKey> sort;
	bool json = false;
};

struct ServeArgs {
	std::vector<std::string> listen;
	std::optional<std::filesystem::path> state_file;
	uint32_t save_interval = 300;
	uint32_t max_series = 10000;
	std::optional<std::filesystem::path> config;
};

int cmd_load(const Context &ctx, const LoadArgs &args);
int cmd_unload(const Context &ctx, const UnloadArgs &args);
int cmd_purge(const Context &ctx, bool force);
int cmd_add(const Context &ctx, const std::vector<std::string> &rules);
int cmd_del(const Context &ctx, const std::vector<std::string> &rules);
int cmd_import(const Context &ctx, const ImportArgs &args);
int cmd_export(const Context &ctx);
int cmd_list(const Context &ctx, bool json);
int cmd_show(const Context &ctx, const ShowArgs &args);
int cmd_reset(const Context &ctx, const std::optional<std::string> &rule);
int cmd_status(const Context &ctx, bool json);
int cmd_save(const Context &ctx, const std::filesystem::path &file);
int cmd_serve(const Context &ctx, const ServeArgs &args);
int cmd_watch(const Context &ctx, const WatchArgs &args);
int cmd_apply(const Context &ctx, const ApplyArgs &args);
int cmd_restore(const Context &ctx, const std::filesystem::path &file, bool if_exists);

} // namespace tmeter

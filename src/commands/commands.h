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

} // namespace tmeter

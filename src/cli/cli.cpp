// The command line, declared in one place: every command, its options and
// the function that runs it.
#include "cli/cli.h"

#include <functional>

#include <bpf/libbpf.h>
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "commands/commands.h"
#include "rules/cidr.h"
#include "state/privileges.h"
#include "util/error.h"

namespace tmeter {
namespace {

constexpr const char *kDefaultPinPath = "/sys/fs/bpf/traffic_meter";

// Addresses are checked while parsing, so that bad input is a usage error
// (exit 2) before anything else, privileges included, is looked at.
const CLI::Validator kCidr(
	[](std::string &text) { return validate_cidr(text, nullptr); }, "CIDR", "CIDR");

template <typename T> void set_if_given(const CLI::Option *opt, const T &value, std::optional<T> &out)
{
	if (opt->count())
		out = value;
}

} // namespace

int run_cli(int argc, char **argv)
{
	CLI::App app{"Counts upstream and downstream bytes and packets per IP address or CIDR "
		     "prefix with a TC BPF program.",
		     "traffic_meter"};
	app.require_subcommand(1, 1);
	app.fallthrough();
	app.set_version_flag("--version", std::string("traffic_meter ") + TRAFFIC_METER_VERSION);

	Context ctx;
	std::string pin_path = kDefaultPinPath;
	app.add_option("--pin-path", pin_path, "Where the maps are pinned (bpffs)")
		->envname("TRAFFIC_METER_PIN_PATH")
		->capture_default_str();
	app.add_flag("-v,--verbose", ctx.verbose, "Explain failures in detail (verifier log)");

	std::function<int()> run;
	bool needs_net_admin = false; // load, unload, purge change qdiscs and filters

	LoadArgs load;
	std::string object;
	uint32_t max_rules = 0, max_flows = 0;
	auto *cmd = app.add_subcommand("load", "Attach to an interface's ingress and egress hooks");
	cmd->add_option("--dev", load.dev, "Interface")->required();
	auto *object_opt = cmd->add_option("--object", object, "BPF object file (default: embedded)");
	auto *rules_opt = cmd->add_option("--max-rules", max_rules, "Rule capacity (first load)")
				  ->check(CLI::PositiveNumber);
	auto *flows_opt = cmd->add_option("--max-flows", max_flows, "Flow table capacity (first load)")
				  ->check(CLI::PositiveNumber);
	cmd->add_flag("--force", load.force, "Attach even if stacked on/under an attached device");
	std::string mode_name = "auto";
	cmd->add_option("--attach-mode", mode_name,
			"TCX links (Linux 6.6+), tc filters on clsact, or auto: TCX where the kernel "
			"has it")
		->check(CLI::IsMember({"auto", "tcx", "netlink"}))
		->envname("TRAFFIC_METER_ATTACH_MODE")
		->capture_default_str();
	cmd->callback([&] {
		load.mode = mode_name == "tcx"	     ? AttachMode::kTcx
			    : mode_name == "netlink" ? AttachMode::kNetlink
						     : AttachMode::kAuto;
		if (object_opt->count())
			load.object = object;
		set_if_given(rules_opt, max_rules, load.max_rules);
		set_if_given(flows_opt, max_flows, load.max_flows);
		needs_net_admin = true;
		run = [&] { return cmd_load(ctx, load); };
	});

	UnloadArgs unload;
	cmd = app.add_subcommand("unload", "Detach from an interface (rules and counters stay)");
	auto *dev_opt = cmd->add_option("--dev", unload.dev, "Interface");
	cmd->add_flag("--all", unload.all, "Every attached interface")->excludes(dev_opt);
	cmd->callback([&] {
		needs_net_admin = true;
		run = [&] { return cmd_unload(ctx, unload); };
	});

	bool purge_force = false;
	cmd = app.add_subcommand("purge", "Detach everywhere and remove all pinned state");
	cmd->add_flag("--force", purge_force,
		      "Remove the pins even if the state belongs to another network namespace "
		      "(one that no longer exists: its hooks went with it)");
	cmd->callback([&] {
		needs_net_admin = true;
		run = [&] { return cmd_purge(ctx, purge_force); };
	});

	std::vector<std::string> add_rules;
	cmd = app.add_subcommand("add", "Add rules (counters start at zero)");
	cmd->add_option("--ip-address", add_rules, "CIDR or address; repeatable")
		->required()
		->check(kCidr);
	cmd->callback([&] { run = [&] { return cmd_add(ctx, add_rules); }; });

	std::vector<std::string> del_rules;
	cmd = app.add_subcommand("del", "Delete rules and their counters");
	cmd->add_option("--ip-address", del_rules, "CIDR or address; repeatable")
		->required()
		->check(kCidr);
	cmd->callback([&] { run = [&] { return cmd_del(ctx, del_rules); }; });

	ImportArgs import;
	std::string import_file;
	cmd = app.add_subcommand("import", "Add rules from a JSON file, all or nothing");
	cmd->add_option("--file", import_file, "{\"rules\": [\"CIDR\", ...]} or a bare array")
		->required();
	cmd->add_flag("--replace", import.replace, "Make the file the exact rule set");
	cmd->callback([&] {
		import.file = import_file;
		run = [&] { return cmd_import(ctx, import); };
	});

	cmd = app.add_subcommand("export", "Print the rule set as JSON (input for import)");
	cmd->callback([&] { run = [&] { return cmd_export(ctx); }; });

	bool list_json = false;
	cmd = app.add_subcommand("list", "Print the rules");
	cmd->add_flag("--json", list_json, "JSON output");
	cmd->callback([&] { run = [&] { return cmd_list(ctx, list_json); }; });

	ShowArgs show;
	std::string show_rule, sort_key;
	bool show_json = false, show_csv = false;
	cmd = app.add_subcommand("show", "Print counters per rule");
	cmd->alias("stats");
	auto *show_rule_opt = cmd->add_option("--ip-address", show_rule, "Only this rule")->check(kCidr);
	auto *json_opt = cmd->add_flag("--json", show_json, "JSON output");
	cmd->add_flag("--csv", show_csv, "CSV output")->excludes(json_opt);
	cmd->add_flag("-H,--human", show.view.human, "Bytes in KiB/MiB/GiB/TiB");
	auto *sort_opt = cmd->add_option("--sort", sort_key, "Largest first by up, down or total bytes")
				 ->check(CLI::IsMember({"up", "down", "total"}));
	cmd->callback([&] {
		if (show_rule_opt->count())
			show.rule = show_rule;
		show.view.format = show_json  ? OutputFormat::kJson
				   : show_csv ? OutputFormat::kCsv
					      : OutputFormat::kTable;
		if (sort_opt->count())
			show.view.sort = sort_key == "up"     ? SortKey::kUp
					 : sort_key == "down" ? SortKey::kDown
							      : SortKey::kTotal;
		run = [&] { return cmd_show(ctx, show); };
	});

	std::string reset_rule;
	std::optional<std::string> reset_only;
	cmd = app.add_subcommand("reset", "Zero the counters of one rule or of all");
	auto *reset_opt = cmd->add_option("--ip-address", reset_rule, "Only this rule")->check(kCidr);
	cmd->callback([&] {
		if (reset_opt->count())
			reset_only = reset_rule;
		run = [&] { return cmd_reset(ctx, reset_only); };
	});

	bool status_json = false;
	cmd = app.add_subcommand("status", "Attached interfaces, program, table fill, data plane stats");
	cmd->add_flag("--json", status_json, "JSON output");
	cmd->callback([&] { run = [&] { return cmd_status(ctx, status_json); }; });

	std::string save_file;
	cmd = app.add_subcommand("save", "Write rules and counters to a file, atomically");
	cmd->add_option("--file", save_file, "State file")->required();
	cmd->callback([&] { run = [&] { return cmd_save(ctx, save_file); }; });

	std::string restore_file;
	bool restore_if_exists = false;
	cmd = app.add_subcommand("restore", "Put saved rules and counters back, once per boot");
	cmd->add_option("--file", restore_file, "State file written by save")->required();
	cmd->add_flag("--if-exists", restore_if_exists, "A missing file is no error");
	cmd->callback([&] { run = [&] { return cmd_restore(ctx, restore_file, restore_if_exists); }; });

	ApplyArgs apply;
	std::string apply_config;
	cmd = app.add_subcommand("apply", "Make the live state equal a configuration file");
	auto *apply_config_opt =
		cmd->add_option("--config", apply_config, "Configuration (default /etc/traffic_meter/config.json)");
	cmd->add_flag("--dry-run", apply.dry_run, "Print what would change; change nothing");
	cmd->callback([&] {
		if (apply_config_opt->count())
			apply.config = apply_config;
		needs_net_admin = true;
		run = [&] { return cmd_apply(ctx, apply); };
	});

	WatchArgs watch;
	uint64_t watch_count = 0;
	std::string watch_sort;
	cmd = app.add_subcommand("watch", "Live rates per rule, top talkers first");
	cmd->add_option("--interval", watch.interval, "Seconds between refreshes")
		->check(CLI::Range(0.1, 3600.0))
		->capture_default_str();
	auto *count_opt = cmd->add_option("--count", watch_count, "Refreshes, then exit")
				  ->check(CLI::PositiveNumber);
	auto *watch_sort_opt = cmd->add_option("--sort", watch_sort, "By up, down or total rate")
				       ->check(CLI::IsMember({"up", "down", "total"}));
	cmd->add_flag("--json", watch.json, "One JSON object per refresh (NDJSON)");
	cmd->callback([&] {
		if (count_opt->count())
			watch.count = watch_count;
		if (watch_sort_opt->count())
			watch.sort = watch_sort == "up"	    ? SortKey::kUp
				     : watch_sort == "down" ? SortKey::kDown
							    : SortKey::kTotal;
		run = [&] { return cmd_watch(ctx, watch); };
	});

	ServeArgs serve;
	std::string serve_state, serve_config;
	cmd = app.add_subcommand("serve", "Prometheus exporter; keeps the bookkeeping current");
	cmd->add_option("--listen", serve.listen, "ADDR:PORT to listen on; repeatable (default "
						 "127.0.0.1:9464)");
	auto *serve_state_opt = cmd->add_option("--state-file", serve_state,
						"Checkpoint counters here (as save) periodically and at exit");
	cmd->add_option("--save-interval", serve.save_interval, "Seconds between checkpoints")
		->check(CLI::PositiveNumber)
		->capture_default_str();
	cmd->add_option("--max-series", serve.max_series,
			"Rules with their own series; the rest are summed into rule=\"other\"")
		->check(CLI::PositiveNumber)
		->capture_default_str();
	auto *serve_config_opt = cmd->add_option("--config", serve_config,
						 "Configuration whose interfaces are attached again when "
						 "they come back");
	cmd->callback([&] {
		if (serve_state_opt->count())
			serve.state_file = serve_state;
		if (serve_config_opt->count())
			serve.config = serve_config;
		run = [&] { return cmd_serve(ctx, serve); };
	});

	try {
		app.parse(argc, argv);
	} catch (const CLI::ParseError &e) {
		if (e.get_exit_code() == 0)
			return app.exit(e); // --help, --version
		if (app.get_subcommands().empty())
			for (const auto &word : app.remaining())
				if (!word.empty() && word[0] != '-')
					fail_usage(fmt::format("unknown command '{}'; see --help", word));
		if (dynamic_cast<const CLI::ValidationError *>(&e))
			fail_usage(e.what()); // says what is wrong with the value already
		fail_usage(fmt::format("{}; see --help", e.what()));
	}
	ctx.pin_dir = pin_path;
	// libbpf prints to stderr unless told otherwise (a missing clsact on a
	// query, say); load captures its log explicitly.
	libbpf_set_print(nullptr);
	require_privileges(needs_net_admin);
	return run();
}

} // namespace tmeter

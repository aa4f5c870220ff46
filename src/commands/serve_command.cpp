// serve: the Prometheus exporter and the long-running part of the service
// (SPEC §2, §4): it keeps the upper-device bookkeeping current, re-attaches
// configured interfaces that come back, and checkpoints the counters.
#include <net/if.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>

#include <fmt/format.h>

#include "commands/commands.h"
#include "config/meter_config.h"
#include "exporter/collector.h"
#include "exporter/http_exporter.h"
#include "net/device.h"
#include "persist/state_file.h"
#include "state/attach.h"
#include "state/ifaces.h"
#include "state/provision.h"
#include "state/state.h"
#include "util/error.h"
#include "util/read_file.h"

namespace tmeter {
namespace {

using Clock = std::chrono::steady_clock;

void checkpoint(const Context &ctx, const std::filesystem::path &file)
{
	State state = State::open(ctx.pin_dir, Access::kRead);
	write_file_atomically(file, render_state_file(snapshot_state(state)));
}

// Configured interfaces that exist but are not hooked by us (a WireGuard or
// PPP device come back with a new ifindex, say): attached again.
void reattach_configured(const Context &ctx, const std::vector<std::string> &names)
{
	std::vector<LinkInfo> todo;
	{
		State state = State::open(ctx.pin_dir, Access::kRead);
		auto records = read_ifaces(state.maps().ifaces);
		for (const auto &link : list_links()) {
			if (std::find(names.begin(), names.end(), link.name) == names.end())
				continue;
			auto rec = records.find(link.ifindex);
			if (rec != records.end() && rec->second.role == TM_ROLE_ATTACHED) {
				auto hooks = query_hooks(link.ifindex, hook_record_of(rec->second),
							 state.links_dir());
				if (hooks.ingress && (hooks.egress || rec->second.link_kind == TM_LINK_LOOPBACK))
					continue;
			}
			todo.push_back(link);
		}
	}
	if (todo.empty())
		return;
	State state = State::open(ctx.pin_dir, Access::kWrite);
	// The records of interfaces of those names that are gone go first; the
	// device that comes back gets the attach mode its predecessor had (an
	// operator who chose tc filters keeps them).
	std::map<std::string, AttachMode> mode_of;
	for (const auto &[ifindex, rec] : attached_ifaces(state.maps())) {
		char name[IF_NAMESIZE] = {};
		const std::string recorded(rec.name);
		if (!if_indextoname(unsigned(ifindex), name) &&
		    std::find(names.begin(), names.end(), recorded) != names.end()) {
			mode_of[recorded] =
				rec.attach_mode == TM_ATTACH_NETLINK ? AttachMode::kNetlink : AttachMode::kAuto;
			forget_iface(state.maps(), ifindex);
		}
	}
	BpfObject obj = load_object_on(state, ObjectOptions{std::nullopt, ctx.verbose});
	for (const auto &link : todo) {
		auto mode = mode_of.find(link.name);
		attach_interface(state, obj, link, mode == mode_of.end() ? AttachMode::kAuto : mode->second,
				 state.config().maps_gen);
		fmt::print("attached to {} again\n", link.name);
	}
	state.refresh_bookkeeping();
}

// One round of upkeep; failures are reported once, not every second.
void keep_up(const Context &ctx, const std::vector<std::string> &interfaces, std::string &last_error)
{
	try {
		if (!interfaces.empty())
			reattach_configured(ctx, interfaces);
		State::open(ctx.pin_dir, Access::kRead).refresh_bookkeeping();
		last_error.clear();
	} catch (const std::exception &e) {
		if (last_error != e.what())
			fmt::print(stderr, "traffic_meter: serve: {}\n", e.what());
		last_error = e.what();
	}
	std::fflush(stdout);
}

} // namespace

int cmd_serve(const Context &ctx, const ServeArgs &args)
{
	std::vector<ListenAddress> addresses;
	for (const auto &text : args.listen.empty() ? std::vector<std::string>{"127.0.0.1:9464"}
						    : args.listen)
		addresses.push_back(parse_listen_address(text));
	std::vector<std::string> interfaces;
	if (args.config)
		interfaces = parse_meter_config(read_input_file(*args.config), args.config->string())
				     .interfaces;

	// SIGTERM and SIGINT are taken here, in the main thread, between rounds
	// of upkeep; the server threads never see them.
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, nullptr);

	Collector collector(ctx.pin_dir, args.max_series);
	std::string last_error;
	{
		HttpExporter http(collector, addresses);
		for (const auto &a : addresses)
			fmt::print("serving http://{}/metrics\n", a.text);
		std::fflush(stdout);
		auto next_save = Clock::now() + std::chrono::seconds(args.save_interval);
		for (;;) {
			timespec tick{1, 0};
			const int sig = sigtimedwait(&stop, nullptr, &tick);
			if (sig == SIGTERM || sig == SIGINT)
				break;
			keep_up(ctx, interfaces, last_error);
			if (args.state_file && Clock::now() >= next_save) {
				next_save = Clock::now() + std::chrono::seconds(args.save_interval);
				try {
					checkpoint(ctx, *args.state_file);
				} catch (const std::exception &e) {
					fmt::print(stderr, "traffic_meter: serve: checkpoint: {}\n", e.what());
				}
			}
		}
	}
	if (args.state_file) {
		checkpoint(ctx, *args.state_file);
		fmt::print("saved {}\n", args.state_file->string());
	}
	fmt::print("stopped\n");
	return kExitOk;
}

} // namespace tmeter

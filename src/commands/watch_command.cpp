// watch: live per-rule rates, refreshed in place on a terminal (no flicker:
// the cursor goes home and each line overwrites the last one's), or one
// NDJSON line per refresh.
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "commands/commands.h"
#include "output/rates_view.h"
#include "persist/state_file.h"
#include "rules/rule_store.h"
#include "state/state.h"
#include "util/error.h"

namespace tmeter {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<RuleCounters> read_counters(const Context &ctx)
{
	State state = State::open(ctx.pin_dir, Access::kRead);
	return RuleStore(state.maps()).counters(Figures::kShown);
}

// The alternate screen, left again (with the cursor shown) on every exit.
class Screen {
public:
	Screen() { std::fputs("\x1b[?1049h\x1b[?25l", stdout); }
	~Screen()
	{
		std::fputs("\x1b[?25h\x1b[?1049l", stdout);
		std::fflush(stdout);
	}
	Screen(const Screen &) = delete;
	Screen &operator=(const Screen &) = delete;
};

volatile sig_atomic_t g_stop = 0; // set by SIGINT/SIGTERM: leave the loop, restore the screen

void on_signal(int) { g_stop = 1; }

} // namespace

int cmd_watch(const Context &ctx, const WatchArgs &args)
{
	const bool tty = isatty(STDOUT_FILENO) && !args.json;
	std::optional<Screen> screen;
	if (tty) {
		struct sigaction sa {};
		sa.sa_handler = on_signal;
		sigaction(SIGINT, &sa, nullptr);
		sigaction(SIGTERM, &sa, nullptr);
	}
	auto before = read_counters(ctx);
	auto then = Clock::now();
	const auto step = std::chrono::duration<double>(args.interval);
	auto next = then + std::chrono::duration_cast<Clock::duration>(step);
	for (uint64_t n = 0; !args.count || n < *args.count; ++n) {
		while (Clock::now() < next && !g_stop)
			std::this_thread::sleep_for(std::min<Clock::duration>(
				next - Clock::now(), std::chrono::milliseconds(100)));
		if (g_stop)
			break;
		auto after = read_counters(ctx);
		const auto now = Clock::now();
		RatesModel m = rates_between(before, after,
					     std::chrono::duration<double>(now - then).count(),
					     utc_now_iso8601());
		sort_by_rate(m.rows, args.sort);
		if (args.json) {
			fmt::print("{}", render_rates_json(m));
		} else if (tty) {
			if (!screen)
				screen.emplace();
			winsize ws{};
			ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
			const unsigned width = ws.ws_col ? ws.ws_col : 80, height = ws.ws_row ? ws.ws_row : 24;
			fmt::print("\x1b[H{}\x1b[J", render_rates_screen(m, width, height - 1, true));
		} else {
			fmt::print("{}\n", render_rates_screen(m, 100, 1000, false));
		}
		std::fflush(stdout);
		before = std::move(after);
		then = now;
		next += std::chrono::duration_cast<Clock::duration>(step);
	}
	return kExitOk;
}

} // namespace tmeter

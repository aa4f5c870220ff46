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

// Sleeps until `next`; false if SIGINT or SIGTERM came first. `stop` (the
// two signals, blocked by the caller) is null where they keep their
// default action.
bool sleep_until(Clock::time_point next, const sigset_t *stop)
{
	for (Clock::time_point now; (now = Clock::now()) < next;) {
		if (!stop) {
			std::this_thread::sleep_for(next - now);
			continue;
		}
		const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(next - now);
		const timespec ts{time_t(left.count() / 1000000000), long(left.count() % 1000000000)};
		const int sig = sigtimedwait(stop, nullptr, &ts);
		if (sig == SIGINT || sig == SIGTERM)
			return false;
	}
	return true;
}

} // namespace

int cmd_watch(const Context &ctx, const WatchArgs &args)
{
	const bool tty = isatty(STDOUT_FILENO) && !args.json;
	std::optional<Screen> screen;
	// On a terminal SIGINT and SIGTERM end the loop, so that the screen is
	// restored: they are blocked and taken between refreshes, as serve
	// does (no handler, no flag shared with one).
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	if (tty) {
		sigaddset(&stop_signals, SIGINT);
		sigaddset(&stop_signals, SIGTERM);
		sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
	}
	const sigset_t *stop = tty ? &stop_signals : nullptr;
	auto before = read_counters(ctx);
	auto then = Clock::now();
	const auto step = std::chrono::duration<double>(args.interval);
	auto next = then + std::chrono::duration_cast<Clock::duration>(step);
	for (uint64_t n = 0; !args.count || n < *args.count; ++n) {
		if (!sleep_until(next, stop))
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

// `watch`: per-rule rates over the last interval (SPEC §2, §4), one model,
// rendered as one NDJSON line per refresh or as a screen fitted to the
// terminal. Pure functions of their input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "output/counters_view.h"
#include "rules/rule_store.h"

namespace tmeter {

struct RateRow {
	RuleCounters totals; // as `show --json` prints them
	double up_bps = 0, down_bps = 0, up_pps = 0, down_pps = 0;
};

struct RatesModel {
	std::string time; // ISO 8601, UTC, end of the interval
	double interval_s = 0;
	std::vector<RateRow> rows;
};

// Rates from two readings `seconds` apart. A rule that appeared in between
// has no rate yet (0); figures that went down (a reset) count as 0.
RatesModel rates_between(const std::vector<RuleCounters> &before,
			 const std::vector<RuleCounters> &after, double seconds, std::string time);

// Top talkers first: by total (default), up or down bit rate.
void sort_by_rate(std::vector<RateRow> &rows, std::optional<SortKey> key);

std::string render_rates_json(const RatesModel &m);
// At most `height` lines of at most `width` columns; each line ends with
// the "clear to end of line" sequence when `ansi`.
std::string render_rates_screen(const RatesModel &m, unsigned width, unsigned height, bool ansi);

// 1234567 -> "1.23 Mbit/s".
std::string human_bits(double bits_per_second);

} // namespace tmeter

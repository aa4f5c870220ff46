#include "output/rates_view.h"

#include <algorithm>
#include <iterator>
#include <map>

#include <fmt/format.h>

namespace tmeter {
namespace {

double per_second(uint64_t now, uint64_t then, double seconds)
{
	return now >= then && seconds > 0 ? double(now - then) / seconds : 0.0;
}

double total_bps(const RateRow &r) { return r.up_bps + r.down_bps; }

std::string fit(std::string s, size_t width)
{
	if (s.size() > width)
		s.resize(width);
	return s;
}

} // namespace

RatesModel rates_between(const std::vector<RuleCounters> &before,
			 const std::vector<RuleCounters> &after, double seconds, std::string time)
{
	std::map<Cidr, const RuleCounters *> then;
	for (const auto &r : before)
		then[r.cidr] = &r;
	RatesModel m;
	m.time = std::move(time);
	m.interval_s = seconds;
	for (const auto &r : after) {
		RateRow row;
		row.totals = r;
		if (auto it = then.find(r.cidr); it != then.end()) {
			const RuleCounters &b = *it->second;
			row.up_bps = 8 * per_second(r.up_bytes, b.up_bytes, seconds);
			row.down_bps = 8 * per_second(r.down_bytes, b.down_bytes, seconds);
			row.up_pps = per_second(r.up_packets, b.up_packets, seconds);
			row.down_pps = per_second(r.down_packets, b.down_packets, seconds);
		}
		m.rows.push_back(row);
	}
	return m;
}

void sort_by_rate(std::vector<RateRow> &rows, std::optional<SortKey> key)
{
	const SortKey k = key.value_or(SortKey::kTotal);
	std::stable_sort(rows.begin(), rows.end(), [k](const RateRow &a, const RateRow &b) {
		switch (k) {
		case SortKey::kUp:
			return a.up_bps > b.up_bps;
		case SortKey::kDown:
			return a.down_bps > b.down_bps;
		case SortKey::kTotal:
			break;
		}
		return total_bps(a) > total_bps(b);
	});
}

std::string human_bits(double bps)
{
	static const char *units[] = {"bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"};
	size_t u = 0;
	while (bps >= 999.5 && u + 1 < std::size(units)) {
		bps /= 1000;
		++u;
	}
	return u ? fmt::format("{:.2f} {}", bps, units[u]) : fmt::format("{:.0f} {}", bps, units[u]);
}

std::string render_rates_json(const RatesModel &m)
{
	std::string out;
	fmt::format_to(std::back_inserter(out), R"({{"time": "{}", "interval_s": {:.3f}, "rules": [)",
		       m.time, m.interval_s);
	for (size_t i = 0; i < m.rows.size(); ++i) {
		const RateRow &r = m.rows[i];
		out += i ? ", {" : "{";
		append_rule_fields(out, r.totals.cidr);
		fmt::format_to(std::back_inserter(out),
			       R"(, "up_bps": {:.0f}, "down_bps": {:.0f}, "up_pps": {:.1f}, "down_pps": {:.1f}, )",
			       r.up_bps, r.down_bps, r.up_pps, r.down_pps);
		append_counter_fields(out, r.totals);
		out += '}';
	}
	out += "]}\n";
	return out;
}

std::string render_rates_screen(const RatesModel &m, unsigned width, unsigned height, bool ansi)
{
	width = std::max(width, 20u);
	height = std::max(height, 4u);
	double up = 0, down = 0, upp = 0, downp = 0;
	for (const auto &r : m.rows)
		up += r.up_bps, down += r.down_bps, upp += r.up_pps, downp += r.down_pps;
	std::vector<std::string> lines;
	lines.push_back(fmt::format("traffic_meter watch  {}  every {:.1f} s  {} rules", m.time,
				    m.interval_s, m.rows.size()));
	lines.push_back(fmt::format("total  up {} ({:.0f} pkt/s)  down {} ({:.0f} pkt/s)",
				    human_bits(up), upp, human_bits(down), downp));
	// Columns that do not fit are left out from the right; the rule
	// column takes what is left, at least 18.
	const unsigned wide = 14, pkts = 12;
	const bool with_pkts = width >= 18 + 2 * wide + 2 * pkts + 4;
	const unsigned rule_w = width - (2 * wide + (with_pkts ? 2 * pkts : 0) + 1);
	auto row = [&](std::string_view rule, std::string_view a, std::string_view b,
		       std::string_view c, std::string_view d) {
		std::string s = fmt::format("{:<{}} {:>{}}{:>{}}", fit(std::string(rule), rule_w - 1),
					    rule_w - 1, a, wide, b, wide);
		if (with_pkts)
			s += fmt::format("{:>{}}{:>{}}", c, pkts, d, pkts);
		return fit(s, width);
	};
	lines.push_back(row("RULE", "UP", "DOWN", "UP pkt/s", "DOWN pkt/s"));
	for (const auto &r : m.rows) {
		if (lines.size() >= height)
			break;
		lines.push_back(row(r.totals.cidr.str(), human_bits(r.up_bps), human_bits(r.down_bps),
				    fmt::format("{:.0f}", r.up_pps), fmt::format("{:.0f}", r.down_pps)));
	}
	std::string out;
	for (const auto &l : lines) {
		out += fit(l, width);
		if (ansi)
			out += "\x1b[K"; // the rest of what the last refresh left there
		out += '\n';
	}
	return out;
}

} // namespace tmeter

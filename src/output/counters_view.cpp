#include "output/counters_view.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <string_view>

#include "traffic_meter_kern_user.h"

#include <fmt/compile.h>
#include <fmt/format.h>

namespace tmeter {
namespace {

uint64_t sort_value(const RuleCounters &r, SortKey key)
{
	switch (key) {
	case SortKey::kUp:
		return r.up_bytes;
	case SortKey::kDown:
		return r.down_bytes;
	case SortKey::kTotal:
		return total_bytes(r);
	}
	return 0;
}

// The rule column. IPv4 is formatted here, without the string Cidr::str()
// allocates: a million-row `show` spends its time on little else.
std::string_view rule_text(const Cidr &c, char (&buf)[64], std::string &slow)
{
	if (c.family != TM_FAMILY_IPV4) {
		slow = c.str();
		return slow;
	}
	auto end = fmt::format_to(buf, FMT_COMPILE("{}.{}.{}.{}/{}"), c.addr[0], c.addr[1], c.addr[2],
				  c.addr[3], c.prefixlen);
	return {buf, size_t(end - buf)};
}

// Rows are written with fmt rather than built as a JSON DOM: every field is
// a number or a CIDR (no escaping needed), and a million-rule `show --json`
// must stay within a second and bounded memory. Formats are compiled
// (FMT_COMPILE): parsing them at run time was a third of that second.
template <typename Format, typename... Args>
void append_row(std::string &out, const Format &format, const Args &...args)
{
	fmt::format_to(std::back_inserter(out), format, args...);
}

} // namespace

void append_rule_fields(std::string &out, const Cidr &c)
{
	char buf[64];
	std::string slow;
	append_row(out, FMT_COMPILE(R"("rule": "{}", "family": "{}")"), rule_text(c, buf, slow),
		   c.family_name());
}

void append_counter_fields(std::string &out, const RuleCounters &r)
{
	append_row(out, FMT_COMPILE(R"("up_bytes": {}, "up_packets": {}, "down_bytes": {}, "down_packets": {})"),
		   r.up_bytes, r.up_packets, r.down_bytes, r.down_packets);
}

uint64_t total_bytes(const RuleCounters &r)
{
	return r.up_bytes > UINT64_MAX - r.down_bytes ? UINT64_MAX : r.up_bytes + r.down_bytes;
}

void sort_rows(std::vector<RuleCounters> &rows, std::optional<SortKey> key)
{
	if (!key)
		return;
	std::stable_sort(rows.begin(), rows.end(), [&](const RuleCounters &a, const RuleCounters &b) {
		return sort_value(a, *key) > sort_value(b, *key);
	});
}

std::string human_bytes(uint64_t bytes)
{
	static constexpr std::array<const char *, 4> units = {"KiB", "MiB", "GiB", "TiB"};
	if (bytes < 1024)
		return fmt::format("{} B", bytes);
	double value = static_cast<double>(bytes) / 1024;
	size_t unit = 0;
	// 1023.96 KiB would print as "1024.0 KiB": move up at the rounding edge.
	while (value >= 1023.95 && unit + 1 < units.size()) {
		value /= 1024;
		++unit;
	}
	return fmt::format("{:.1f} {}", value, units[unit]);
}

void render_counters(const std::vector<RuleCounters> &rows, const ShowOptions &opts,
		     const std::function<void(std::string_view)> &sink)
{
	// Written in pieces of about 1 MiB: a million rows never sit in memory
	// as one string.
	constexpr size_t kFlushAt = 1 << 20;
	std::string out;
	out.reserve(kFlushAt + 4096);
	auto flush = [&](bool last) {
		if (out.size() >= kFlushAt || (last && !out.empty())) {
			sink(out);
			out.clear();
		}
	};
	char buf[64];
	std::string slow;
	switch (opts.format) {
	case OutputFormat::kJson:
		out += "{\"rules\": [";
		for (size_t i = 0; i < rows.size(); ++i) {
			out += i ? ",\n  {" : "\n  {";
			append_rule_fields(out, rows[i].cidr);
			out += ", ";
			append_counter_fields(out, rows[i]);
			out += '}';
			flush(false);
		}
		out += rows.empty() ? "]}\n" : "\n]}\n";
		break;
	case OutputFormat::kCsv:
		out += "rule,family,up_bytes,up_packets,down_bytes,down_packets\n";
		for (const auto &r : rows) {
			append_row(out, FMT_COMPILE("{},{},{},{},{},{}\n"), rule_text(r.cidr, buf, slow),
				   r.cidr.family_name(), r.up_bytes, r.up_packets, r.down_bytes, r.down_packets);
			flush(false);
		}
		break;
	case OutputFormat::kTable:
		fmt::format_to(std::back_inserter(out), "  {:<40} {:<20} {}\n", "IP/CIDR",
			       "UPSTREAM-BYTES", "DOWNSTREAM-BYTES");
		for (const auto &r : rows) {
			auto rule = rule_text(r.cidr, buf, slow);
			if (opts.human)
				append_row(out, FMT_COMPILE("  {:<40} {:<20} {}\n"), rule, human_bytes(r.up_bytes),
					   human_bytes(r.down_bytes));
			else
				append_row(out, FMT_COMPILE("  {:<40} {:<20} {}\n"), rule, r.up_bytes, r.down_bytes);
			flush(false);
		}
		break;
	}
	flush(true);
}

std::string render_counters(const std::vector<RuleCounters> &rows, const ShowOptions &opts)
{
	std::string all;
	render_counters(rows, opts, [&](std::string_view piece) { all += piece; });
	return all;
}

} // namespace tmeter

// One model (RuleCounters rows), three renderers: the SPEC §4 table, JSON
// and CSV. Pure functions of their input, so unit tests cover them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "rules/rule_store.h"

namespace tmeter {

enum class OutputFormat { kTable, kJson, kCsv };
enum class SortKey { kUp, kDown, kTotal };

struct ShowOptions {
	OutputFormat format = OutputFormat::kTable;
	bool human = false; // table only: KiB/MiB/GiB/TiB
	std::optional<SortKey> sort;
};

// Rows arrive in SPEC order (IPv4 first, address, prefix); --sort reorders
// by bytes, largest first, keeping that order among equals.
void sort_rows(std::vector<RuleCounters> &rows, std::optional<SortKey> key);
// Bytes both ways (saturating): what --sort total and --max-series rank by.
uint64_t total_bytes(const RuleCounters &r);

std::string render_counters(const std::vector<RuleCounters> &rows, const ShowOptions &opts);
// The same, handed to `sink` in pieces (a million rows never sit in memory
// as one string).
void render_counters(const std::vector<RuleCounters> &rows, const ShowOptions &opts,
		     const std::function<void(std::string_view)> &sink);

// 1023 -> "1023 B", 524288 -> "512.0 KiB".
std::string human_bytes(uint64_t bytes);

// The JSON members every per-rule row has, written once for `show --json`
// and `watch --json`: `"rule": "...", "family": "..."` and the four totals.
void append_rule_fields(std::string &out, const Cidr &c);
void append_counter_fields(std::string &out, const RuleCounters &r);

} // namespace tmeter

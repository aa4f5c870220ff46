// The exporter's figures (SPEC §4), one model, rendered as the Prometheus
// text format 0.0.4 or OpenMetrics 1.0. Pure functions of their input.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "traffic_meter_kern_user.h"

namespace tmeter {

struct RuleSeries {
	std::string rule;   // a CIDR, or "other" (the folded rules)
	std::string family; // "ipv4", "ipv6", or "any" for "other"
	uint64_t up_bytes = 0, up_packets = 0, down_bytes = 0, down_packets = 0;
};

struct InterfaceSeries {
	std::string name;
	bool attached = false; // both hooks (ingress only for loopback) in place
};

struct MetricsModel {
	std::string version;
	std::vector<RuleSeries> rules;
	uint64_t rules_folded = 0;
	uint64_t rules_count = 0, rules_capacity = 0, flows = 0, flows_capacity = 0;
	std::vector<InterfaceSeries> interfaces;
	tm_stats dataplane{};
	double scrape_seconds = 0;
};

enum class Exposition { kPrometheusText, kOpenMetrics };

std::string render_metrics(const MetricsModel &m, Exposition format);
// The same, handed to `sink` in pieces of about 1 MiB: the exporter streams
// them, so a scrape of a million series never holds its 300 MiB of text.
void render_metrics(const MetricsModel &m, Exposition format,
		    const std::function<void(std::string_view)> &sink);
const char *content_type(Exposition format);

// A label value as the exposition formats escape it.
std::string escape_label(const std::string &v);

} // namespace tmeter

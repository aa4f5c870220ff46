#include "output/metrics_view.h"

#include <iterator>

#include <fmt/compile.h>
#include <fmt/format.h>

namespace tmeter {
namespace {

class Writer {
public:
	Writer(std::string &out, Exposition f) : out_(out), om_(f == Exposition::kOpenMetrics) {}

	// A family's header. OpenMetrics names a counter family without
	// `_total` and its samples with it; the text format names both alike.
	void family(std::string_view name, std::string_view type, std::string_view help)
	{
		std::string_view fam = name;
		if (om_ && type == "counter" && fam.ends_with("_total"))
			fam.remove_suffix(6);
		if (om_ && type == "info" && fam.ends_with("_info"))
			fam.remove_suffix(5);
		if (!om_ && type == "info")
			type = "gauge";
		fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", fam, help, fam, type);
	}
	template <typename V> void sample(std::string_view name, std::string_view labels, V value)
	{
		if (labels.empty())
			fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
		else
			fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
	}
	void end()
	{
		if (om_)
			out_ += "# EOF\n";
	}

private:
	std::string &out_;
	bool om_;
};

// Rule series, written straight into the buffer with a compiled format (a
// scrape of 100,000 rules is 400,000 lines), handed on every 1 MiB.
void rule_samples(std::string &out, const std::vector<RuleSeries> &rules, const char *name,
		  bool bytes, const std::function<void(std::string_view)> &sink)
{
	constexpr size_t kFlushAt = 1 << 20;
	for (const auto &r : rules) {
		const uint64_t up = bytes ? r.up_bytes : r.up_packets;
		const uint64_t down = bytes ? r.down_bytes : r.down_packets;
		fmt::format_to(std::back_inserter(out),
			       FMT_COMPILE("{0}{{rule=\"{1}\",family=\"{2}\",direction=\"up\"}} {3}\n"
					   "{0}{{rule=\"{1}\",family=\"{2}\",direction=\"down\"}} {4}\n"),
			       name, r.rule, r.family, up, down);
		if (out.size() >= kFlushAt) {
			sink(out);
			out.clear();
		}
	}
}

} // namespace

std::string escape_label(const std::string &v)
{
	std::string out;
	for (char c : v) {
		if (c == '\\' || c == '"')
			out += '\\', out += c;
		else if (c == '\n')
			out += "\\n";
		else
			out += c;
	}
	return out;
}

const char *content_type(Exposition format)
{
	return format == Exposition::kOpenMetrics
		       ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
		       : "text/plain; version=0.0.4; charset=utf-8";
}

void render_metrics(const MetricsModel &m, Exposition format,
		    const std::function<void(std::string_view)> &sink)
{
	std::string out;
	out.reserve((1 << 20) + 4096);
	Writer w(out, format);
	w.family("traffic_meter_bytes_total", "counter",
		 "IP bytes per rule and direction, counted by the kernel since the rule was created "
		 "in this boot.");
	rule_samples(out, m.rules, "traffic_meter_bytes_total", true, sink);
	w.family("traffic_meter_packets_total", "counter",
		 "IP packets per rule and direction (an aggregate counts as its segments).");
	rule_samples(out, m.rules, "traffic_meter_packets_total", false, sink);
	w.family("traffic_meter_rules_folded", "gauge",
		 "Rules summed into rule=\"other\" beyond --max-series.");
	w.sample("traffic_meter_rules_folded", "", m.rules_folded);
	w.family("traffic_meter_rules", "gauge", "Rules in the rule set.");
	w.sample("traffic_meter_rules", "", m.rules_count);
	w.family("traffic_meter_rules_capacity", "gauge", "Rule table capacity (--max-rules).");
	w.sample("traffic_meter_rules_capacity", "", m.rules_capacity);
	w.family("traffic_meter_flows", "gauge", "Entries in the flow tables.");
	w.sample("traffic_meter_flows", "", m.flows);
	w.family("traffic_meter_flows_capacity", "gauge", "Flow table capacity (--max-flows).");
	w.sample("traffic_meter_flows_capacity", "", m.flows_capacity);
	w.family("traffic_meter_interface_attached", "gauge",
		 "1 while an attached interface has its hooks, 0 when one is missing or it is gone.");
	for (const auto &i : m.interfaces)
		w.sample("traffic_meter_interface_attached",
			 fmt::format("interface=\"{}\"", escape_label(i.name)), i.attached ? 1 : 0);
	w.family("traffic_meter_build_info", "info", "The running traffic_meter.");
	w.sample("traffic_meter_build_info", fmt::format("version=\"{}\"", escape_label(m.version)), 1);
	w.family("traffic_meter_dataplane_packets_total", "counter",
		 "Packets the data plane ran on, by what became of them.");
	const tm_stats &s = m.dataplane;
	w.sample("traffic_meter_dataplane_packets_total", "result=\"counted\"", s.counted);
	w.sample("traffic_meter_dataplane_packets_total", "result=\"no_rule\"", s.no_rule);
	w.sample("traffic_meter_dataplane_packets_total", "result=\"not_ip\"", s.not_ip);
	w.sample("traffic_meter_dataplane_packets_total", "result=\"malformed\"", s.malformed);
	w.sample("traffic_meter_dataplane_packets_total", "result=\"egress_skipped\"", s.egress_skipped);
	w.family("traffic_meter_flow_insert_failures_total", "counter",
		 "New flows the flow table refused (counted, direction from that packet alone).");
	w.sample("traffic_meter_flow_insert_failures_total", "", s.flow_insert_failed);
	w.family("traffic_meter_scrape_duration_seconds", "gauge",
		 "Time this scrape took to read the maps.");
	w.sample("traffic_meter_scrape_duration_seconds", "", fmt::format("{:.6f}", m.scrape_seconds));
	w.end();
	sink(out);
}

std::string render_metrics(const MetricsModel &m, Exposition format)
{
	std::string all;
	all.reserve(m.rules.size() * 4 * 80 + 4096);
	render_metrics(m, format, [&](std::string_view piece) { all += piece; });
	return all;
}

} // namespace tmeter

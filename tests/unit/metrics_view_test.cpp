// The exposition (SPEC §4) as the exporter sends it: exact lines for a
// small model, and the streamed pieces of a large one.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "output/metrics_view.h"

namespace tmeter {
namespace {

MetricsModel small_model()
{
	MetricsModel m;
	m.version = "1.2.3";
	m.rules.push_back({"198.18.0.0/24", "ipv4", 1000, 10, 2000, 20});
	m.rules.push_back({"other", "any", 5, 1, 7, 2});
	m.rules_folded = 3;
	m.interfaces.push_back({"eth\"1", true});
	return m;
}

TEST(MetricsView, RuleSamplesAndEscapes)
{
	const std::string text = render_metrics(small_model(), Exposition::kPrometheusText);
	EXPECT_NE(text.find("# TYPE traffic_meter_bytes_total counter\n"
			    "traffic_meter_bytes_total{rule=\"198.18.0.0/24\",family=\"ipv4\",direction=\"up\"} 1000\n"
			    "traffic_meter_bytes_total{rule=\"198.18.0.0/24\",family=\"ipv4\",direction=\"down\"} 2000\n"
			    "traffic_meter_bytes_total{rule=\"other\",family=\"any\",direction=\"up\"} 5\n"),
		  std::string::npos)
		<< text;
	EXPECT_NE(text.find("traffic_meter_packets_total{rule=\"other\",family=\"any\",direction=\"down\"} 2\n"),
		  std::string::npos);
	EXPECT_NE(text.find("traffic_meter_interface_attached{interface=\"eth\\\"1\"} 1\n"), std::string::npos);
	EXPECT_NE(text.find("# TYPE traffic_meter_build_info gauge\n"), std::string::npos);
	EXPECT_EQ(text.find("# EOF"), std::string::npos);
}

TEST(MetricsView, OpenMetricsNamesFamiliesWithoutTotalAndEnds)
{
	const std::string text = render_metrics(small_model(), Exposition::kOpenMetrics);
	EXPECT_NE(text.find("# TYPE traffic_meter_bytes counter\n"), std::string::npos);
	EXPECT_NE(text.find("# TYPE traffic_meter_build info\n"), std::string::npos);
	EXPECT_TRUE(text.ends_with("# EOF\n"));
}

TEST(MetricsView, LargeModelStreamsInWholeLines)
{
	MetricsModel m = small_model();
	m.rules.clear();
	for (int i = 0; i < 40000; ++i)
		m.rules.push_back({fmt::format("10.{}.{}.0/24", i / 256, i % 256), "ipv4", uint64_t(i), 1, 2, 3});
	std::vector<std::string> pieces;
	render_metrics(m, Exposition::kOpenMetrics, [&](std::string_view p) { pieces.emplace_back(p); });
	ASSERT_GT(pieces.size(), 2u); // 160,000 series lines: several MiB, several pieces
	std::string joined;
	for (const auto &p : pieces) {
		EXPECT_LE(p.size(), (1u << 20) + 4096);
		EXPECT_EQ(p.back(), '\n'); // a piece never ends mid-line
		joined += p;
	}
	// Every series once, in order: two lines per rule and family.
	size_t bytes_lines = 0, packets_lines = 0;
	for (size_t at = 0; at < joined.size();) {
		const size_t end = joined.find('\n', at);
		const std::string_view line(joined.data() + at, end - at);
		bytes_lines += line.starts_with("traffic_meter_bytes_total{");
		packets_lines += line.starts_with("traffic_meter_packets_total{");
		at = end + 1;
	}
	EXPECT_EQ(bytes_lines, 80000u);
	EXPECT_EQ(packets_lines, 80000u);
	const size_t first = joined.find("traffic_meter_bytes_total{rule=\"10.0.0.0/24\",family=\"ipv4\",direction=\"up\"} 0\n");
	const size_t last = joined.find("traffic_meter_bytes_total{rule=\"10.156.63.0/24\",family=\"ipv4\",direction=\"up\"} 39999\n");
	EXPECT_NE(first, std::string::npos);
	EXPECT_NE(last, std::string::npos);
	EXPECT_LT(first, last);
	EXPECT_TRUE(joined.ends_with("# EOF\n"));
}

} // namespace
} // namespace tmeter

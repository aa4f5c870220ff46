// tm_counters' layout (bpf/maps.h, src/bpf/counter_table.h): a plain array,
// CPU-major, each CPU adding to its own row at cpu * rule capacity + slot.
// The differential test holds the summed figures to the model; this holds
// the rows apart, which sums cannot show (all CPUs adding to one row sum the
// same, and race).
#include <gtest/gtest.h>
#include <bpf/bpf.h>

#include <vector>

#include "dataplane_fixture.h"
#include "rules/rule_store.h"

namespace tmeter::dptest {
namespace {

TEST(CounterLayout, EachCpuAddsToItsOwnRow)
{
	constexpr uint32_t kRules = 64;
	const auto cpus = allowed_cpus(2);
	ASSERT_EQ(cpus.size(), 2u) << "this case needs two CPUs";
	CpuPin pin;
	Dataplane dp(Dataplane::Options{.max_rules = kRules, .max_flows = 128});
	const Prefix rule = prefix("198.18.0.10/32");
	dp.add({rule});

	bpf_map_info info{};
	uint32_t len = sizeof(info);
	ASSERT_EQ(bpf_obj_get_info_by_fd(dp.maps().counters.get(), &info, &len), 0);
	EXPECT_EQ(info.type, BPF_MAP_TYPE_ARRAY);
	EXPECT_EQ(info.max_entries, kRules * possible_cpus());

	// 3 packets on the first CPU, 5 on the second: 28-byte UDP upstream.
	const int sent[2] = {3, 5};
	for (int c = 0; c < 2; ++c) {
		CpuPin::pin_to(cpus[c]);
		for (int i = 0; i < sent[c]; ++i)
			ASSERT_EQ(dp.run({.frame = PacketBuilder()
							  .eth()
							  .ipv4(ip("198.18.0.10"), ip("198.19.1.1"))
							  .udp(40000, 53)
							  .build()}),
				  kTcActUnspec);
	}

	const auto rules = RuleStore(dp.maps()).rules();
	ASSERT_EQ(rules.size(), 1u);
	for (int c = 0; c < 2; ++c) {
		const uint32_t key = uint32_t(cpus[c]) * kRules + rules[0].slot;
		tm_counters got{};
		ASSERT_EQ(bpf_map_lookup_elem(dp.maps().counters.get(), &key, &got), 0);
		EXPECT_EQ(got.serial, rules[0].serial) << "CPU " << cpus[c];
		EXPECT_EQ(got.up_packets, uint64_t(sent[c])) << "CPU " << cpus[c];
		EXPECT_EQ(got.up_bytes, 28u * sent[c]) << "CPU " << cpus[c];
	}
	EXPECT_EQ(dp.counters(rule), (Counters{.up_packets = 8, .up_bytes = 28 * 8}));
}

} // namespace
} // namespace tmeter::dptest

// The flow table (bpf/maps.h): one-way flows live in the one-way ways and
// move to the two-way ways with their first answer, so one-way churn never evicts a live
// two-way flow, and with it its direction (SPEC §3). Packets pinned to two
// CPUs, which BPF_PROG_TEST_RUN runs them on, share one flow entry.
#include <gtest/gtest.h>
#include <bpf/bpf.h>
#include <sched.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <set>
#include <vector>

#include "dataplane_fixture.h"

namespace tmeter::dptest {
namespace {

using namespace tcpflag;

const Addr A = ip("198.18.0.10"), B = ip("198.19.1.1"), C = ip("198.19.2.2");
const Prefix kA = prefix("198.18.0.10/32"), kB = prefix("198.19.1.1/32");

std::vector<int> two_cpus()
{
	cpu_set_t set;
	std::vector<int> cpus;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < 2; ++cpu)
			if (CPU_ISSET(cpu, &set))
				cpus.push_back(cpu);
	return cpus;
}

// What every way of the table says, checked against the pool: a way with
// a flow has an entry, whose key hashes to that bucket and tag; no entry
// belongs to two ways; and every entry the allocator handed out is either
// a way's or still in a CPU's reserve (none leaked, none handed out twice).
// Returns the entries in use, in pool order.
std::vector<uint32_t> check_table(const MapSet &maps)
{
	const uint32_t buckets = MapSet::capacity(maps.flow_table);
	uint32_t zero = 0;
	tm_flow_alloc alloc{};
	EXPECT_EQ(bpf_map_lookup_elem(maps.flow_alloc.get(), &zero, &alloc), 0);
	std::vector<uint32_t> used;
	std::set<uint32_t> owned;
	for (uint32_t i = 0; i < buckets; ++i) {
		tm_flow_bucket b{};
		EXPECT_EQ(bpf_map_lookup_elem(maps.flow_table.get(), &i, &b), 0);
		for (int j = 0; j < TM_FLOW_SLOTS; ++j) {
			if (!b.entry[j]) {
				EXPECT_EQ(b.tag[j], 0u) << "bucket " << i << " way " << j << ": a flow, no entry";
				continue;
			}
			EXPECT_LE(b.entry[j], alloc.used) << "bucket " << i << " way " << j;
			EXPECT_TRUE(owned.insert(b.entry[j]).second) << "entry " << b.entry[j] << " in two ways";
			if (!b.tag[j])
				continue;
			tm_flow_entry e{};
			EXPECT_EQ(bpf_map_lookup_elem(maps.flow_pool.get(), &b.entry[j], &e), 0);
			__u64 w[5];
			std::memcpy(w, &e.key, sizeof(w));
			const uint64_t h = tm_flow_hash(w);
			EXPECT_EQ(tm_flow_bucket_index(h, buckets), i) << "entry " << b.entry[j];
			EXPECT_EQ(tm_flow_tag(h), b.tag[j]) << "entry " << b.entry[j];
			used.push_back(b.entry[j]);
		}
	}
	std::vector<tm_flow_reserve> reserves(possible_cpus());
	EXPECT_EQ(bpf_map_lookup_elem(maps.flow_reserve.get(), &zero, reserves.data()), 0);
	uint64_t reserved = 0;
	for (const auto &r : reserves)
		reserved += r.end > r.next ? r.end - r.next : 0;
	EXPECT_EQ(owned.size() + reserved, alloc.used) << "entries owned by ways + in reserves";
	std::sort(used.begin(), used.end());
	return used;
}

class FlowTable : public ::testing::Test {
protected:
	void SetUp() override
	{
		cpus_ = two_cpus();
		ASSERT_EQ(cpus_.size(), 2u) << "these cases need two CPUs";
		ASSERT_EQ(sched_getaffinity(0, sizeof(saved_), &saved_), 0);
		dp_ = &Dataplane::shared();
		dp_->reset();
		dp_->add({kA, kB});
	}
	void TearDown() override { sched_setaffinity(0, sizeof(saved_), &saved_); }

	// A packet of 40 + payload IP bytes (TCP) or 28 + payload (UDP), at
	// ingress on cpus_[cpu].
	void run(int cpu, Bytes frame)
	{
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpus_[cpu], &set);
		ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
		ASSERT_EQ(dp_->run({.frame = std::move(frame)}), kTcActUnspec);
	}
	void tcp(int cpu, const Addr &s, const Addr &d, uint16_t sp, uint16_t dport, uint8_t flags,
		 size_t payload = 0)
	{
		run(cpu, PacketBuilder().eth().ipv4(s, d).tcp(sp, dport, flags).payload(payload).build());
	}
	void udp(int cpu, const Addr &s, const Addr &d, uint16_t sp, uint16_t dport, size_t payload)
	{
		run(cpu, PacketBuilder().eth().ipv4(s, d).udp(sp, dport).payload(payload).build());
	}

	Dataplane *dp_ = nullptr;
	std::vector<int> cpus_;
	cpu_set_t saved_{};
};

// A SYN from B on CPU 0 reuses a 5-tuple A originated on CPU 1: CPU 1's
// next packet from A is downstream.
TEST_F(FlowTable, SynOnOneCpuIsSeenByTheOther)
{
	tcp(0, A, B, 1000, 80, kSyn);
	tcp(1, A, B, 1000, 80, kAck, 10);
	tcp(1, A, B, 1000, 80, kAck, 10);
	tcp(0, B, A, 80, 1000, kSyn); // B originates now
	tcp(1, A, B, 1000, 80, kAck, 100);
	tcp(1, B, A, 80, 1000, kAck, 200);
	Counters want{.up_packets = 5, .up_bytes = 40 + 50 + 50 + 40 + 240,
		      .down_packets = 1, .down_bytes = 140};
	EXPECT_EQ(dp_->counters(kA), want);
	EXPECT_EQ(dp_->counters(kB), want);
}

// New flows take the pool's entries in the order they come, so the flows a
// host has fill the pool's start however large the table (one CPU: its
// reserve of TM_FLOW_RESERVE, then the next).
TEST_F(FlowTable, NewFlowsTakePoolEntriesInArrivalOrder)
{
	constexpr uint32_t kFlows = 100;
	for (uint32_t i = 0; i < kFlows; ++i)
		udp(0, A, B, uint16_t(20000 + i), 53, 0);
	EXPECT_EQ(dp_->flow_count(), kFlows);
	std::vector<uint32_t> want(kFlows);
	std::iota(want.begin(), want.end(), 1u);
	EXPECT_EQ(check_table(dp_->maps()), want);
	uint32_t zero = 0;
	tm_flow_alloc alloc{};
	ASSERT_EQ(bpf_map_lookup_elem(dp_->maps().flow_alloc.get(), &zero, &alloc), 0);
	EXPECT_EQ(alloc.used, 2u * TM_FLOW_RESERVE);
}

// One-way so far: a one-way way; the first answer moves it to a two-way way.
TEST_F(FlowTable, FirstAnswerMakesAFlowTwoWay)
{
	udp(0, A, B, 4000, 53, 10);
	udp(1, A, B, 4000, 53, 10);
	EXPECT_EQ(dp_->flow_count(), 1u);
	EXPECT_EQ(dp_->two_way_flow_count(), 0u);
	udp(1, B, A, 53, 4000, 20);
	EXPECT_EQ(dp_->flow_count(), 1u);
	EXPECT_EQ(dp_->two_way_flow_count(), 1u);
	udp(0, A, B, 4000, 53, 10);
	EXPECT_EQ(dp_->counters(kA),
		  (Counters{.up_packets = 3, .up_bytes = 3 * 38, .down_packets = 1, .down_bytes = 48}));
}

// Several times the new-flow table's capacity in one-way flows (a scan)
// pass through while a slow and a fast two-way flow stay live: both keep
// their entry and direction. Tables of 128 two-way and 256 one-way flows.
TEST(FlowTableChurn, OneWayChurnKeepsTwoWayFlows)
{
	auto dp = std::make_unique<Dataplane>(
		Dataplane::Options{.max_rules = 64, .max_flows = 128});
	dp->add({kA, kB});
	auto udp = [&](const Addr &s, const Addr &d, uint16_t sp, uint16_t dport, size_t payload) {
		ASSERT_EQ(dp->run({.frame = PacketBuilder().eth().ipv4(s, d).udp(sp, dport).payload(payload).build()}),
			  kTcActUnspec);
	};
	// A originates both; B answers each once.
	udp(A, B, 5000, 53, 0);	 // slow flow
	udp(B, A, 53, 5000, 0);
	udp(A, B, 6000, 443, 0); // fast flow
	udp(B, A, 443, 6000, 0);
	constexpr int kScan = 4 * 256 * 4;
	for (int i = 0; i < kScan; ++i) {
		udp(C, A, uint16_t(10000 + i % 50000), uint16_t(1 + i / 50000 + i % 7), 0); // never answered
		if (i % 16 == 0)
			udp(B, A, 443, 6000, 0); // the fast flow's replies
		if (i % 1024 == 0)
			udp(B, A, 53, 5000, 0); // the slow flow's
	}
	// Downstream still: B is not taken for an originator. (C's packets are
	// upstream: C originates each of its flows.)
	const uint64_t fast_down = 1 + kScan / 16, slow_down = 1 + kScan / 1024;
	Counters a = dp->counters(kA);
	EXPECT_EQ(a.up_packets, 2u + kScan);
	EXPECT_EQ(a.down_packets, fast_down + slow_down);
	Counters b = dp->counters(kB);
	EXPECT_EQ(b.up_packets, 2u) << "A's two packets, upstream";
	EXPECT_EQ(b.down_packets, fast_down + slow_down) << "B's answers, downstream";
	EXPECT_EQ(dp->raw_stats().flow_insert_failed, 0u);
}

// Flows from both CPUs, each answered once, many times what a small table
// holds: every way ends with a flow, entries move with their flows and
// stay with their buckets, and the pool (one entry a way, plus the CPUs'
// reserves) never runs out. 32 buckets: 128 two-way and 64 one-way ways.
TEST(FlowTableChurn, AnsweredFlowsFillEveryWayFromThePool)
{
	const auto cpus = two_cpus();
	ASSERT_EQ(cpus.size(), 2u) << "this case needs two CPUs";
	cpu_set_t saved;
	ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
	auto dp = std::make_unique<Dataplane>(Dataplane::Options{.max_rules = 64, .max_flows = 128});
	dp->add({kA, kB});
	constexpr int kFlows = 2000;
	for (int i = 0; i < kFlows; ++i) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpus[i % 2], &set);
		ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
		const uint16_t port = uint16_t(10000 + i);
		for (auto [s, d, sp, dp_port] : {std::tuple{A, B, port, uint16_t(80)},
						 std::tuple{B, A, uint16_t(80), port}})
			ASSERT_EQ(dp->run({.frame = PacketBuilder().eth().ipv4(s, d).udp(sp, dp_port).build()}),
				  kTcActUnspec);
	}
	sched_setaffinity(0, sizeof(saved), &saved);
	EXPECT_EQ(dp->counters(kA), (Counters{.up_packets = kFlows, .up_bytes = 28u * kFlows,
					      .down_packets = kFlows, .down_bytes = 28u * kFlows}));
	EXPECT_EQ(dp->raw_stats().flow_insert_failed, 0u);
	EXPECT_EQ(dp->two_way_flow_count(), 128u);
	const auto used = check_table(dp->maps());
	EXPECT_EQ(used.size(), 128u);
}

} // namespace
} // namespace tmeter::dptest

// The flow table (bpf/maps.h): one-way flows live in the one-way ways and
// move to the two-way ways with their first answer, so one-way churn never evicts a live
// two-way flow, and with it its direction (SPEC §3). Packets pinned to two
// CPUs, which BPF_PROG_TEST_RUN runs them on, share one flow entry.
#include <gtest/gtest.h>
#include <bpf/bpf.h>
#include <sched.h>

#include <memory>
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

} // namespace
} // namespace tmeter::dptest

// The per-CPU flow cache (bpf/maps.h) must never change a figure: a copy on
// one CPU goes stale the moment another CPU changes what it copied. These
// cases pin each packet to a CPU, which BPF_PROG_TEST_RUN runs it on.
#include <gtest/gtest.h>
#include <bpf/bpf.h>
#include <sched.h>

#include <vector>

#include "dataplane_fixture.h"

namespace tmeter::dptest {
namespace {

using namespace tcpflag;

const Addr A = ip("198.18.0.10"), B = ip("198.19.1.1");
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

class FlowCache : public ::testing::Test {
protected:
	void SetUp() override
	{
		cpus_ = two_cpus();
		ASSERT_EQ(cpus_.size(), 2u) << "these cases need two CPUs";
		ASSERT_EQ(sched_getaffinity(0, sizeof(saved_), &saved_), 0);
		dp().reset();
		dp().add({kA, kB});
	}
	void TearDown() override { sched_setaffinity(0, sizeof(saved_), &saved_); }

	static Dataplane &dp() { return Dataplane::shared(); }

	// A TCP packet of 40 + payload IP bytes, run at ingress on cpus_[cpu].
	void tcp(int cpu, const Addr &s, const Addr &d, uint16_t sp, uint16_t dp_, uint8_t flags,
		 size_t payload = 0)
	{
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpus_[cpu], &set);
		ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
		PacketEvent ev{.frame = PacketBuilder().eth().ipv4(s, d).tcp(sp, dp_, flags).payload(payload).build()};
		ASSERT_EQ(dp().run(ev), kTcActUnspec);
	}

	std::vector<int> cpus_;
	cpu_set_t saved_{};
};

// CPU 1 holds a copy of the flow saying A originated it; a SYN from B on CPU
// 0 reuses the 5-tuple. CPU 1's next packet from A is downstream.
TEST_F(FlowCache, SynOnOneCpuUpdatesTheOther)
{
	tcp(0, A, B, 1000, 80, kSyn);
	tcp(1, A, B, 1000, 80, kAck, 10); // cached on CPU 1: A originates
	tcp(1, A, B, 1000, 80, kAck, 10); // from the copy
	tcp(0, B, A, 80, 1000, kSyn);	  // B originates now
	tcp(1, A, B, 1000, 80, kAck, 100);
	tcp(1, B, A, 80, 1000, kAck, 200);
	// Up: SYN 40, 2 x 50; then down: 140 (A's reply to B's connection);
	// B's SYN 40 and data 240 are up (B is the originator).
	Counters want{.up_packets = 5, .up_bytes = 40 + 50 + 50 + 40 + 240,
		      .down_packets = 1, .down_bytes = 140};
	EXPECT_EQ(dp().counters(kA), want);
	EXPECT_EQ(dp().counters(kB), want);
}

// A copy is tied to the rule set it was resolved against: a more specific
// rule added later takes the next packet, on the CPU that holds the copy.
TEST_F(FlowCache, RuleChangeReachesCachedFlow)
{
	tcp(1, A, B, 2000, 80, kAck, 10);
	tcp(1, A, B, 2000, 80, kAck, 10); // from the copy
	dp().del({kA});
	tcp(1, A, B, 2000, 80, kAck, 10); // A's rule is gone: B's only
	dp().add({kA});
	tcp(1, A, B, 2000, 80, kAck, 10); // a new rule for A, from zero
	EXPECT_EQ(dp().counters(kA), (Counters{.up_packets = 1, .up_bytes = 50}));
	EXPECT_EQ(dp().counters(kB), (Counters{.up_packets = 4, .up_bytes = 200}));
}

// The LRU evicts a flow that a CPU still serves from its copy: the copy puts
// the entry back (originator and all) within 64 packets, so `status` sees
// the flow and a later cache miss does not take B for the originator.
TEST_F(FlowCache, EvictedEntryIsPutBack)
{
	tcp(1, A, B, 3000, 80, kSyn);
	tcp(1, B, A, 80, 3000, kAck, 10); // copied on CPU 1: A originates
	ASSERT_EQ(dp().flow_count(), 1u);
	const Fd &flows = dp().maps().flows;
	tm_flow_key key{};
	ASSERT_EQ(bpf_map_get_next_key(flows.get(), nullptr, &key), 0);
	ASSERT_EQ(bpf_map_delete_elem(flows.get(), &key), 0); // as the LRU would
	for (int i = 0; i < 64; ++i)
		tcp(1, B, A, 80, 3000, kAck, 10);
	EXPECT_EQ(dp().flow_count(), 1u);
	tcp(0, B, A, 80, 3000, kAck, 10); // CPU 0 has no copy: tm_flows answers
	EXPECT_EQ(dp().counters(kA), (Counters{.up_packets = 1, .up_bytes = 40,
					       .down_packets = 66, .down_bytes = 66 * 50}));
}

} // namespace
} // namespace tmeter::dptest

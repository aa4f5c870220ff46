// The flow table (bpf/maps.h): one-way flows live in the one-way ways and
// move to the two-way ways with their first answer, so one-way churn never evicts a live
// two-way flow, and with it its direction (SPEC §3). Packets pinned to two
// CPUs, which BPF_PROG_TEST_RUN runs them on, share one flow entry.
#include <gtest/gtest.h>
#include <bpf/bpf.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <vector>

#include "bpf/flow_table.h"
#include "dataplane_fixture.h"
#include "flow_table_check.h"

namespace tmeter::dptest {
namespace {

using namespace tcpflag;

const Addr A = ip("198.18.0.10"), B = ip("198.19.1.1"), C = ip("198.19.2.2");
const Prefix kA = prefix("198.18.0.10/32"), kB = prefix("198.19.1.1/32");

class FlowTable : public ::testing::Test {
protected:
	void SetUp() override
	{
		cpus_ = allowed_cpus(2);
		ASSERT_EQ(cpus_.size(), 2u) << "these cases need two CPUs";
		dp_ = &Dataplane::shared();
		dp_->reset();
		dp_->add({kA, kB});
	}

	// A packet of 40 + payload IP bytes (TCP) or 28 + payload (UDP), at
	// ingress on cpus_[cpu].
	void run(int cpu, Bytes frame)
	{
		CpuPin::pin_to(cpus_[cpu]);
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
	CpuPin pin_; // gives the CPUs back after each case
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
	const auto cpus = allowed_cpus(2);
	ASSERT_EQ(cpus.size(), 2u) << "this case needs two CPUs";
	CpuPin pin;
	auto dp = std::make_unique<Dataplane>(Dataplane::Options{.max_rules = 64, .max_flows = 128});
	dp->add({kA, kB});
	constexpr int kFlows = 2000;
	for (int i = 0; i < kFlows; ++i) {
		CpuPin::pin_to(cpus[i % 2]);
		const uint16_t port = uint16_t(10000 + i);
		for (auto [s, d, sp, dp_port] : {std::tuple{A, B, port, uint16_t(80)},
						 std::tuple{B, A, uint16_t(80), port}})
			ASSERT_EQ(dp->run({.frame = PacketBuilder().eth().ipv4(s, d).udp(sp, dp_port).build()}),
				  kTcActUnspec);
	}
	EXPECT_EQ(dp->counters(kA), (Counters{.up_packets = kFlows, .up_bytes = 28u * kFlows,
					      .down_packets = kFlows, .down_bytes = 28u * kFlows}));
	EXPECT_EQ(dp->raw_stats().flow_insert_failed, 0u);
	EXPECT_EQ(dp->two_way_flow_count(), 128u);
	const auto used = check_table(dp->maps());
	EXPECT_EQ(used.size(), 128u);
}

// The program finds a flow's bucket by a shift when the table has 2^k
// buckets and by a multiply otherwise (tm_flow_bucket_shift): either way
// in the bucket the control plane computes (check_table), and a flow's two
// directions find one entry. 30 buckets (120 flows) and 32 (128).
class FlowTableSize : public ::testing::TestWithParam<uint32_t> {};

TEST_P(FlowTableSize, TheProgramPlacesFlowsWhereTheControlPlaneLooks)
{
	auto dp = std::make_unique<Dataplane>(
		Dataplane::Options{.max_rules = 64, .max_flows = GetParam()});
	ASSERT_EQ(MapSet::capacity(dp->maps().flow_table), GetParam() / 4);
	dp->add({kA, kB});
	constexpr uint32_t kFlows = 40;
	for (uint32_t i = 0; i < kFlows; ++i) {
		const uint16_t port = uint16_t(20000 + i);
		for (auto [s, d, sp, dport] : {std::tuple{A, B, port, uint16_t(80)},
					       std::tuple{B, A, uint16_t(80), port}})
			ASSERT_EQ(dp->run({.frame = PacketBuilder().eth().ipv4(s, d).udp(sp, dport).build()}),
				  kTcActUnspec);
	}
	EXPECT_EQ(dp->counters(kA), (Counters{.up_packets = kFlows, .up_bytes = 28u * kFlows,
					      .down_packets = kFlows, .down_bytes = 28u * kFlows}));
	EXPECT_EQ(dp->raw_stats().flow_insert_failed, 0u);
	// Every answer found its flow: one two-way entry a flow (these 40 keys
	// leave no bucket of either size with more flows than ways).
	EXPECT_EQ(dp->two_way_flow_count(), kFlows);
	EXPECT_EQ(dp->flow_count(), kFlows);
	EXPECT_EQ(check_table(dp->maps()).size(), kFlows);
}

INSTANTIATE_TEST_SUITE_P(Buckets, FlowTableSize, ::testing::Values(120u, 128u));

// Reading a live table (resize): a bucket the data plane writes to between
// the bulk read of the heads and entries and its check is read again on
// its own, so each flow comes out once, as the table last had it. Two
// flows in a small table (32 buckets), written as the control plane
// writes a table; after_first_read plays the data plane.
class FlowTableRead : public ::testing::Test {
protected:
	void SetUp() override
	{
		dp_ = std::make_unique<Dataplane>(Dataplane::Options{.max_rules = 64, .max_flows = 128});
		FlowTableImage image(MapSet::capacity(maps().flow_table));
		one_way_ = flow(A, B, 5000, 0);
		two_way_ = flow(B, C, 6000, 1);
		ASSERT_TRUE(place_flow(image, one_way_, false));
		ASSERT_TRUE(place_flow(image, two_way_, true));
		ASSERT_NE(bucket_of(one_way_), bucket_of(two_way_)) << "pick other ports";
		write_flow_table(maps(), image);
	}

	static tm_flow_entry flow(const Addr &s, const Addr &d, uint16_t sport, uint8_t originator)
	{
		tm_flow_entry e{};
		e.key.family = TM_FAMILY_IPV4;
		e.key.proto = 17;
		std::memcpy(e.key.addr[0], s.bytes.data(), 4);
		std::memcpy(e.key.addr[1], d.bytes.data(), 4);
		e.key.port[0] = sport;
		e.key.port[1] = 53;
		e.value.originator = originator;
		return e;
	}
	uint32_t bucket_of(const tm_flow_entry &e) const
	{
		__u64 w[5];
		std::memcpy(w, &e.key, sizeof(w));
		return tm_flow_bucket_index(tm_flow_hash(w), MapSet::capacity(maps().flow_table));
	}
	tm_flow_bucket head(uint32_t i) const
	{
		tm_flow_bucket b{};
		EXPECT_EQ(bpf_map_lookup_elem(maps().flow_table.get(), &i, &b), 0);
		return b;
	}
	void set_head(uint32_t i, const tm_flow_bucket &b) const
	{
		ASSERT_EQ(bpf_map_update_elem(maps().flow_table.get(), &i, &b, BPF_ANY), 0);
	}
	using Flows = std::vector<std::tuple<uint32_t, uint8_t, bool>>; // bucket, originator, two-way
	static Flows sorted(Flows flows)
	{
		std::sort(flows.begin(), flows.end());
		return flows;
	}
	// Every flow read, in order.
	Flows read(const std::function<void()> &meanwhile,
							      uint64_t *missed = nullptr) const
	{
		Flows flows;
		uint64_t left_out = for_each_flow(
			maps(),
			[&](const tm_flow_entry &e, bool two_way) {
				flows.emplace_back(bucket_of(e), e.value.originator, two_way);
			},
			meanwhile);
		if (missed)
			*missed = left_out;
		return sorted(flows);
	}
	const MapSet &maps() const { return dp_->maps(); }

	std::unique_ptr<Dataplane> dp_;
	tm_flow_entry one_way_{}, two_way_{};
};

// The one-way flow's first answer while the table is read: it moves to a
// two-way way (their entries swap) and its entry's value changes, under
// the bucket's sequence word, as tm_store_flow does it.
TEST_F(FlowTableRead, AFlowMovedMeanwhileIsReadOnceWhereItWentTo)
{
	const uint32_t b = bucket_of(one_way_);
	auto answer = [&] {
		tm_flow_bucket h = head(b);
		const uint32_t entry = h.entry[TM_FLOW_WAYS];
		tm_flow_entry e{};
		ASSERT_EQ(bpf_map_lookup_elem(maps().flow_pool.get(), &entry, &e), 0);
		e.value.originator = 1;
		ASSERT_EQ(bpf_map_update_elem(maps().flow_pool.get(), &entry, &e, BPF_ANY), 0);
		std::swap(h.entry[0], h.entry[TM_FLOW_WAYS]);
		h.tag[0] = h.tag[TM_FLOW_WAYS];
		h.tag[TM_FLOW_WAYS] = 0;
		h.seq += 2;
		set_head(b, h);
	};
	uint64_t missed = 99;
	const auto flows = read(answer, &missed);
	EXPECT_EQ(flows, sorted({{b, 1, true}, {bucket_of(two_way_), 1, true}}));
	EXPECT_EQ(missed, 0u);
}

// A writer at work on the bucket (sequence word odd) during the bulk read,
// done by the check, where it has written a new originator: the bucket is
// read again, its flow once, as the writer left it.
TEST_F(FlowTableRead, ABucketMidWriteIsReadAgain)
{
	const uint32_t b = bucket_of(one_way_);
	tm_flow_bucket h = head(b);
	h.seq = 1;
	set_head(b, h);
	const auto flows = read([&] {
		const uint32_t entry = h.entry[TM_FLOW_WAYS];
		tm_flow_entry e = one_way_;
		e.value.originator = 1;
		ASSERT_EQ(bpf_map_update_elem(maps().flow_pool.get(), &entry, &e, BPF_ANY), 0);
		h.seq = 2;
		set_head(b, h);
	});
	EXPECT_EQ(flows, sorted({{b, 1, false}, {bucket_of(two_way_), 1, true}}));
}

// A bucket that never reads the same twice is left out, and said so; the
// others are read.
TEST_F(FlowTableRead, ABucketAlwaysMidWriteIsLeftOut)
{
	const uint32_t b = bucket_of(one_way_);
	tm_flow_bucket h = head(b);
	h.seq = 1;
	set_head(b, h);
	uint64_t missed = 0;
	const auto flows = read({}, &missed);
	EXPECT_EQ(flows, sorted({{bucket_of(two_way_), 1, true}}));
	EXPECT_EQ(missed, 1u);
}

} // namespace
} // namespace tmeter::dptest

// Both CPUs run the program at the same time on the same flows: two
// threads, each pinned to its CPU (BPF_PROG_TEST_RUN runs the program on
// the caller's), send the two directions of every flow, while this thread
// commits rule changes. Each commit bumps rules_gen, so every flow's next
// packet writes its entry again under the bucket's lock, beside the other
// CPU's lockless reads. The figures must still be exact (SPEC §3): every
// packet counted once, each CPU's counts in its own row, and one direction
// for all the packets of a flow. The other flow-table tests run their
// packets one at a time.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "dataplane_fixture.h"
#include "flow_table_check.h"

namespace tmeter::dptest {
namespace {

// UDP over IPv4: 28 IP bytes + payload. The two directions differ in size,
// so a rule's up bytes tell which end it took for the originator.
constexpr size_t kForthPayload = 10, kBackPayload = 100;
constexpr uint64_t kForthBytes = 28 + kForthPayload, kBackBytes = 28 + kBackPayload;

const Addr kServer = ip("198.19.1.1");
const Prefix kServerRule = prefix("198.19.1.1/32");
// Matches none of the flows: adding and deleting it only bumps rules_gen.
const Prefix kUnrelatedRule = prefix("198.19.255.1/32");

Bytes forth(const Addr &client, uint16_t port)
{
	return PacketBuilder().eth().ipv4(client, kServer).udp(port, 53).payload(kForthPayload).build();
}

Bytes back(const Addr &client, uint16_t port)
{
	return PacketBuilder().eth().ipv4(kServer, client).udp(53, port).payload(kBackPayload).build();
}

// Runs every frame `repeat` times, `rounds` times over, on `cpu` (from a
// thread of its own: the affinity is the calling thread's).
void send_rounds(Dataplane &dp, int cpu, const std::vector<Bytes> &frames, int rounds,
		 uint32_t repeat)
{
	CpuPin::pin_to(cpu);
	for (int r = 0; r < rounds; ++r)
		for (const Bytes &f : frames)
			if (dp.run({.frame = f}, repeat) != kTcActUnspec)
				throw std::runtime_error("a verdict other than TC_ACT_UNSPEC");
}

// Both directions of every flow on both CPUs at once, each round the first
// CPU sending a flow's forth packet first and the second its back packet
// (so both race to originate it, and both add to the same counter fields),
// while this thread commits rule changes until both are done. Returns how
// many it committed; each direction of each flow is sent 2 * rounds *
// repeat times.
int send_on_both_cpus(Dataplane &dp, const std::vector<Bytes> &forth_frames,
		      const std::vector<Bytes> &back_frames, int rounds, uint32_t repeat)
{
	const auto cpus = allowed_cpus(2);
	if (cpus.size() != 2)
		throw std::runtime_error("this case needs two CPUs");
	std::vector<Bytes> first, second;
	for (size_t i = 0; i < forth_frames.size(); ++i) {
		first.insert(first.end(), {forth_frames[i], back_frames[i]});
		second.insert(second.end(), {back_frames[i], forth_frames[i]});
	}
	auto a = std::async(std::launch::async, send_rounds, std::ref(dp), cpus[0],
			    std::cref(first), rounds, repeat);
	auto b = std::async(std::launch::async, send_rounds, std::ref(dp), cpus[1],
			    std::cref(second), rounds, repeat);
	int commits = 0;
	auto running = [](std::future<void> &f) {
		return f.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready;
	};
	while (running(a) || running(b)) {
		dp.add({kUnrelatedRule});
		dp.del({kUnrelatedRule});
		commits += 2;
	}
	a.get(); // rethrows a sender's error
	b.get();
	return commits;
}

// n clients 198.18.<net>.1, .2, ..., each with a rule of its own and
// flows_each flows with the server (client ports from first_port on).
struct Clients {
	std::vector<Prefix> rules; // the server's, then each client's
	std::vector<Bytes> forth_frames, back_frames;
};

Clients clients(int net, int n, int flows_each, uint16_t first_port)
{
	Clients c{.rules = {kServerRule}};
	for (int i = 0; i < n; ++i) {
		const std::string addr = "198.18." + std::to_string(net) + "." + std::to_string(i + 1);
		c.rules.push_back(prefix(addr + "/32"));
		for (int j = 0; j < flows_each; ++j) {
			c.forth_frames.push_back(forth(ip(addr), uint16_t(first_port + j)));
			c.back_frames.push_back(back(ip(addr), uint16_t(first_port + j)));
		}
	}
	return c;
}

// Each case runs each build of the entry points (the fast parse; every
// header through bpf_skb_load_bytes, which 5.10 runs without CAP_PERFMON;
// that without gso_size): their flow code is the same source, compiled
// into a different program around a different parse.
class FlowTableConcurrency : public ::testing::TestWithParam<EntryBuild> {};

// 128 clients, each its own rule, one flow each with the server; the table
// has room for all (no flow is evicted, so none may change its originator).
// Whichever CPU's packet comes first makes its end the originator; every
// later packet of the flow, on either CPU, counts in that direction.
TEST_P(FlowTableConcurrency, BothCpusAtOnceCountEveryPacketInItsFlowsOneDirection)
{
	constexpr int kClients = 128, kRounds = 100;
	constexpr uint32_t kRepeat = 16;
	constexpr uint64_t kEachWay = 2 * uint64_t(kRounds) * kRepeat; // packets a flow sends each way
	auto dp = std::make_unique<Dataplane>(Dataplane::Options{.max_rules = 256, .max_flows = 65536});
	dp->set_build(GetParam());
	const Clients flows = clients(1, kClients, 1, 40000);
	const std::vector<Prefix> &rules = flows.rules;
	dp->add(rules);

	const int commits = send_on_both_cpus(*dp, flows.forth_frames, flows.back_frames, kRounds, kRepeat);
	EXPECT_GT(commits, 0) << "no rule change while both CPUs sent";

	const tm_stats stats = dp->raw_stats();
	EXPECT_EQ(stats.flow_insert_failed, 0u);
	EXPECT_EQ(stats.counted, 2 * kEachWay * kClients);
	EXPECT_EQ(stats.no_rule, 0u);
	// The client originated its flow, or the server did.
	const Counters client_first{.up_packets = kEachWay, .up_bytes = kEachWay * kForthBytes,
				    .down_packets = kEachWay, .down_bytes = kEachWay * kBackBytes};
	const Counters server_first{.up_packets = kEachWay, .up_bytes = kEachWay * kBackBytes,
				    .down_packets = kEachWay, .down_bytes = kEachWay * kForthBytes};
	uint64_t clients_first = 0;
	for (int i = 1; i <= kClients; ++i) {
		const Counters c = dp->counters(rules[i]);
		EXPECT_TRUE(c == client_first || c == server_first)
			<< to_string(rules[i]) << ": " << testing::PrintToString(c);
		clients_first += c == client_first;
	}
	// The server's rule adds each flow in the direction its client's does.
	const uint64_t servers_first = kClients - clients_first;
	EXPECT_EQ(dp->counters(kServerRule),
		  (Counters{.up_packets = kEachWay * kClients,
			    .up_bytes = kEachWay * (clients_first * kForthBytes + servers_first * kBackBytes),
			    .down_packets = kEachWay * kClients,
			    .down_bytes = kEachWay * (clients_first * kBackBytes + servers_first * kForthBytes)}));
	EXPECT_EQ(check_table(dp->maps()).size(), size_t(kClients));
}

// 1,024 flows, 64 for each of 16 clients with a rule each, through a
// table of 192 ways (32 buckets): both CPUs insert, move and evict in the
// same buckets at once. An evicted flow may come back with the other end
// as its originator, so directions are not fixed; but every packet counts
// once, in one direction for both of its rules, in its own client's rule
// (a flow's entry read while another CPU rewrites it for another flow
// would give it that flow's rules), and the table stays whole (no entry in
// two ways, none lost).
TEST_P(FlowTableConcurrency, BothCpusAtOnceUnderChurnCountEveryPacketOnce)
{
	constexpr int kClients = 16, kFlowsEach = 64, kRounds = 20;
	constexpr uint32_t kRepeat = 4;
	constexpr uint64_t kEachWay = 2 * uint64_t(kFlowsEach) * kRounds * kRepeat; // a client's, each way
	auto dp = std::make_unique<Dataplane>(Dataplane::Options{.max_rules = 64, .max_flows = 128});
	dp->set_build(GetParam());
	const Clients flows = clients(2, kClients, kFlowsEach, 20000);
	const std::vector<Prefix> &rules = flows.rules;
	dp->add(rules);

	const int commits = send_on_both_cpus(*dp, flows.forth_frames, flows.back_frames, kRounds, kRepeat);
	EXPECT_GT(commits, 0) << "no rule change while both CPUs sent";

	const tm_stats stats = dp->raw_stats();
	EXPECT_EQ(stats.counted, 2 * kEachWay * kClients);
	EXPECT_EQ(stats.no_rule, 0u);
	Counters sum;
	for (int i = 1; i <= kClients; ++i) {
		const Counters c = dp->counters(rules[i]);
		EXPECT_EQ(c.up_packets + c.down_packets, 2 * kEachWay) << to_string(rules[i]);
		EXPECT_EQ(c.up_bytes + c.down_bytes, kEachWay * (kForthBytes + kBackBytes))
			<< to_string(rules[i]);
		sum.up_packets += c.up_packets;
		sum.up_bytes += c.up_bytes;
		sum.down_packets += c.down_packets;
		sum.down_bytes += c.down_bytes;
	}
	EXPECT_EQ(dp->counters(kServerRule), sum) << "a packet adds the same to both of its rules";
	EXPECT_EQ(dp->two_way_flow_count(), 128u) << "every two-way way holds a flow";
	check_table(dp->maps());
}

INSTANTIATE_TEST_SUITE_P(Builds, FlowTableConcurrency,
			 ::testing::Values(EntryBuild::kFast, EntryBuild::kSlow, EntryBuild::kCompat),
			 [](const auto &info) {
				 return info.param == EntryBuild::kFast   ? "fast"
					: info.param == EntryBuild::kSlow ? "slow"
									  : "compat";
			 });

} // namespace
} // namespace tmeter::dptest

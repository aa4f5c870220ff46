// Randomized differential test: fixed seeds generate rule sets and packet
// sequences (both directions of flows, TCP flags, fragments, ICMP errors
// quoting earlier packets, GSO, every link layer, mutated and truncated
// bytes, rule changes between packets); after every packet the BPF program
// and the reference model must agree on every counter and statistic.
// Plus robustness: random and cut-down frames always get TC_ACT_UNSPEC and
// never count more bytes than the frame holds.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "dataplane_fixture.h"

namespace tmeter::dptest {
namespace {

constexpr uint32_t kAttachedIfindex = 3;

// BPF_PROG_TEST_RUN refuses a frame shorter than Ethernet, and one whose
// ethertype says IPv4/IPv6 but that cannot hold the fixed IP header (the
// kernel reads it for the test socket). The data plane never sees those.
bool test_run_accepts(const Bytes &f)
{
	if (f.size() < 14)
		return false;
	uint16_t type = f[12] << 8 | f[13];
	if (type == 0x0800 && f.size() < 14 + 20)
		return false;
	if (type == 0x86dd && f.size() < 14 + 40)
		return false;
	return true;
}

std::string hex(const Bytes &b)
{
	std::string s;
	char buf[4];
	for (size_t i = 0; i < b.size(); ++i) {
		std::snprintf(buf, sizeof(buf), "%02x", b[i]);
		s += buf;
		if (i % 32 == 31)
			s += '\n';
		else if (i % 2 == 1)
			s += ' ';
	}
	return s;
}

std::string describe(const PacketEvent &ev)
{
	std::ostringstream os;
	os << (ev.hook == Hook::kIngress ? "ingress" : "egress") << (ev.l3 ? " l3" : " eth")
	   << " gso_segs " << ev.gso_segs << " gso_size " << ev.gso_size << " ingress_ifindex " << ev.ingress_ifindex << ", "
	   << ev.frame.size() << " bytes:\n"
	   << hex(ev.frame);
	return os.str();
}

Prefix masked(Addr a, uint8_t len)
{
	unsigned bits = a.family == 4 ? 32 : 128;
	for (unsigned bit = len; bit < bits; ++bit)
		a.bytes[bit / 8] &= ~(0x80 >> (bit % 8));
	return {a, len};
}

class Generator {
public:
	explicit Generator(uint64_t seed) : rng_(seed) {}

	std::vector<Prefix> rule_set(size_t max)
	{
		std::set<Prefix> rules;
		size_t n = pick(0, max);
		while (rules.size() < n)
			rules.insert(random_rule());
		return {rules.begin(), rules.end()};
	}

	Prefix random_rule()
	{
		static const uint8_t v4_lens[] = {0, 8, 15, 16, 17, 23, 24, 25, 31, 32};
		static const uint8_t v6_lens[] = {0, 16, 32, 47, 48, 64, 65, 96, 127, 128};
		if (chance(0.6))
			return masked(v4(), v4_lens[pick(0, 9)]);
		return masked(v6(), v6_lens[pick(0, 9)]);
	}

	PacketEvent packet()
	{
		PacketEvent ev;
		int l2 = pick(0, 9);
		ev.l3 = l2 == 9;
		ev.hook = chance(0.6) ? Hook::kIngress : Hook::kEgress;
		static const uint32_t ifindexes[] = {0, 0, kAttachedIfindex, 5};
		ev.ingress_ifindex = ifindexes[pick(0, 3)];

		PacketBuilder b;
		if (!ev.l3) {
			b.eth();
			if (l2 == 5 || l2 == 6 || l2 == 8)
				b.vlan(0x8100);
			if (l2 == 6)
				b.vlan(chance(0.5) ? 0x8100 : 0x88a8);
			if (l2 == 7 || l2 == 8)
				b.pppoe();
		}
		uint8_t proto = ip_packet(b);
		ev.frame = b.build();
		if ((proto == proto::kTcp || proto == proto::kUdp) && chance(0.1))
			ev.gso_segs = pick(2, 6);
		else if ((proto == proto::kTcp || proto == proto::kUdp) && chance(0.05))
			// A guest's aggregate, not counted yet; a size below the frames
			// here makes it several segments (counted as gso_from_size).
			ev.gso_size = chance(0.5) ? pick(1, 64) : pick(100, 1500);
		else if (chance(0.02))
			ev.gso_segs = pick(0, 1);

		if (chance(0.08)) {
			int flips = pick(1, 3);
			for (int i = 0; i < flips; ++i) {
				size_t at = chance(0.8) ? pick(0, std::min<size_t>(ev.frame.size(), 90) - 1)
							: pick(0, ev.frame.size() - 1);
				ev.frame[at] ^= uint8_t(pick(1, 255));
			}
		}
		if (chance(0.08))
			ev.frame.resize(pick(14, ev.frame.size()));
		return ev;
	}

	bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
	size_t pick(size_t lo, size_t hi) { return std::uniform_int_distribution<size_t>(lo, hi)(rng_); }

private:
	// What was sent, to reply to, fragment further or quote in an error.
	struct Sent {
		Addr src, dst;
		uint8_t proto;
		uint16_t sport, dport;
		bool first_fragment;
		uint32_t frag_id;
		Bytes ip; // the IP packet as built
	};

	Addr v4()
	{
		static const char *pool[] = {"198.18.0.1", "198.18.0.2",   "198.18.0.130",
					     "198.18.1.1", "198.19.0.1",   "198.19.255.254",
					     "198.18.0.1", "198.19.128.7"};
		return ip(pool[pick(0, 7)]);
	}
	Addr v6()
	{
		static const char *pool[] = {"2001:db8::1",	   "2001:db8::2",	"2001:db8:0:1::1",
					     "2001:db8:1::1",	   "2001:db8:ffff::1", "2001:db8::8000:0:0:1",
					     "2001:db8:0:1::ffff", "2001:db8:1::1"};
		return ip(pool[pick(0, 7)]);
	}
	uint16_t port() { return uint16_t(pick(0, 4) == 0 ? pick(1, 65535) : 1000 + pick(0, 3)); }
	uint8_t tcp_flags()
	{
		using namespace tcpflag;
		static const uint8_t f[] = {kSyn, kSyn | kAck, kAck, kAck | kPsh, kFin | kAck, kRst, 0, kSyn | kFin};
		return f[pick(0, 7)];
	}

	void ip_header(PacketBuilder &b, const Addr &s, const Addr &d, std::optional<uint8_t> proto,
		       bool first_frag, uint32_t id, uint16_t later_offset)
	{
		if (s.family == 4) {
			Ipv4Opts o{.src = s, .dst = d};
			if (chance(0.1))
				o.options_len = 4 * pick(1, 10);
			o.id = uint16_t(id);
			o.more_fragments = first_frag || (later_offset && chance(0.5));
			o.frag_offset = later_offset;
			o.dont_fragment = !o.more_fragments && !later_offset && chance(0.5);
			o.proto = proto;
			b.ipv4(o);
			return;
		}
		b.ipv6(s, d);
		if (chance(0.12)) {
			static const uint8_t types[] = {proto::kHopOpts, proto::kRouting, proto::kDstOpts,
							proto::kAh};
			size_t n = pick(1, 9);
			for (size_t i = 0; i < n; ++i)
				b.ipv6_ext(types[pick(0, 3)], uint8_t(pick(0, 2)));
		}
		if (first_frag)
			b.ipv6_frag(0, true, id);
		else if (later_offset)
			b.ipv6_frag(later_offset, chance(0.5), id, proto);
		else if (chance(0.03))
			b.ipv6_frag(0, false, id); // atomic fragment
	}

	void transport(PacketBuilder &b, uint8_t family, uint8_t proto, uint16_t sport, uint16_t dport,
		       bool reply)
	{
		switch (proto) {
		case proto::kTcp:
			b.tcp({.sport = sport, .dport = dport, .flags = tcp_flags(),
			       .doff = uint8_t(chance(0.8) ? 5 : pick(5, 15))});
			break;
		case proto::kUdp:
			b.udp(sport, dport);
			break;
		case proto::kUdplite:
		case proto::kSctp:
			b.ports(proto, sport, dport, proto == proto::kSctp ? 12 : 8);
			break;
		case proto::kIcmp:
		case proto::kIcmpv6:
			b.icmp_echo(family, sport, 1, reply);
			break;
		default:
			break;
		}
	}

	// Appends an IP packet to b; returns its protocol.
	uint8_t ip_packet(PacketBuilder &b)
	{
		size_t start = 0;
		{
			// Where the IP packet starts in b: build what is there so far.
			start = b.build().size();
		}
		Sent s{};
		int kind = pick(0, 99);
		bool quoted_error = false;
		Bytes quote;
		if (kind < 35 && !history_.empty()) { // the other direction of a flow
			const Sent &h = history_[pick(0, history_.size() - 1)];
			s = {h.dst, h.src, h.proto, h.dport, h.sport, false, 0, {}};
			if (chance(0.2))
				s.first_fragment = true, s.frag_id = uint32_t(pick(0, 5));
		} else if (kind < 45 && !history_.empty()) { // the same direction again
			const Sent &h = history_[pick(0, history_.size() - 1)];
			s = {h.src, h.dst, h.proto, h.sport, h.dport, false, 0, {}};
		} else if (kind < 55 && !history_.empty()) { // an error about an earlier packet
			const Sent &h = history_[pick(0, history_.size() - 1)];
			quoted_error = true;
			s.src = chance(0.5) ? h.dst : (h.src.family == 4 ? v4() : v6());
			s.dst = chance(0.8) ? h.src : h.dst;
			s.proto = h.src.family == 4 ? proto::kIcmp : proto::kIcmpv6;
			quote = truncated(h.ip, pick(h.src.family == 4 ? 12 : 30, h.ip.size()));
		} else if (kind < 62 && !frag_history_.empty()) { // a later fragment
			const Sent &h = frag_history_[pick(0, frag_history_.size() - 1)];
			bool same = chance(0.8);
			ip_header(b, h.src, h.dst, h.proto, false, same ? h.frag_id : h.frag_id + 1,
				  uint16_t(pick(1, 200)));
			b.payload(pick(0, 100));
			return h.proto;
		} else {
			bool six = chance(0.4);
			s.src = six ? v6() : v4();
			s.dst = chance(0.1) ? s.src : (six ? v6() : v4());
			static const uint8_t protos[] = {proto::kTcp, proto::kTcp,    proto::kTcp,
							 proto::kUdp, proto::kUdp,    proto::kIcmp,
							 proto::kIcmp, proto::kUdplite, proto::kSctp,
							 proto::kGre};
			s.proto = protos[pick(0, 9)];
			if (s.proto == proto::kIcmp && six)
				s.proto = proto::kIcmpv6;
			bool icmp = s.proto == proto::kIcmp || s.proto == proto::kIcmpv6;
			s.sport = icmp ? uint16_t(pick(1, 3)) : port();
			s.dport = icmp ? s.sport : port();
			if (chance(0.08))
				s.first_fragment = true, s.frag_id = uint32_t(pick(0, 5));
		}

		uint8_t family = s.src.family;
		bool icmp = s.proto == proto::kIcmp || s.proto == proto::kIcmpv6;
		if (quoted_error) {
			ip_header(b, s.src, s.dst, std::nullopt, false, 0, 0);
			static const uint8_t v4_types[] = {3, 11, 12, 3, 5, 13};
			static const uint8_t v6_types[] = {1, 2, 3, 4, 1, 135};
			uint8_t type = family == 4 ? v4_types[pick(0, 5)] : v6_types[pick(0, 5)];
			b.icmp(family, type, 0, quote);
		} else {
			ip_header(b, s.src, s.dst, std::nullopt, s.first_fragment, s.frag_id, 0);
			transport(b, family, s.proto, s.sport, s.dport, icmp && chance(0.5));
			if (s.proto == proto::kGre)
				b.raw(Bytes(4, 0));
		}
		b.payload(pick(0, 150));
		Bytes all = b.build();
		s.ip.assign(all.begin() + start, all.end());
		if (history_.size() < 64)
			history_.push_back(s);
		else
			history_[pick(0, 63)] = s;
		if (s.first_fragment)
			frag_history_.push_back(s);
		return s.proto;
	}

	std::mt19937_64 rng_;
	std::vector<Sent> history_;
	std::vector<Sent> frag_history_;
};

// Read once, before the sequences pin the thread to one CPU at a time.
const std::vector<int> &all_cpus()
{
	static const std::vector<int> cpus = allowed_cpus();
	return cpus;
}

// What the generated packets exercised, so a weaker generator cannot pass
// silently.
struct Coverage {
	size_t ran = 0, malformed = 0, malformed_l4 = 0, not_ip = 0, icmp_errors = 0,
	       first_frags = 0, later_frags = 0, gso = 0, syn = 0, synack = 0, l3 = 0,
	       gso_from_size = 0, egress_skipped = 0, ipv6 = 0;

	void note(const PacketEvent &ev, bool skipped)
	{
		++ran;
		auto p = ReferenceModel::parse(ev);
		malformed += p.verdict == ReferenceModel::Verdict::kMalformed;
		malformed_l4 += p.verdict == ReferenceModel::Verdict::kMalformedL4;
		not_ip += p.verdict == ReferenceModel::Verdict::kNotIp;
		icmp_errors += p.icmp_error;
		first_frags += p.frag == ReferenceModel::Frag::kFirst;
		later_frags += p.frag == ReferenceModel::Frag::kLater;
		gso += ev.gso_segs > 1;
		gso_from_size += p.gso_from_size;
		syn += p.tcp_flags == tcpflag::kSyn;
		synack += p.tcp_flags == (tcpflag::kSyn | tcpflag::kAck);
		l3 += ev.l3;
		egress_skipped += skipped;
		ipv6 += p.family == 6;
	}
};

// Runs one sequence; on the first packet where program and model disagree,
// fails with the packet and returns false.
bool run_sequence(uint64_t seed, size_t packets, size_t max_rules, Coverage *cov)
{
	Dataplane &dp = Dataplane::shared();
	dp.reset();
	ReferenceModel model;
	Generator gen(seed);
	const std::vector<int> &cpus = all_cpus();
	dp.attach(kAttachedIfindex);
	model.attach(kAttachedIfindex);
	auto rules = gen.rule_set(max_rules);
	dp.add(rules);
	for (const auto &r : rules)
		model.add_rule(r);

	for (size_t i = 0; i < packets; ++i) {
		if (gen.chance(0.03)) {
			auto current = model.counters();
			if (!current.empty() && gen.chance(0.5)) {
				auto it = current.begin();
				std::advance(it, gen.pick(0, current.size() - 1));
				Prefix victim = it->first;
				dp.del({victim});
				model.del_rule(victim);
			} else if (current.size() < max_rules + 8) {
				Prefix r = gen.random_rule();
				dp.add({r});
				model.add_rule(r);
			}
		}
		PacketEvent ev = gen.packet();
		if (!test_run_accepts(ev.frame))
			continue;
		// Per-CPU counters and statistics are summed, the flow table is
		// shared: a flow's packets may run on any CPU.
		CpuPin::pin_to(cpus[gen.pick(0, cpus.size() - 1)]);
		int verdict = dp.run(ev);
		uint64_t skipped_before = model.stats().egress_skipped;
		model.packet(ev);
		cov->note(ev, model.stats().egress_skipped != skipped_before);
		auto dp_counters = dp.counters();
		if (verdict != kTcActUnspec || dp_counters != model.counters() ||
		    dp.stats() != model.stats()) {
			std::ostringstream os;
			os << "seed " << seed << ", packet " << i << ": " << describe(ev) << "\nverdict "
			   << verdict << "\nBPF stats   " << testing::PrintToString(dp.stats())
			   << "\nmodel stats " << testing::PrintToString(model.stats()) << "\n";
			for (const auto &[rule, c] : model.counters())
				if (dp_counters[rule] != c)
					os << to_string(rule) << ": BPF " << testing::PrintToString(dp_counters[rule])
					   << " model " << testing::PrintToString(c) << "\n";
			ADD_FAILURE() << os.str();
			return false;
		}
	}
	return true;
}

TEST(Differential, RandomSequencesMatchModel)
{
	CpuPin pin; // the sequences pin this thread to one CPU at a time
	constexpr uint64_t kSeeds = 2000;
	constexpr size_t kPackets = 50;
	Coverage cov;
	size_t failures = 0;
	for (uint64_t seed = 1; seed <= kSeeds && failures < 3; ++seed)
		// Mostly small rule sets (more packets meet no rule or one), every
		// fourth sequence up to 48 overlapping prefixes.
		if (!run_sequence(seed, kPackets, seed % 4 ? 12 : 48, &cov))
			++failures;
	std::printf("differential: %zu packets in %llu sequences: %zu malformed, %zu malformed "
		    "transport, %zu not IP, %zu ICMP errors, %zu first / %zu later fragments, %zu "
		    "GSO, %zu from gso_size, %zu SYN, %zu SYN+ACK, %zu L3, %zu egress skipped, %zu "
		    "IPv6\n",
		    cov.ran, (unsigned long long)kSeeds, cov.malformed, cov.malformed_l4, cov.not_ip,
		    cov.icmp_errors, cov.first_frags, cov.later_frags, cov.gso, cov.gso_from_size,
		    cov.syn, cov.synack, cov.l3, cov.egress_skipped, cov.ipv6);
	if (failures)
		return;
	// Most generated frames must reach the program, and every kind of packet
	// must be there in numbers, for the test to mean anything.
	EXPECT_GT(cov.ran, kSeeds * kPackets * 9 / 10);
	for (size_t n : {cov.malformed, cov.malformed_l4, cov.not_ip, cov.icmp_errors, cov.first_frags,
			 cov.later_frags, cov.gso, cov.gso_from_size, cov.syn, cov.synack, cov.l3,
			 cov.egress_skipped, cov.ipv6})
		EXPECT_GT(n, 200u);
}

// Random bytes behind every link layer, and every prefix of valid frames:
// always TC_ACT_UNSPEC, never more bytes than the frame holds, and the
// model agrees on what was counted.
TEST(Robustness, RandomAndTruncatedFrames)
{
	Dataplane &dp = Dataplane::shared();
	std::mt19937_64 rng(4242);
	auto pick = [&](size_t lo, size_t hi) { return std::uniform_int_distribution<size_t>(lo, hi)(rng); };
	Generator gen(77);
	const std::vector<Prefix> catch_all = {prefix("0.0.0.0/0"), prefix("::/0")};
	size_t runs = 0;

	auto check = [&](const PacketEvent &ev) {
		if (!test_run_accepts(ev.frame))
			return;
		dp.reset();
		dp.add(catch_all);
		ReferenceModel model;
		for (const auto &r : catch_all)
			model.add_rule(r);
		ASSERT_EQ(dp.run(ev), kTcActUnspec) << describe(ev);
		model.packet(ev);
		++runs;
		uint64_t bytes = 0, pkts = 0;
		for (const auto &[rule, c] : dp.counters()) {
			bytes += c.up_bytes + c.down_bytes;
			pkts += c.up_packets + c.down_packets;
		}
		size_t l2 = ev.l3 ? 0 : 14;
		if (ev.gso_segs <= 1 && !ev.gso_size) {
			ASSERT_LE(pkts, 1u) << describe(ev);
			ASSERT_LE(bytes, ev.frame.size() - l2) << describe(ev);
		}
		ASSERT_EQ(dp.counters(), model.counters()) << describe(ev);
		ASSERT_EQ(dp.stats(), model.stats()) << describe(ev);
	};

	static const uint16_t types[] = {0x0800, 0x86dd, 0x8100, 0x88a8, 0x8864, 0x0806, 0x0000};
	for (int i = 0; i < 3000; ++i) {
		PacketEvent ev;
		ev.l3 = pick(0, 3) == 0;
		ev.hook = pick(0, 1) ? Hook::kIngress : Hook::kEgress;
		ev.frame.resize(pick(14, 400));
		for (auto &byte : ev.frame)
			byte = uint8_t(pick(0, 255));
		if (!ev.l3 && pick(0, 4)) {
			uint16_t t = types[pick(0, 6)];
			ev.frame[12] = t >> 8;
			ev.frame[13] = t & 0xff;
			if (t == 0x0800 || t == 0x86dd)
				ev.frame[14] = (t == 0x0800 ? 0x40 : 0x60) | (ev.frame[14] & 0x0f);
		} else if (ev.l3 && pick(0, 3)) {
			ev.frame[0] = (pick(0, 1) ? 0x40 : 0x60) | (ev.frame[0] & 0x0f);
		}
		if (pick(0, 9) == 0)
			ev.gso_segs = uint32_t(pick(2, 8));
		check(ev);
	}
	for (int i = 0; i < 300; ++i) {
		PacketEvent valid = gen.packet();
		for (size_t n = 14; n <= valid.frame.size(); ++n) {
			PacketEvent ev = valid;
			ev.frame.resize(n);
			check(ev);
			if (HasFatalFailure())
				return;
		}
	}
	std::printf("robustness: %zu frames\n", runs);
}

} // namespace
} // namespace tmeter::dptest

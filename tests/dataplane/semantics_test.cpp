// SPEC §3, one table row per behaviour: frames the row builds, the counters
// and statistics expected from the sizes it chose (never from a run), and a
// check that the BPF program and the reference model both meet them.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "dataplane_fixture.h"

namespace tmeter::dptest {
namespace {

using namespace tcpflag;

struct Step {
	enum Kind { kPacket, kAdd, kDel, kAttach, kSaveGeneration, kRestoreGeneration, kBumpGeneration };
	Kind kind = kPacket;
	PacketEvent ev;
	std::vector<std::string> rules;
	uint32_t ifindex = 0;
	uint32_t role = TM_ROLE_ATTACHED;
};

struct ExpectStats {
	std::optional<uint64_t> egress_skipped, not_ip, malformed, no_rule, counted;
};

struct Case {
	std::string name; // gtest identifier
	std::string what;
	std::vector<std::string> rules;
	std::vector<Step> steps;
	std::map<std::string, Counters> expect; // rules left out expect zero
	ExpectStats stats;
	std::optional<size_t> flows; // entries in tm_flow_table afterwards
	// The model resolves rules at each packet; it cannot reproduce a packet
	// racing a rule change (the serial check), so such rows skip it.
	bool model = true;
};

Step in(Bytes f, uint32_t gso_segs = 0)
{
	return {.ev = {.frame = std::move(f), .gso_segs = gso_segs}};
}
// An aggregate whose segments the kernel has not counted yet (a guest's TSO
// through tap/virtio: gso_segs 0, gso_size set).
Step in_gso_size(Bytes f, uint32_t gso_size, uint32_t gso_segs = 0)
{
	return {.ev = {.frame = std::move(f), .gso_segs = gso_segs, .gso_size = gso_size}};
}
Step out(Bytes f, uint32_t ingress_ifindex = 0, uint32_t gso_segs = 0)
{
	return {.ev = {.frame = std::move(f), .hook = Hook::kEgress, .gso_segs = gso_segs,
		       .ingress_ifindex = ingress_ifindex}};
}
Step in_l3(Bytes f)
{
	return {.ev = {.frame = std::move(f), .l3 = true}};
}
Step out_l3(Bytes f)
{
	return {.ev = {.frame = std::move(f), .hook = Hook::kEgress, .l3 = true}};
}
Step add(std::vector<std::string> r)
{
	return {.kind = Step::kAdd, .rules = std::move(r)};
}
Step del(std::vector<std::string> r)
{
	return {.kind = Step::kDel, .rules = std::move(r)};
}
Step attach(uint32_t ifindex, uint32_t role = TM_ROLE_ATTACHED)
{
	return {.kind = Step::kAttach, .ifindex = ifindex, .role = role};
}
Step step(Step::Kind k)
{
	return {.kind = k};
}

Counters up(uint64_t p, uint64_t b)
{
	return {p, b, 0, 0};
}
Counters down(uint64_t p, uint64_t b)
{
	return {0, 0, p, b};
}
Counters both(uint64_t up_p, uint64_t up_b, uint64_t down_p, uint64_t down_b)
{
	return {up_p, up_b, down_p, down_b};
}

// Hosts: A and A2 on the "LAN" 198.18.0.0/24, B a server in 198.19.0.0/16,
// R a router in 198.20.0.0/16; the same roles in IPv6 under 2001:db8::/32.
const Addr A = ip("198.18.0.10"), A2 = ip("198.18.0.20"), B = ip("198.19.1.1"),
	   R = ip("198.20.0.1");
const Addr A6 = ip("2001:db8:1::10"), B6 = ip("2001:db8:2::1"), R6 = ip("2001:db8:ff::1");
const std::string kLan = "198.18.0.0/24", kSrv = "198.19.0.0/16", kRtr = "198.20.0.0/16";
const std::string kLan6 = "2001:db8:1::/64", kSrv6 = "2001:db8:2::/64", kRtr6 = "2001:db8:ff::/64";

PacketBuilder l2()
{
	return PacketBuilder().eth();
}
// IP bytes: 20 + 8 + payload.
Bytes udp4(const Addr &s, const Addr &d, uint16_t sp, uint16_t dp, size_t payload)
{
	return l2().ipv4(s, d).udp(sp, dp).payload(payload).build();
}
// IP bytes: 20 + 20 + payload.
Bytes tcp4(const Addr &s, const Addr &d, uint16_t sp, uint16_t dp, uint8_t flags, size_t payload = 0)
{
	return l2().ipv4(s, d).tcp(sp, dp, flags).payload(payload).build();
}
// IP bytes: 40 + 8 + payload.
Bytes udp6(const Addr &s, const Addr &d, uint16_t sp, uint16_t dp, size_t payload)
{
	return l2().ipv6(s, d).udp(sp, dp).payload(payload).build();
}
// IP bytes: 40 + 20 + payload.
Bytes tcp6(const Addr &s, const Addr &d, uint16_t sp, uint16_t dp, uint8_t flags, size_t payload = 0)
{
	return l2().ipv6(s, d).tcp(sp, dp, flags).payload(payload).build();
}
// The start of a packet as an ICMP error quotes it: IP header + 8 bytes.
Bytes quote4(PacketBuilder inner)
{
	return truncated(inner.payload(100).build(), 20 + 8);
}
Bytes quote6(PacketBuilder inner)
{
	return truncated(inner.payload(100).build(), 40 + 8);
}
// IP bytes: 20 + 8 + quoted.
Bytes icmp4_error(const Addr &s, const Addr &d, uint8_t type, const Bytes &quoted)
{
	return l2().ipv4(s, d).icmp(4, type, 0, quoted).build();
}
Bytes icmp6_error(const Addr &s, const Addr &d, uint8_t type, const Bytes &quoted)
{
	return l2().ipv6(s, d).icmp(6, type, 0, quoted).build();
}
Bytes with_trailer(Bytes f, size_t n)
{
	f.insert(f.end(), n, 0);
	return f;
}

std::vector<std::string> filler_rules(size_t n)
{
	std::vector<std::string> r;
	for (size_t i = 0; i < n; ++i)
		r.push_back("10." + std::to_string(i) + ".0.0/16");
	return r;
}

std::vector<Case> cases()
{
	std::vector<Case> c;

	// ---- Link layers: the IP header is found at the right offset ----
	c.push_back({"eth_ipv4_udp", "plain Ethernet, IPv4/UDP, 100 B payload", {kLan, kSrv},
		     {in(udp4(A, B, 1000, 53, 100))},
		     {{kLan, up(1, 128)}, {kSrv, up(1, 128)}},
		     {.malformed = 0, .counted = 1}});
	c.push_back({"vlan_8021q", "one 802.1Q tag", {kLan},
		     {in(l2().vlan(0x8100).ipv4(A, B).udp(1000, 53).payload(100).build())},
		     {{kLan, up(1, 128)}}});
	c.push_back({"vlan_8021ad_ipv6_tcp", "one 802.1ad tag, IPv6/TCP (the fast parse's tagged frames)",
		     {kLan6},
		     {in(l2().vlan(0x88a8, 30).ipv6(A6, B6).tcp(1000, 80, kSyn).payload(100).build())},
		     {{kLan6, up(1, 40 + 20 + 100)}}});
	c.push_back({"qinq_ipv4", "802.1ad outer + 802.1Q inner tag", {kLan},
		     {in(l2().vlan(0x88a8, 10).vlan(0x8100, 20).ipv4(A, B).udp(1000, 53).payload(100).build())},
		     {{kLan, up(1, 128)}}});
	c.push_back({"qinq_ipv6", "two tags, IPv6", {kLan6},
		     {in(l2().vlan(0x88a8).vlan(0x8100).ipv6(A6, B6).udp(1000, 53).payload(100).build())},
		     {{kLan6, up(1, 40 + 8 + 100)}}});
	c.push_back({"three_tags_not_ip", "a third tag is beyond what is parsed: not IP", {kLan},
		     {in(l2().vlan(0x88a8).vlan(0x8100).vlan(0x8100).ipv4(A, B).udp(1, 2).build())},
		     {}, {.not_ip = 1, .malformed = 0, .counted = 0}});
	// What the fast parse reads at two tags' offset (ethertype at byte 20, IPv4 at 22) is
	// here an IPv4 packet after one tag and a non-IP ethertype: not IP.
	c.push_back({"one_tag_not_ip_lookalike", "one tag, then a non-IP protocol whose bytes 2-3 read 0x0800",
		     {kLan},
		     {in(l2().vlan(0x8100).raw(Bytes{0x00, 0x00, 0x08, 0x00}).ipv4(A, B).udp(1000, 53).payload(100).build())},
		     {}, {.not_ip = 1, .malformed = 0, .counted = 0}});
	c.push_back({"pppoe_ipv4", "PPPoE session, PPP IPv4", {kLan},
		     {in(l2().pppoe().ipv4(A, B).udp(1000, 53).payload(100).build())},
		     {{kLan, up(1, 128)}}});
	c.push_back({"pppoe_ipv6", "PPPoE session, PPP IPv6", {kLan6},
		     {in(l2().pppoe().ipv6(A6, B6).udp(1000, 53).payload(100).build())},
		     {{kLan6, up(1, 148)}}});
	c.push_back({"vlan_pppoe_ipv4", "PPPoE inside a VLAN", {kLan},
		     {in(l2().vlan().pppoe().ipv4(A, B).tcp(1000, 80, kSyn).build())},
		     {{kLan, up(1, 40)}}});
	c.push_back({"pppoe_lcp_not_ip", "PPPoE session carrying LCP is not IP, not malformed", {kLan},
		     {in(l2().pppoe(0xc021).payload(20).build())},
		     {}, {.not_ip = 1, .malformed = 0}});
	c.push_back({"arp_not_ip", "ARP", {kLan},
		     {in(l2().raw(Bytes(28, 0)).build())}, // experimental ethertype
		     {}, {.not_ip = 1, .malformed = 0}});
	c.push_back({"vlan_truncated", "tag cut off after 2 bytes", {kLan},
		     {in(truncated(l2().vlan().ipv4(A, B).udp(1, 2).build(), 14 + 2))},
		     {}, {.not_ip = 0, .malformed = 1}});
	c.push_back({"pppoe_truncated", "PPPoE header cut off", {kLan},
		     {in(truncated(l2().pppoe().ipv4(A, B).udp(1, 2).build(), 14 + 5))},
		     {}, {.malformed = 1}});
	c.push_back({"ethernet_padding_not_counted", "a 32 B IP packet padded to a 60 B frame", {kLan},
		     {in(with_trailer(udp4(A, B, 1000, 53, 4), 60 - 14 - 32))},
		     {{kLan, up(1, 32)}}});

	// ---- IPv4 ----
	c.push_back({"ipv4_options", "IHL 8 (12 B options): ports read after them; the reply "
				     "shares the flow",
		     {kLan},
		     {in(l2().ipv4({.src = A, .dst = B, .options_len = 12}).udp(1000, 53).payload(100).build()),
		      in(udp4(B, A, 53, 1000, 50))},
		     {{kLan, both(1, 32 + 8 + 100, 1, 78)}}});
	c.push_back({"ipv4_bad_version", "version 5", {kLan},
		     {in(l2().ipv4({.src = A, .dst = B, .version = 5}).udp(1, 2).build())},
		     {}, {.malformed = 1, .no_rule = 0, .counted = 0}});
	c.push_back({"ipv4_ihl_below_5", "IHL 4", {kLan},
		     {in(l2().ipv4({.src = A, .dst = B, .ihl = 4}).udp(1, 2).build())},
		     {}, {.malformed = 1, .counted = 0}});
	c.push_back({"ipv4_ihl_beyond_packet", "IHL 15 in a 28 B packet", {kLan},
		     {in(l2().ipv4({.src = A, .dst = B, .ihl = 15}).udp(1, 2).build())},
		     {}, {.malformed = 1, .counted = 0}});
	c.push_back({"ipv4_tot_len_below_ihl", "tot_len 10", {kLan},
		     {in(l2().ipv4({.src = A, .dst = B, .tot_len = 10}).udp(1, 2).build())},
		     {}, {.malformed = 1, .counted = 0}});
	// BPF_PROG_TEST_RUN refuses a frame whose ethertype says IP but which
	// cannot hold the fixed IP header; behind a VLAN tag it accepts it.
	c.push_back({"ipv4_header_truncated", "10 of 20 header bytes (behind a tag)", {kLan},
		     {in(truncated(l2().vlan().ipv4(A, B).udp(1, 2).build(), 18 + 10))},
		     {}, {.malformed = 1, .counted = 0}});
	c.push_back({"ipv4_capture_truncated", "tot_len 128, 78 B present: counts what is there",
		     {kLan},
		     {in(truncated(udp4(A, B, 1000, 53, 100), 14 + 78))},
		     {{kLan, up(1, 78)}}, {.malformed = 0}});
	c.push_back({"ipv4_udp_header_truncated",
		     "2 B of UDP: malformed, counted by address pair",
		     {kLan},
		     {in(truncated(udp4(A, B, 1000, 53, 100), 14 + 22)),
		      // A reply on the 5-tuple is another flow: B originated it.
		      in(udp4(B, A, 53, 1000, 10))},
		     {{kLan, up(2, 22 + 38)}}, {.malformed = 1, .counted = 2}, 2});
	c.push_back({"tcp_header_truncated", "3 B of TCP", {kLan},
		     {in(truncated(tcp4(A, B, 1000, 80, kSyn), 14 + 23))},
		     {{kLan, up(1, 23)}}, {.malformed = 1}});
	c.push_back({"tcp_header_cut_after_flags",
		     "14 B of TCP still hold the flags: a SYN+ACK seen first names its receiver",
		     {kLan},
		     {in(truncated(tcp4(B, A, 80, 1000, kSyn | kAck), 14 + 20 + 14))},
		     {{kLan, down(1, 34)}}, {.malformed = 0}});
	c.push_back({"icmp_header_truncated", "4 B of ICMP", {kLan},
		     {in(truncated(l2().ipv4(A, B).icmp_echo(4, 7).payload(56).build(), 14 + 24))},
		     {{kLan, up(1, 24)}}, {.malformed = 1}});

	// ---- IPv6 extension headers ----
	c.push_back({"ipv6_ext_chain", "hop-by-hop, routing, dstopts, AH before TCP; the reply "
				       "without them shares the flow",
		     {kLan6},
		     {in(l2().ipv6(A6, B6)
			     .ipv6_ext(proto::kHopOpts, 0)
			     .ipv6_ext(proto::kRouting, 1)
			     .ipv6_ext(proto::kDstOpts, 0)
			     .ipv6_ext(proto::kAh, 4)
			     .tcp(1000, 443, kAck)
			     .payload(10)
			     .build()),
		      in(tcp6(B6, A6, 443, 1000, kAck, 5))},
		     {{kLan6, both(1, 40 + 8 + 16 + 8 + 24 + 20 + 10, 1, 65)}}, {.malformed = 0},
		     1});
	{
		PacketBuilder eight = l2().ipv6(A6, B6);
		for (int i = 0; i < 8; ++i)
			eight.ipv6_ext(proto::kDstOpts, 0);
		PacketBuilder nine = l2().ipv6(A6, B6);
		for (int i = 0; i < 9; ++i)
			nine.ipv6_ext(proto::kDstOpts, 0);
		c.push_back({"ipv6_eight_ext_headers", "eight extension headers are walked", {kLan6},
			     {in(eight.udp(1000, 53).payload(10).build()), in(udp6(B6, A6, 53, 1000, 0))},
			     {{kLan6, both(1, 40 + 64 + 8 + 10, 1, 48)}}, {.malformed = 0}, 1});
		c.push_back({"ipv6_nine_ext_headers",
			     "nine: malformed, counted by address pair",
			     {kLan6},
			     {in(nine.udp(1000, 53).payload(10).build())},
			     {{kLan6, up(1, 40 + 72 + 8 + 10)}}, {.malformed = 1, .counted = 1}});
	}
	c.push_back({"ipv6_ext_truncated", "hop-by-hop of 88 B cut after 20 B", {kLan6},
		     {in(truncated(l2().ipv6(A6, B6).ipv6_ext(proto::kHopOpts, 10).udp(1, 2).build(),
				   14 + 40 + 20))},
		     {{kLan6, up(1, 60)}}, {.malformed = 1}});
	c.push_back({"ipv6_payload_len_zero", "payload_len 0, no jumbo option, not an aggregate: "
						"the header only, the rest is link-layer padding",
		     {kLan6},
		     {in(l2().ipv6({.src = A6, .dst = B6, .payload_len = 0}).udp(1, 2).payload(100).build())},
		     {{kLan6, up(1, 40)}}});
	c.push_back({"ipv6_payload_len_zero_aggregate", "payload_len 0 in an aggregate (BIG TCP): "
							  "all present bytes",
		     {kLan6},
		     {in(l2().ipv6({.src = A6, .dst = B6, .payload_len = 0}).udp(1, 2).payload(100).build(),
			 2)},
		     {{kLan6, up(2, 148 + 48)}}});
	// Hop-by-hop header with a jumbo payload option of 116 (8 + 8 + 100),
	// then 20 bytes of trailer that are not IP.
	c.push_back({"ipv6_jumbo_option", "payload_len 0 with a jumbo option: its length", {kLan6},
		     {in(l2().ipv6({.src = A6, .dst = B6, .next_header = proto::kHopOpts, .payload_len = 0})
			     .raw({proto::kUdp, 0, 0xC2, 4, 0, 0, 0, 116})
			     .udp(1, 2)
			     .payload(100)
			     .raw(Bytes(20, 0))
			     .build())},
		     {{kLan6, up(1, 40 + 116)}}});
	c.push_back({"ipv6_bad_version", "version 4 in an IPv6 ethertype", {kLan6},
		     {in(l2().ipv6({.src = A6, .dst = B6, .version = 4}).udp(1, 2).build())},
		     {}, {.malformed = 1, .counted = 0}});
	c.push_back({"ipv6_header_truncated", "30 of 40 header bytes (behind a tag)", {kLan6},
		     {in(truncated(l2().vlan().ipv6(A6, B6).udp(1, 2).build(), 18 + 30))},
		     {}, {.malformed = 1}});

	// ---- Direction ----
	c.push_back({"tcp_handshake", "SYN, SYN+ACK, ACK, data both ways", {kLan, kSrv},
		     {in(tcp4(A, B, 40000, 80, kSyn)), in(tcp4(B, A, 80, 40000, kSyn | kAck)),
		      in(tcp4(A, B, 40000, 80, kAck)), in(tcp4(A, B, 40000, 80, kAck | kPsh, 100)),
		      in(tcp4(B, A, 80, 40000, kAck, 1000))},
		     {{kLan, both(3, 40 + 40 + 140, 2, 40 + 1040)},
		      {kSrv, both(3, 40 + 40 + 140, 2, 40 + 1040)}},
		     {.counted = 5}, 1});
	c.push_back({"synack_seen_first", "handshake seen half-way: SYN+ACK names its receiver",
		     {kLan},
		     {in(tcp4(B, A, 80, 40000, kSyn | kAck)), in(tcp4(A, B, 40000, 80, kAck, 10))},
		     {{kLan, both(1, 50, 1, 40)}}});
	c.push_back({"midstream_first_packet", "no SYN seen: the first sender originates", {kLan},
		     {in(tcp4(B, A, 80, 40000, kAck, 100)), in(tcp4(A, B, 40000, 80, kAck))},
		     {{kLan, both(1, 140, 1, 40)}}});
	c.push_back({"reused_tuple_new_syn", "a SYN from the other side on the same 5-tuple "
					     "makes it the originator",
		     {kLan},
		     {in(tcp4(A, B, 1000, 80, kSyn)), in(tcp4(B, A, 80, 1000, kSyn)),
		      in(tcp4(A, B, 1000, 80, kAck, 100))},
		     {{kLan, both(2, 80, 1, 140)}}, {}, 1});
	c.push_back({"udp_first_sender", "UDP: whoever sends first originates", {kLan},
		     {in(udp4(B, A, 53, 1000, 10)), in(udp4(A, B, 1000, 53, 20)),
		      in(udp4(A2, B, 1000, 53, 30))},
		     {{kLan, both(2, 38 + 58, 1, 48)}}, {}, 2});
	c.push_back({"sctp_and_udplite_ports", "SCTP and UDP-Lite flows use ports", {kLan},
		     {in(l2().ipv4(B, A).ports(proto::kSctp, 9, 10, 12).build()),
		      in(l2().ipv4(A, B).ports(proto::kSctp, 10, 9, 12).build()),
		      in(l2().ipv4(A, B).ports(proto::kUdplite, 10, 9, 8).build()),
		      in(l2().ipv4(B, A).ports(proto::kUdplite, 9, 10, 8).build())},
		     {{kLan, both(2, 32 + 28, 2, 32 + 28)}}, {}, 2});
	c.push_back({"other_proto_address_pair", "GRE: address pair + protocol", {kLan},
		     {in(l2().ipv4({.src = B, .dst = A, .proto = proto::kGre}).payload(30).build()),
		      in(l2().ipv4({.src = A, .dst = B, .proto = proto::kGre}).payload(20).build())},
		     {{kLan, both(1, 50, 1, 40)}}, {}, 1});

	// ---- Rules ----
	c.push_back({"catchall_v4_once", "0.0.0.0/0 matches source and destination: once",
		     {"0.0.0.0/0"}, {in(udp4(A, B, 1, 2, 100))}, {{"0.0.0.0/0", up(1, 128)}}});
	c.push_back({"catchall_v6_once", "::/0 once", {"::/0", "0.0.0.0/0"},
		     {in(udp6(A6, B6, 1, 2, 100))}, {{"::/0", up(1, 148)}}});
	c.push_back({"same_rule_both_ends_once", "198.16.0.0/14 holds A and B", {"198.16.0.0/14"},
		     {in(udp4(A, B, 1, 2, 100)), in(udp4(B, A, 2, 1, 10))},
		     {{"198.16.0.0/14", both(1, 128, 1, 38)}}});
	c.push_back({"longest_prefix_wins", "/32 beats /24 beats /16, per address",
		     {"198.18.0.0/16", "198.18.0.0/24", "198.18.0.10/32"},
		     {in(udp4(A, ip("198.18.1.5"), 1, 2, 100)), in(udp4(A2, B, 1, 2, 10))},
		     {{"198.18.0.10/32", up(1, 128)}, {"198.18.0.0/16", up(1, 128)},
		      {"198.18.0.0/24", up(1, 38)}}});
	c.push_back({"ipv6_longest_prefix", "/128 beats /64 beats /32",
		     {"2001:db8::/32", "2001:db8:1::/64", "2001:db8:1::10/128"},
		     {in(udp6(A6, B6, 1, 2, 0)), in(udp6(ip("2001:db8:1::11"), B6, 1, 2, 0))},
		     {{"2001:db8:1::10/128", up(1, 48)}, {"2001:db8::/32", up(2, 96)},
		      {"2001:db8:1::/64", up(1, 48)}}});
	c.push_back({"no_rule", "addresses outside every rule", {kSrv},
		     {in(udp4(A, R, 1, 2, 0))}, {}, {.no_rule = 1, .counted = 0}});
	c.push_back({"families_separate", "an IPv4 rule never matches IPv6", {"0.0.0.0/0"},
		     {in(udp6(A6, B6, 1, 2, 0))}, {}, {.no_rule = 1}});

	// ---- ICMP ----
	c.push_back({"icmp_echo", "request and reply share the identifier's flow", {kLan, kSrv},
		     {in(l2().ipv4(A, B).icmp_echo(4, 7, 1).payload(56).build()),
		      in(l2().ipv4(B, A).icmp_echo(4, 7, 1, true).payload(56).build())},
		     {{kLan, both(1, 84, 1, 84)}, {kSrv, both(1, 84, 1, 84)}}, {}, 1});
	c.push_back({"icmp_echo_ids_separate", "another identifier is another flow", {kLan},
		     {in(l2().ipv4(A, B).icmp_echo(4, 7).payload(56).build()),
		      in(l2().ipv4(B, A).icmp_echo(4, 9).payload(56).build()),
		      in(l2().ipv4(A, B).icmp_echo(4, 9, 1, true).payload(56).build())},
		     {{kLan, both(2, 168, 1, 84)}}, {}, 2});
	c.push_back({"icmpv6_echo", "ICMPv6 echo", {kLan6},
		     {in(l2().ipv6(A6, B6).icmp_echo(6, 3).payload(56).build()),
		      in(l2().ipv6(B6, A6).icmp_echo(6, 3, 1, true).payload(56).build())},
		     {{kLan6, both(1, 104, 1, 104)}}, {}, 1});
	c.push_back({"icmp_error_towards_originator",
		     "time exceeded from a router to A about A's packet: downstream, rules of "
		     "the error's own addresses, no new flow",
		     {kLan, kSrv, kRtr},
		     {in(udp4(A, B, 1000, 53, 100)),
		      in(icmp4_error(R, A, 11, quote4(PacketBuilder().ipv4(A, B).udp(1000, 53))))},
		     {{kLan, both(1, 128, 1, 56)}, {kSrv, up(1, 128)}, {kRtr, down(1, 56)}},
		     {.counted = 2}, 1});
	c.push_back({"icmp_error_towards_responder",
		     "A refuses B's reply (port unreachable): towards the non-originator, upstream",
		     {kLan, kSrv},
		     {in(udp4(A, B, 1000, 53, 100)), in(udp4(B, A, 53, 1000, 10)),
		      in(icmp4_error(A, B, 3, quote4(PacketBuilder().ipv4(B, A).udp(53, 1000))))},
		     {{kLan, both(2, 128 + 56, 1, 38)}, {kSrv, both(2, 128 + 56, 1, 38)}}, {}, 1});
	c.push_back({"icmp_error_unknown_flow", "the quoted packet was its flow's first: downstream",
		     {kLan, kRtr},
		     {in(icmp4_error(R, A, 3, quote4(PacketBuilder().ipv4(A, B).tcp(1000, 80, kSyn))))},
		     {{kLan, down(1, 56)}, {kRtr, down(1, 56)}}, {.counted = 1}, 0});
	c.push_back({"icmpv6_packet_too_big", "ICMPv6 type 2 about A's TCP flow", {kLan6, kRtr6},
		     {in(tcp6(A6, B6, 1000, 443, kSyn)), in(tcp6(B6, A6, 443, 1000, kSyn | kAck)),
		      in(icmp6_error(R6, A6, 2,
				     quote6(PacketBuilder().ipv6(A6, B6).tcp(1000, 443, kAck))))},
		     {{kLan6, both(1, 60, 2, 60 + 40 + 8 + 48)}, {kRtr6, down(1, 96)}}, {}, 1});
	c.push_back({"icmpv6_error_after_ext_headers",
		     "the quoted packet's extension headers are walked: an error about B's reply "
		     "(B is not the originator) goes upstream",
		     {kSrv6},
		     {in(udp6(A6, B6, 1000, 53, 0)), in(udp6(B6, A6, 53, 1000, 0)),
		      in(icmp6_error(R6, B6, 1,
				     truncated(PacketBuilder()
						       .ipv6(B6, A6)
						       .ipv6_ext(proto::kHopOpts, 0)
						       .udp(53, 1000)
						       .build(),
					       40 + 8 + 8)))},
		     {{kSrv6, both(2, 48 + 40 + 8 + 56, 1, 48)}}, {}, 1});
	c.push_back({"icmp_error_quoting_echo", "an error about B's echo reply uses the echo "
						"flow A originated: upstream",
		     {kLan, kSrv},
		     {in(l2().ipv4(A, B).icmp_echo(4, 5).payload(56).build()),
		      in(icmp4_error(A, B, 3,
				     truncated(PacketBuilder().ipv4(B, A).icmp_echo(4, 5, 1, true).payload(56).build(),
					       28)))},
		     {{kLan, up(2, 84 + 56)}, {kSrv, up(2, 84 + 56)}}, {}, 1});
	c.push_back({"icmp_error_unreadable_quote", "a 10 B quote: an ordinary ICMP packet",
		     {kLan, kRtr},
		     {in(icmp4_error(R, A, 3, Bytes(10, 0x45)))},
		     {{kLan, up(1, 38)}, {kRtr, up(1, 38)}}, {.malformed = 0}, 1});
	c.push_back({"icmp_error_quote_without_ports", "quote holds only the IP header: the "
						       "address-pair key is unknown, downstream",
		     {kLan},
		     {in(udp4(A, B, 1000, 53, 0)),
		      in(icmp4_error(R, A, 3,
				     truncated(PacketBuilder().ipv4(A, B).udp(1000, 53).build(), 20)))},
		     {{kLan, both(1, 28, 1, 48)}}, {}, 1});

	// ---- Fragments ----
	// B originates the 5-tuple; A's fragmented datagram then goes downstream
	// only if its later fragment finds the first's ports.
	c.push_back({"ipv4_fragments_first_known", "later fragment borrows the first's ports",
		     {kLan},
		     {in(udp4(B, A, 53, 1000, 10)),
		      in(l2().ipv4({.src = A, .dst = B, .id = 77, .more_fragments = true})
				 .udp(1000, 53)
				 .payload(40)
				 .build()),
		      in(l2().ipv4({.src = A, .dst = B, .id = 77, .frag_offset = 6, .proto = proto::kUdp})
				 .payload(30)
				 .build())},
		     {{kLan, both(1, 38, 2, 68 + 50)}}, {}, 1});
	c.push_back({"ipv4_fragment_unknown", "no first fragment seen: address-pair flow", {kLan},
		     {in(udp4(B, A, 53, 1000, 10)),
		      in(l2().ipv4({.src = A, .dst = B, .id = 99, .frag_offset = 6, .proto = proto::kUdp})
				 .payload(30)
				 .build()),
		      in(l2().ipv4({.src = B, .dst = A, .id = 5, .frag_offset = 6, .proto = proto::kUdp})
				 .payload(20)
				 .build())},
		     {{kLan, both(2, 38 + 50, 1, 40)}}, {}, 2});
	c.push_back({"ipv4_fragment_other_id", "the first fragment of another datagram does not "
					       "lend its ports",
		     {kLan},
		     {in(udp4(B, A, 53, 1000, 10)),
		      in(l2().ipv4({.src = A, .dst = B, .id = 77, .more_fragments = true})
				 .udp(1000, 53)
				 .payload(40)
				 .build()),
		      in(l2().ipv4({.src = A, .dst = B, .id = 78, .frag_offset = 6, .proto = proto::kUdp})
				 .payload(30)
				 .build())},
		     {{kLan, both(2, 38 + 50, 1, 68)}}, {}, 2});
	c.push_back({"ipv6_fragments_first_known", "IPv6 fragment header, first then later",
		     {kLan6},
		     {in(udp6(B6, A6, 53, 1000, 10)),
		      in(l2().ipv6(A6, B6).ipv6_frag(0, true, 0xabcdef).udp(1000, 53).payload(40).build()),
		      in(l2().ipv6(A6, B6).ipv6_frag(6, false, 0xabcdef, proto::kUdp).payload(30).build())},
		     {{kLan6, both(1, 58, 2, 96 + 78)}}, {}, 1});
	c.push_back({"ipv6_fragment_unknown", "IPv6 later fragment, first unseen", {kLan6},
		     {in(udp6(B6, A6, 53, 1000, 10)),
		      in(l2().ipv6(A6, B6).ipv6_frag(6, false, 0x1234, proto::kUdp).payload(30).build())},
		     {{kLan6, up(2, 58 + 78)}}, {}, 2});
	c.push_back({"ipv6_atomic_fragment", "offset 0, M clear: not a fragment, ports are read",
		     {kLan6},
		     {in(udp6(B6, A6, 53, 1000, 10)),
		      in(l2().ipv6(A6, B6).ipv6_frag(0, false, 7).udp(1000, 53).payload(10).build())},
		     {{kLan6, both(1, 58, 1, 66)}}, {}, 1});
	// The first fragment's header says destination options come next; so
	// does every later fragment's, which holds no such header: the
	// datagram is source, destination and id (RFC 8200), not the protocol.
	c.push_back({"ipv6_fragment_next_header_dstopts", "later fragment whose next header is "
							     "destination options borrows the ports",
		     {kLan6},
		     {in(udp6(B6, A6, 53, 1000, 10)),
		      in(l2().ipv6(A6, B6).ipv6_frag(0, true, 0x42).ipv6_ext(proto::kDstOpts, 0)
			     .udp(1000, 53).payload(40).build()),
		      in(l2().ipv6(A6, B6).ipv6_frag(6, false, 0x42, proto::kDstOpts).payload(30).build())},
		     {{kLan6, both(1, 58, 2, 104 + 78)}}, {}, 1});
	c.push_back({"ipv6_fragment_after_hbh", "fragment header behind hop-by-hop", {kLan6},
		     {in(udp6(B6, A6, 53, 1000, 10)),
		      in(l2().ipv6(A6, B6).ipv6_ext(proto::kHopOpts, 0).ipv6_frag(0, true, 5).udp(1000, 53).payload(40).build()),
		      in(l2().ipv6(A6, B6).ipv6_ext(proto::kHopOpts, 0).ipv6_frag(6, false, 5, proto::kUdp).payload(30).build())},
		     {{kLan6, both(1, 58, 2, 104 + 86)}}, {}, 1});

	// ---- GSO / GRO aggregates ----
	c.push_back({"gso_tcp_v4", "4 x 500 B TCP segments in one aggregate", {kLan},
		     {in(tcp4(A, B, 1000, 80, kAck, 2000), 4)},
		     {{kLan, up(4, 4 * (40 + 500))}}});
	c.push_back({"gso_tcp_options", "doff 8: each segment repeats 32 B of TCP header", {kLan},
		     {out(l2().ipv4(A, B).tcp({.sport = 1000, .dport = 80, .doff = 8}).payload(200).build(),
			  0, 2)},
		     {{kLan, up(2, 2 * (20 + 32 + 100))}}});
	c.push_back({"gso_udp_v6", "3 x 400 B UDP (USO)", {kLan6},
		     {out(udp6(A6, B6, 1000, 53, 1200), 0, 3)},
		     {{kLan6, up(3, 3 * (48 + 400))}}});
	// (BPF_PROG_TEST_RUN takes frames up to a page: 3 segments, not 10.)
	c.push_back({"tso_from_guest_v4", "tap/virtio: gso_segs 0, gso_size 1000: 3 segments",
		     {kLan},
		     {in_gso_size(tcp4(A, B, 1000, 80, kAck, 3000), 1000)},
		     {{kLan, up(3, 3 * 40 + 3000)}}});
	c.push_back({"tso_from_guest_v6_remainder", "2500 B, gso_size 1000: 3 segments", {kLan6},
		     {in_gso_size(tcp6(A6, B6, 1000, 80, kAck, 2500), 1000)},
		     {{kLan6, up(3, 3 * 60 + 2500)}}});
	c.push_back({"uso_from_guest", "UDP GSO from a guest: 3000 B, gso_size 1200", {kLan},
		     {in_gso_size(udp4(A, B, 1000, 53, 3000), 1200)},
		     {{kLan, up(3, 3 * 28 + 3000)}}});
	c.push_back({"tso_from_guest_one_segment", "gso_size above the payload: one packet", {kLan},
		     {in_gso_size(tcp4(A, B, 1000, 80, kAck, 800), 1000)},
		     {{kLan, up(1, 840)}}});
	c.push_back({"gso_sctp", "SCTP aggregate (gso_size GSO_BY_FRAGS, gso_segs 2): the common "
				 "header repeats",
		     {kLan},
		     {in_gso_size(l2().ipv4(A, B).ports(proto::kSctp, 5000, 6000, 12).payload(1000).build(),
				  0xFFFF, 2)},
		     {{kLan, up(2, 2 * 32 + 1000)}}});
	c.push_back({"gso_big_tcp_tot_len_zero", "BIG TCP IPv4: tot_len 0 is not malformed", {kLan},
		     {in(l2().ipv4({.src = A, .dst = B, .tot_len = 0}).tcp(1000, 80).payload(1000).build(),
			 2)},
		     {{kLan, up(2, 2 * (40 + 500))}}, {.malformed = 0}});

	// ---- Once per host ----
	c.push_back({"egress_local", "egress of a locally generated packet counts", {kLan},
		     {attach(7), out(udp4(A, B, 1, 2, 100))},
		     {{kLan, up(1, 128)}}, {.egress_skipped = 0}});
	c.push_back({"egress_from_attached_skipped", "entered through attached ifindex 7", {kLan},
		     {attach(7), out(udp4(A, B, 1, 2, 100), 7)},
		     {}, {.egress_skipped = 1, .no_rule = 0, .counted = 0}});
	// tm_roles keeps 2 bits an ifindex below TM_ROLE_IFINDEXES, 32 to a
	// word; tm_ifaces answers for the others.
	c.push_back({"egress_roles_per_interface",
		     "attached 6, 7 and 38 (the next word, 6's bits), then 7 and 38 unloaded: "
		     "only what entered through 6 is skipped, its neighbours 5 and 7 and the "
		     "next word's 38 count",
		     {kLan},
		     {attach(6), attach(7), attach(38), attach(7, 0), attach(38, 0),
		      out(udp4(A, B, 1, 2, 100), 6), out(udp4(A, B, 1, 2, 100), 5),
		      out(udp4(A, B, 1, 2, 100), 7), out(udp4(A, B, 1, 2, 100), 38)},
		     {{kLan, up(3, 3 * 128)}}, {.egress_skipped = 1}});
	c.push_back({"egress_from_attached_high_ifindex_skipped",
		     "entered through attached ifindex 70000, past tm_roles: tm_ifaces says", {kLan},
		     {attach(70000), out(udp4(A, B, 1, 2, 100), 70000),
		      out(udp4(A, B, 1, 2, 100), 70001)},
		     {{kLan, up(1, 128)}}, {.egress_skipped = 1}});
	c.push_back({"egress_from_unattached_counts", "entered through ifindex 9, not attached",
		     {kLan},
		     {attach(7), out(udp4(A, B, 1, 2, 100), 9)},
		     {{kLan, up(1, 128)}}, {.egress_skipped = 0}});
	// By egress the kernel names the upper device (bridge, VLAN, bond) as
	// the packet's ingress interface (the model has no upper devices).
	c.push_back({"egress_from_upper_skipped", "entered an upper device of attached devices only",
		     {kLan},
		     {attach(7), attach(8, TM_ROLE_UPPER), out(udp4(A, B, 1, 2, 100), 8)},
		     {}, {.egress_skipped = 1, .counted = 0}, std::nullopt, false});
	c.push_back({"egress_from_partial_upper", "an upper device with unattached ports too: "
						  "the packet counted at an attached ingress is skipped, others count",
		     {kLan},
		     {attach(7), attach(8, TM_ROLE_UPPER_PARTIAL), in(udp4(A, B, 1, 2, 100)),
		      out(udp4(A, B, 1, 2, 100), 8), out(udp4(A, B, 1, 2, 200), 8),
		      out(l2().ipv4({.src = A, .dst = B, .id = 0x99}).udp(1, 2).payload(100).build(), 8)},
		     {{kLan, up(3, 128 + 228 + 128)}}, {.egress_skipped = 1}, std::nullopt, false});
	c.push_back({"ingress_ignores_ingress_ifindex", "ingress counts whatever the ifindex", {kLan},
		     {attach(7), {.ev = {.frame = udp4(A, B, 1, 2, 100), .ingress_ifindex = 7}}},
		     {{kLan, up(1, 128)}}});

	// ---- Devices without a link-layer header ----
	c.push_back({"l3_ingress_ipv4", "tun: IPv4 from byte 0", {kLan},
		     {in_l3(PacketBuilder().ipv4(A, B).udp(1, 2).payload(100).build())},
		     {{kLan, up(1, 128)}}});
	c.push_back({"l3_egress_ipv6", "tun: IPv6 from byte 0", {kLan6},
		     {out_l3(PacketBuilder().ipv6(A6, B6).udp(1, 2).payload(100).build())},
		     {{kLan6, up(1, 148)}}});
	c.push_back({"l3_flow_both_ways", "tun: a reply is downstream", {kLan},
		     {in_l3(PacketBuilder().ipv4(A, B).tcp(1, 2, kSyn).build()),
		      out_l3(PacketBuilder().ipv4(B, A).tcp(2, 1, kSyn | kAck).build())},
		     {{kLan, both(1, 40, 1, 40)}}});
	c.push_back({"l3_egress_from_attached_skipped", "the skip applies to L3 devices too", {kLan},
		     {attach(4), {.ev = {.frame = PacketBuilder().ipv4(A, B).udp(1, 2).build(),
					 .hook = Hook::kEgress, .l3 = true, .ingress_ifindex = 4}}},
		     {}, {.egress_skipped = 1, .counted = 0}});
	c.push_back({"l3_not_ip", "version nibble 0", {kLan},
		     {in_l3(Bytes(20, 0))}, {}, {.not_ip = 1, .malformed = 0}});

	// ---- Rule changes ----
	c.push_back({"new_rule_applies_to_next_packet",
		     "a flow resolved before a rule existed picks it up at the next packet",
		     {kLan},
		     {in(udp4(A, B, 1000, 53, 100)), add({kSrv}), in(udp4(B, A, 53, 1000, 50)),
		      add({"198.18.0.10/32"}), in(udp4(A, B, 1000, 53, 0))},
		     {{kLan, both(1, 128, 1, 78)}, {kSrv, both(1, 28, 1, 78)},
		      {"198.18.0.10/32", up(1, 28)}}});
	c.push_back({"deleted_rule_stops", "after del, the flow falls back to the shorter prefix",
		     {kLan, "198.18.0.10/32"},
		     {in(udp4(A, B, 1000, 53, 100)), del({"198.18.0.10/32"}),
		      in(udp4(A, B, 1000, 53, 0))},
		     {{kLan, up(1, 28)}}});
	c.push_back({"readd_starts_at_zero", "del + add: a fresh rule with zero counters", {kLan},
		     {in(udp4(A, B, 1000, 53, 100)), del({kLan}), add({kLan}),
		      in(udp4(A, B, 1000, 53, 0))},
		     {{kLan, up(1, 28)}}});
	{
		// 63 fillers + kLan fill all 64 slots, so the rule added after
		// deleting kLan must reuse kLan's slot under a new serial. The
		// generation is then rolled back, as a packet racing the change
		// would see it: the flow's cached {slot, old serial} must not land
		// in the new rule. Once the generation moves, it re-resolves.
		auto rules = filler_rules(63);
		rules.push_back(kLan);
		c.push_back({"stale_serial_never_lands",
			     "slot reused by another rule while a flow still caches the old one",
			     rules,
			     {in(udp4(A, B, 1000, 53, 100)), step(Step::kSaveGeneration), del({kLan}),
			      add({"198.18.0.0/23"}), step(Step::kRestoreGeneration),
			      in(udp4(A, B, 1000, 53, 10)), step(Step::kBumpGeneration),
			      in(udp4(A, B, 1000, 53, 0))},
			     {{"198.18.0.0/23", up(1, 28)}},
			     {.no_rule = 1, .counted = 2},
			     1,
			     false});
	}
	return c;
}

class Semantics : public ::testing::TestWithParam<Case> {};

// Every row through every build of the entry points (bpf/traffic_meter.bpf.c):
// the same figures with direct packet access or without, and without
// gso_size too, but for the rows about gso_size, which that build cannot
// see (kernels before 5.7).
bool uses_gso_size(const Case &tc)
{
	for (const auto &s : tc.steps)
		if (s.ev.gso_size)
			return true;
	return false;
}

void run_case(const Case &tc, EntryBuild build);

TEST_P(Semantics, CountsAsSpecified)
{
	const Case &tc = GetParam();
	SCOPED_TRACE(tc.what);
	for (EntryBuild b : {EntryBuild::kFast, EntryBuild::kSlow, EntryBuild::kCompat}) {
		if (b == EntryBuild::kCompat && uses_gso_size(tc))
			continue;
		SCOPED_TRACE(b == EntryBuild::kFast ? "fast build" : b == EntryBuild::kSlow ? "slow build" : "compat build");
		run_case(tc, b);
	}
	Dataplane::shared().set_build(EntryBuild::kFast);
}

void run_case(const Case &tc, EntryBuild build)
{
	Dataplane &dp = Dataplane::shared();
	dp.set_build(build);
	dp.reset();
	ReferenceModel model;
	auto prefixes = [](const std::vector<std::string> &r) {
		std::vector<Prefix> out;
		for (const auto &s : r)
			out.push_back(prefix(s));
		return out;
	};
	dp.add(prefixes(tc.rules));
	for (const auto &p : prefixes(tc.rules))
		model.add_rule(p);

	uint64_t saved_generation = 0, packets = 0;
	for (const Step &s : tc.steps) {
		switch (s.kind) {
		case Step::kPacket:
			EXPECT_EQ(dp.run(s.ev), kTcActUnspec);
			model.packet(s.ev);
			++packets;
			break;
		case Step::kAdd:
			dp.add(prefixes(s.rules));
			for (const auto &p : prefixes(s.rules))
				model.add_rule(p);
			break;
		case Step::kDel:
			dp.del(prefixes(s.rules));
			for (const auto &p : prefixes(s.rules))
				model.del_rule(p);
			break;
		case Step::kAttach:
			dp.attach(s.ifindex, s.role);
			if (s.role == TM_ROLE_ATTACHED)
				model.attach(s.ifindex);
			else
				model.detach(s.ifindex); // an upper device, or role 0: unload
			break;
		case Step::kSaveGeneration:
			saved_generation = dp.maps().read_config().rules_gen;
			break;
		case Step::kRestoreGeneration:
		case Step::kBumpGeneration: {
			tm_config cfg = dp.maps().read_config();
			cfg.rules_gen = s.kind == Step::kBumpGeneration ? cfg.rules_gen + 1
									 : uint32_t(saved_generation);
			dp.maps().write_config(cfg);
			break;
		}
		}
	}

	std::map<Prefix, Counters> want;
	for (const auto &[rule, c] : dp.counters())
		want[rule] = {};
	for (const auto &[text, c] : tc.expect) {
		ASSERT_TRUE(want.contains(prefix(text))) << text << " is not a rule of this row";
		want[prefix(text)] = c;
	}
	for (const auto &[rule, c] : dp.counters())
		EXPECT_EQ(c, want[rule]) << "BPF, rule " << to_string(rule);
	if (tc.model) {
		for (const auto &[rule, c] : model.counters())
			EXPECT_EQ(c, want[rule]) << "model, rule " << to_string(rule);
		EXPECT_EQ(model.stats(), dp.stats());
	}

	tm_stats st = dp.raw_stats();
	EXPECT_EQ(st.packets, packets);
	EXPECT_EQ(st.flow_insert_failed, 0u);
	auto check = [](const char *name, std::optional<uint64_t> want_v, uint64_t got) {
		if (want_v) {
			EXPECT_EQ(got, *want_v) << "stats." << name;
		}
	};
	check("egress_skipped", tc.stats.egress_skipped, st.egress_skipped);
	check("not_ip", tc.stats.not_ip, st.not_ip);
	check("malformed", tc.stats.malformed, st.malformed);
	check("no_rule", tc.stats.no_rule, st.no_rule);
	check("counted", tc.stats.counted, st.counted);
	if (tc.flows) {
		EXPECT_EQ(dp.flow_count(), *tc.flows) << "entries in tm_flow_table";
	}
}

INSTANTIATE_TEST_SUITE_P(Spec3, Semantics, ::testing::ValuesIn(cases()),
			 [](const auto &info) { return info.param.name; });

} // namespace
} // namespace tmeter::dptest

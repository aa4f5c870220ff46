#include "reference_model.h"

#include <algorithm>
#include <arpa/inet.h>

#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <string>

namespace tmeter::dptest {
namespace {

constexpr int kMaxIpv6ExtHeaders = 8;
constexpr uint32_t kGsoByFrags = 0xFFFF;

class Reader {
public:
	explicit Reader(const Bytes &b) : b_(b) {}
	bool has(size_t off, size_t len) const { return off + len <= b_.size(); }
	uint8_t u8(size_t off) const { return b_[off]; }
	uint16_t u16(size_t off) const { return uint16_t(b_[off] << 8 | b_[off + 1]); }
	uint32_t u32(size_t off) const { return uint32_t(u16(off)) << 16 | u16(off + 2); }
	Addr addr(size_t off, uint8_t family) const
	{
		Addr a;
		a.family = family;
		std::copy_n(b_.begin() + off, family == 4 ? 4 : 16, a.bytes.begin());
		return a;
	}
	size_t size() const { return b_.size(); }

private:
	const Bytes &b_;
};

bool is_ipv6_ext(uint8_t nh)
{
	return nh == proto::kHopOpts || nh == proto::kRouting || nh == proto::kFragment ||
	       nh == proto::kAh || nh == proto::kDstOpts;
}

struct Ipv6Chain {
	size_t l4_off = 0;
	uint8_t proto = 0;
	ReferenceModel::Frag frag = ReferenceModel::Frag::kNone;
	uint32_t frag_id = 0;
	uint32_t jumbo = 0; // a hop-by-hop jumbo payload option's length
	bool ok = false;    // ends at a transport header (or a non-first fragment)
};

Ipv6Chain walk_ipv6(const Reader &r, size_t ip_off)
{
	Ipv6Chain c;
	c.l4_off = ip_off + 40;
	c.proto = r.u8(ip_off + 6);
	for (int n = 0;; ++n) {
		if (!is_ipv6_ext(c.proto)) {
			c.ok = true;
			return c;
		}
		// Every extension header is at least 8 bytes: they must be there.
		if (n == kMaxIpv6ExtHeaders || !r.has(c.l4_off, 8))
			return c;
		if (c.proto == proto::kFragment) {
			uint16_t fo = r.u16(c.l4_off + 2);
			c.proto = r.u8(c.l4_off);
			uint32_t id = r.u32(c.l4_off + 4);
			c.l4_off += 8;
			if (fo >> 3) {
				c.frag = ReferenceModel::Frag::kLater;
				c.frag_id = id;
				c.ok = true;
				return c;
			}
			if (fo & 1) {
				c.frag = ReferenceModel::Frag::kFirst;
				c.frag_id = id;
			}
			continue;
		}
		// RFC 2675: a jumbo option right after the first header's 2 bytes.
		if (n == 0 && c.proto == proto::kHopOpts && r.u8(c.l4_off + 2) == 0xC2 &&
		    r.u8(c.l4_off + 3) == 4)
			c.jumbo = r.u32(c.l4_off + 4);
		size_t len = c.proto == proto::kAh ? (r.u8(c.l4_off + 1) + 2) * 4u
						    : (r.u8(c.l4_off + 1) + 1) * 8u;
		c.proto = r.u8(c.l4_off);
		c.l4_off += len;
	}
}

bool is_icmp_for(uint8_t proto, uint8_t family)
{
	return (family == 4 && proto == proto::kIcmp) || (family == 6 && proto == proto::kIcmpv6);
}

bool is_echo(uint8_t family, uint8_t type)
{
	return family == 4 ? (type == 8 || type == 0) : (type == 128 || type == 129);
}

bool is_error(uint8_t family, uint8_t type)
{
	return family == 4 ? (type == 3 || type == 11 || type == 12) : (type >= 1 && type <= 4);
}

// Fills ports (ICMP echo: the identifier on both sides). False if the
// transport header that should hold them is cut off.
bool read_ports(const Reader &r, size_t off, uint8_t family, ReferenceModel::Tuple &t)
{
	switch (t.proto) {
	case proto::kTcp:
	case proto::kUdp:
	case proto::kUdplite:
	case proto::kSctp:
		if (!r.has(off, 4))
			return false;
		t.src.port = r.u16(off);
		t.dst.port = r.u16(off + 2);
		return true;
	default:
		if (!is_icmp_for(t.proto, family))
			return true;
		if (!r.has(off, 8))
			return false;
		if (is_echo(family, r.u8(off)))
			t.src.port = t.dst.port = r.u16(off + 4);
		return true;
	}
}

bool parse_quoted(const Reader &r, size_t off, uint8_t family, ReferenceModel::Tuple &t)
{
	if (family == 4) {
		if (!r.has(off, 20) || r.u8(off) >> 4 != 4 || (r.u8(off) & 0xf) < 5)
			return false;
		t.src.addr = r.addr(off + 12, 4);
		t.dst.addr = r.addr(off + 16, 4);
		t.proto = r.u8(off + 9);
		if ((r.u16(off + 6) & 0x1fff) == 0)
			read_ports(r, off + (r.u8(off) & 0xf) * 4u, family, t);
		return true;
	}
	if (!r.has(off, 40) || r.u8(off) >> 4 != 6)
		return false;
	t.src.addr = r.addr(off + 8, 6);
	t.dst.addr = r.addr(off + 24, 6);
	Ipv6Chain c = walk_ipv6(r, off);
	t.proto = c.proto;
	if (c.ok && c.frag != ReferenceModel::Frag::kLater)
		read_ports(r, c.l4_off, family, t);
	return true;
}

} // namespace

bool Prefix::contains(const Addr &a) const
{
	if (a.family != addr.family)
		return false;
	for (unsigned bit = 0; bit < len; ++bit) {
		uint8_t mask = 0x80 >> (bit % 8);
		if ((a.bytes[bit / 8] & mask) != (addr.bytes[bit / 8] & mask))
			return false;
	}
	return true;
}

Prefix prefix(std::string_view text)
{
	Prefix p;
	auto slash = text.find('/');
	p.addr = ip(text.substr(0, slash));
	unsigned max = p.addr.family == 4 ? 32 : 128;
	p.len = slash == std::string_view::npos ? max : std::stoi(std::string(text.substr(slash + 1)));
	if (p.len > max) {
		std::fprintf(stderr, "reference_model: bad prefix '%.*s'\n", int(text.size()), text.data());
		std::abort();
	}
	return p;
}

std::string to_string(const Prefix &p)
{
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(p.addr.family == 4 ? AF_INET : AF_INET6, p.addr.bytes.data(), buf, sizeof(buf));
	return std::string(buf) + "/" + std::to_string(p.len);
}

void PrintTo(const Prefix &p, std::ostream *os)
{
	*os << to_string(p);
}

void PrintTo(const Counters &c, std::ostream *os)
{
	*os << "{up " << c.up_packets << " pkts/" << c.up_bytes << " B, down " << c.down_packets
	    << " pkts/" << c.down_bytes << " B}";
}

void PrintTo(const Stats &s, std::ostream *os)
{
	*os << "{packets " << s.packets << ", bytes " << s.bytes << ", egress_skipped "
	    << s.egress_skipped << ", not_ip " << s.not_ip << ", malformed " << s.malformed
	    << ", no_rule " << s.no_rule << ", counted " << s.counted << ", gso_from_size "
	    << s.gso_from_size << "}";
}

ReferenceModel::Parsed ReferenceModel::parse(const PacketEvent &ev)
{
	Parsed p;
	const Reader r(ev.frame);

	// Link layer.
	size_t off = 0;
	uint16_t type = 0;
	if (ev.l3) {
		if (!r.has(0, 1)) {
			p.verdict = Verdict::kNotIp;
			return p;
		}
		uint8_t v = r.u8(0) >> 4;
		type = v == 4 ? 0x0800 : v == 6 ? 0x86dd : 0;
	} else {
		if (!r.has(0, 14)) {
			p.verdict = Verdict::kMalformed;
			return p;
		}
		type = r.u16(12);
		off = 14;
		for (int tags = 0; tags < 2 && (type == 0x8100 || type == 0x88a8); ++tags) {
			if (!r.has(off, 4)) {
				p.verdict = Verdict::kMalformed;
				return p;
			}
			type = r.u16(off + 2);
			off += 4;
		}
		if (type == 0x8864) {
			if (!r.has(off, 8)) {
				p.verdict = Verdict::kMalformed;
				return p;
			}
			uint16_t ppp = r.u16(off + 6);
			off += 8;
			type = ppp == 0x0021 ? 0x0800 : ppp == 0x0057 ? 0x86dd : 0x8864;
		} else if (type == 0) {
			// No valid frame has type/length 0: the data plane cannot tell
			// it from a cut-off header (docs/DATAPLANE.md).
			p.verdict = Verdict::kMalformed;
			return p;
		}
	}
	if (type != 0x0800 && type != 0x86dd) {
		p.verdict = Verdict::kNotIp;
		return p;
	}

	// Network layer.
	const size_t avail = r.size() - off;
	const bool gso = ev.gso_segs > 1 || ev.gso_size; // tot_len may be 0 (BIG TCP)
	size_t l4_off = 0, wire_len = 0;
	bool chain_ok = true;
	if (type == 0x0800) {
		if (!r.has(off, 20) || r.u8(off) >> 4 != 4) {
			p.verdict = Verdict::kMalformed;
			return p;
		}
		size_t ihl = (r.u8(off) & 0xf) * 4u;
		wire_len = r.u16(off + 2);
		if (ihl < 20 || ihl > avail || (!gso && wire_len < ihl)) {
			p.verdict = Verdict::kMalformed;
			return p;
		}
		p.family = 4;
		p.t.src.addr = r.addr(off + 12, 4);
		p.t.dst.addr = r.addr(off + 16, 4);
		p.t.proto = r.u8(off + 9);
		uint16_t fo = r.u16(off + 6);
		p.frag = (fo & 0x1fff) ? Frag::kLater : (fo & 0x2000) ? Frag::kFirst : Frag::kNone;
		p.frag_id = r.u16(off + 4);
		l4_off = off + ihl;
	} else {
		if (!r.has(off, 40) || r.u8(off) >> 4 != 6) {
			p.verdict = Verdict::kMalformed;
			return p;
		}
		p.family = 6;
		p.t.src.addr = r.addr(off + 8, 6);
		p.t.dst.addr = r.addr(off + 24, 6);
		size_t payload = r.u16(off + 4);
		Ipv6Chain c = walk_ipv6(r, off);
		// payload_len 0: a BIG TCP aggregate, a jumbogram, or only the
		// header (what follows is link-layer padding).
		wire_len = payload ? payload + 40 : gso ? avail : 40 + size_t(c.jumbo);
		p.t.proto = c.proto;
		p.frag = c.frag;
		p.frag_id = c.frag_id;
		l4_off = c.l4_off;
		chain_ok = c.ok;
	}

	// Transport layer.
	size_t l4_len = 0;
	bool l4_truncated = false;
	if (!chain_ok) {
		l4_truncated = true;
	} else if (p.frag != Frag::kLater) {
		l4_truncated = !read_ports(r, l4_off, p.family, p.t);
		p.has_ports = !l4_truncated && (p.t.src.port || p.t.dst.port);
		if (p.t.proto == proto::kTcp) {
			if (r.has(l4_off, 14)) {
				p.tcp_flags = r.u8(l4_off + 13);
				l4_len = (r.u8(l4_off + 12) >> 4) * 4u;
			}
		} else if (p.t.proto == proto::kUdp || p.t.proto == proto::kUdplite) {
			l4_len = 8;
		} else if (p.t.proto == proto::kSctp) {
			l4_len = 12; // the common header repeats in every segment
		} else if (is_icmp_for(p.t.proto, p.family) && r.has(l4_off, 8) &&
			   is_error(p.family, r.u8(l4_off))) {
			p.icmp_error = parse_quoted(r, l4_off + 8, p.family, p.quoted);
		}
	}

	// A guest's TSO aggregate (gso_segs 0 until the kernel segments it):
	// as many segments as gso_size makes of the payload.
	const size_t hdrs = (l4_off - off) + l4_len;
	uint64_t segs = ev.gso_segs;
	if (!segs && ev.gso_size && ev.gso_size != kGsoByFrags && avail > hdrs) {
		segs = (avail - hdrs + ev.gso_size - 1) / ev.gso_size;
		p.gso_from_size = segs > 1;
	}
	if (segs > 1) {
		p.packets = segs;
		p.bytes = avail + (segs - 1) * hdrs;
	} else {
		p.packets = 1;
		p.bytes = std::min(wire_len, avail);
	}
	p.verdict = l4_truncated ? Verdict::kMalformedL4 : Verdict::kOk;
	return p;
}

void ReferenceModel::add_rule(const Prefix &p)
{
	rules_.try_emplace(p);
}

void ReferenceModel::del_rule(const Prefix &p)
{
	rules_.erase(p);
}

const Prefix *ReferenceModel::match(const Addr &a) const
{
	const Prefix *best = nullptr;
	for (const auto &[p, c] : rules_)
		if (p.contains(a) && (!best || p.len > best->len))
			best = &p;
	return best;
}

bool ReferenceModel::add(const Addr &src, const Addr &dst, bool up, const Parsed &p)
{
	std::set<const Prefix *> hit;
	for (const Addr *a : {&src, &dst})
		if (const Prefix *r = match(*a))
			hit.insert(r);
	for (const Prefix *r : hit) {
		Counters &c = rules_.at(*r);
		(up ? c.up_packets : c.down_packets) += p.packets;
		(up ? c.up_bytes : c.down_bytes) += p.bytes;
	}
	return !hit.empty();
}

ReferenceModel::FlowKey ReferenceModel::key_of(uint8_t family, const Tuple &t, int *sender)
{
	*sender = t.dst < t.src ? 1 : 0;
	FlowKey k{family, t.proto, *sender ? t.dst : t.src, *sender ? t.src : t.dst};
	return k;
}

void ReferenceModel::packet(const PacketEvent &ev)
{
	stats_.packets++;
	stats_.bytes += ev.frame.size();
	if (ev.hook == Hook::kEgress && ev.ingress_ifindex && attached_.contains(ev.ingress_ifindex)) {
		stats_.egress_skipped++;
		return;
	}
	Parsed p = parse(ev);
	switch (p.verdict) {
	case Verdict::kNotIp:
		stats_.not_ip++;
		return;
	case Verdict::kMalformed:
		stats_.malformed++;
		return;
	case Verdict::kMalformedL4:
		stats_.malformed++;
		break;
	case Verdict::kOk:
		break;
	}
	stats_.gso_from_size += p.gso_from_size;

	bool counted;
	if (p.icmp_error) {
		// Towards the quoted packet's sender; an unknown flow was originated
		// by that sender. Rules are the error's own addresses.
		int quoted_sender;
		FlowKey k = key_of(p.family, p.quoted, &quoted_sender);
		auto it = flows_.find(k);
		int originator = it != flows_.end() ? it->second : quoted_sender;
		counted = add(p.t.src.addr, p.t.dst.addr, quoted_sender != originator, p);
	} else {
		if (p.frag != Frag::kNone) {
			// RFC 8200: an IPv6 datagram is its addresses and id (a later
			// fragment's next header may be AH or options).
			FragKey fk{p.family, uint8_t(p.family == 4 ? p.t.proto : 0), p.t.src.addr,
				   p.t.dst.addr, p.frag_id};
			if (p.frag == Frag::kFirst && p.has_ports) {
				frags_[fk] = {p.t.src.port, p.t.dst.port, p.t.proto};
			} else if (p.frag == Frag::kLater) {
				if (auto it = frags_.find(fk); it != frags_.end()) {
					p.t.src.port = it->second.sport;
					p.t.dst.port = it->second.dport;
					p.t.proto = it->second.proto;
				}
			}
		}
		int sender;
		FlowKey k = key_of(p.family, p.t, &sender);
		int originator = sender;
		if (p.tcp_flags & tcpflag::kSyn)
			originator = (p.tcp_flags & tcpflag::kAck) ? 1 - sender : sender;
		auto [it, fresh] = flows_.try_emplace(k, originator);
		if (!fresh && (p.tcp_flags & tcpflag::kSyn))
			it->second = originator;
		counted = add(p.t.src.addr, p.t.dst.addr, sender == it->second, p);
	}
	(counted ? stats_.counted : stats_.no_rule)++;
}

} // namespace tmeter::dptest

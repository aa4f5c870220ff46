#include "packet_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace tmeter::dptest {
namespace {

constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthIpv6 = 0x86dd;
constexpr uint16_t kEthPppoeSession = 0x8864;
constexpr uint16_t kEthExperimental = 0x88b5; // IEEE local experimental: "not IP"

void put16(Bytes &b, size_t off, uint16_t v)
{
	b[off] = v >> 8;
	b[off + 1] = v & 0xff;
}

void put32(Bytes &b, size_t off, uint32_t v)
{
	put16(b, off, v >> 16);
	put16(b, off + 2, v & 0xffff);
}

uint16_t ipv4_checksum(const Bytes &hdr)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < hdr.size(); i += 2)
		sum += (hdr[i] << 8) | hdr[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

} // namespace

Addr ip(std::string_view text)
{
	Addr a;
	std::string s(text);
	if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
		a.family = 4;
	} else if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
		a.family = 6;
	} else {
		std::fprintf(stderr, "packet_builder: bad address '%s'\n", s.c_str());
		std::abort();
	}
	return a;
}

PacketBuilder &PacketBuilder::push(Layer l)
{
	layers_.push_back(std::move(l));
	return *this;
}

PacketBuilder &PacketBuilder::eth(std::optional<uint16_t> ethertype)
{
	Layer l{Kind::kEth, Bytes(kEthLen, 0)};
	const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02};
	std::copy(std::begin(macs), std::end(macs), l.hdr.begin());
	l.auto_type = !ethertype;
	if (ethertype)
		put16(l.hdr, 12, *ethertype);
	return push(std::move(l));
}

PacketBuilder &PacketBuilder::vlan(uint16_t tpid, uint16_t vid, std::optional<uint16_t> inner_type)
{
	Layer l{Kind::kVlan, Bytes(kVlanLen, 0)};
	put16(l.hdr, 0, vid & 0x0fff);
	l.auto_type = !inner_type;
	if (inner_type)
		put16(l.hdr, 2, *inner_type);
	// The layer before names a VLAN by its TPID.
	l.hdr.push_back(tpid >> 8);
	l.hdr.push_back(tpid & 0xff);
	return push(std::move(l));
}

PacketBuilder &PacketBuilder::pppoe(std::optional<uint16_t> ppp_proto, uint16_t session)
{
	Layer l{Kind::kPppoe, Bytes(kPppoeLen, 0)};
	l.hdr[0] = 0x11; // version 1, type 1
	put16(l.hdr, 2, session);
	l.auto_type = !ppp_proto;
	l.auto_len = true;
	if (ppp_proto)
		put16(l.hdr, 6, *ppp_proto);
	return push(std::move(l));
}

PacketBuilder &PacketBuilder::ipv4(const Ipv4Opts &o)
{
	Layer l{Kind::kIpv4, Bytes(kIpv4Len + o.options_len, 0)};
	l.family = 4;
	uint8_t ihl = o.ihl ? *o.ihl : (kIpv4Len + o.options_len) / 4;
	l.hdr[0] = (o.version.value_or(4) << 4) | (ihl & 0xf);
	put16(l.hdr, 4, o.id);
	put16(l.hdr, 6,
	      (o.dont_fragment ? 0x4000 : 0) | (o.more_fragments ? 0x2000 : 0) |
		      (o.frag_offset & 0x1fff));
	l.hdr[8] = o.ttl;
	l.auto_type = !o.proto;
	if (o.proto)
		l.hdr[9] = *o.proto;
	l.auto_len = !o.tot_len;
	if (o.tot_len)
		put16(l.hdr, 2, *o.tot_len);
	std::copy_n(o.src.bytes.begin(), 4, l.hdr.begin() + 12);
	std::copy_n(o.dst.bytes.begin(), 4, l.hdr.begin() + 16);
	for (size_t i = kIpv4Len; i < l.hdr.size(); ++i)
		l.hdr[i] = 1; // NOP
	return push(std::move(l));
}

PacketBuilder &PacketBuilder::ipv4(const Addr &src, const Addr &dst)
{
	return ipv4(Ipv4Opts{.src = src, .dst = dst});
}

PacketBuilder &PacketBuilder::ipv6(const Ipv6Opts &o)
{
	Layer l{Kind::kIpv6, Bytes(kIpv6Len, 0)};
	l.family = 6;
	put32(l.hdr, 0, uint32_t(o.version.value_or(6)) << 28);
	l.auto_len = !o.payload_len;
	if (o.payload_len)
		put16(l.hdr, 4, *o.payload_len);
	l.auto_type = !o.next_header;
	if (o.next_header)
		l.hdr[6] = *o.next_header;
	l.hdr[7] = 64;
	std::copy(o.src.bytes.begin(), o.src.bytes.end(), l.hdr.begin() + 8);
	std::copy(o.dst.bytes.begin(), o.dst.bytes.end(), l.hdr.begin() + 24);
	return push(std::move(l));
}

PacketBuilder &PacketBuilder::ipv6(const Addr &src, const Addr &dst)
{
	return ipv6(Ipv6Opts{.src = src, .dst = dst});
}

PacketBuilder &PacketBuilder::ipv6_ext(uint8_t type, uint8_t len_units,
				       std::optional<uint8_t> next_header)
{
	size_t len = type == proto::kAh ? (len_units + 2) * 4u : (len_units + 1) * 8u;
	Layer l{Kind::kIpv6Ext, Bytes(len, 0)};
	l.ip_proto = type;
	l.hdr[1] = len_units;
	if (type == proto::kRouting)
		l.hdr[2] = 4; // segment routing type, 0 segments left: ignorable
	l.auto_type = !next_header;
	if (next_header)
		l.hdr[0] = *next_header;
	return push(std::move(l));
}

PacketBuilder &PacketBuilder::ipv6_frag(uint16_t offset_units, bool more, uint32_t id,
					std::optional<uint8_t> next_header)
{
	Layer l{Kind::kIpv6Ext, Bytes(8, 0)};
	l.ip_proto = proto::kFragment;
	put16(l.hdr, 2, uint16_t(offset_units << 3) | (more ? 1 : 0));
	put32(l.hdr, 4, id);
	l.auto_type = !next_header;
	if (next_header)
		l.hdr[0] = *next_header;
	return push(std::move(l));
}

PacketBuilder &PacketBuilder::tcp(const TcpOpts &o)
{
	size_t len = o.doff * 4u;
	Layer l{Kind::kTcp, Bytes(len < kTcpLen ? kTcpLen : len, 0)};
	l.ip_proto = proto::kTcp;
	put16(l.hdr, 0, o.sport);
	put16(l.hdr, 2, o.dport);
	put32(l.hdr, 4, 1000);
	put32(l.hdr, 8, (o.flags & tcpflag::kAck) ? 2000 : 0);
	l.hdr[12] = o.doff_field.value_or(o.doff) << 4;
	l.hdr[13] = o.flags;
	put16(l.hdr, 14, 65535);
	for (size_t i = kTcpLen; i < l.hdr.size(); ++i)
		l.hdr[i] = 1; // NOP
	return push(std::move(l));
}

PacketBuilder &PacketBuilder::tcp(uint16_t sport, uint16_t dport, uint8_t flags)
{
	return tcp(TcpOpts{.sport = sport, .dport = dport, .flags = flags});
}

PacketBuilder &PacketBuilder::udp(uint16_t sport, uint16_t dport)
{
	Layer l{Kind::kUdp, Bytes(kUdpLen, 0)};
	l.ip_proto = proto::kUdp;
	l.auto_len = true;
	put16(l.hdr, 0, sport);
	put16(l.hdr, 2, dport);
	return push(std::move(l));
}

PacketBuilder &PacketBuilder::ports(uint8_t ip_proto, uint16_t sport, uint16_t dport,
				    size_t header_len)
{
	Layer l{Kind::kPorts, Bytes(header_len < 4 ? 4 : header_len, 0)};
	l.ip_proto = ip_proto;
	put16(l.hdr, 0, sport);
	put16(l.hdr, 2, dport);
	return push(std::move(l));
}

PacketBuilder &PacketBuilder::icmp_echo(uint8_t family, uint16_t id, uint16_t seq, bool reply)
{
	Layer l{Kind::kIcmp, Bytes(kIcmpLen, 0)};
	l.family = family;
	l.ip_proto = family == 4 ? proto::kIcmp : proto::kIcmpv6;
	if (family == 4)
		l.hdr[0] = reply ? 0 : 8;
	else
		l.hdr[0] = reply ? 129 : 128;
	put16(l.hdr, 4, id);
	put16(l.hdr, 6, seq);
	return push(std::move(l));
}

PacketBuilder &PacketBuilder::icmp(uint8_t family, uint8_t type, uint8_t code, const Bytes &quoted)
{
	Layer l{Kind::kIcmp, Bytes(kIcmpLen, 0)};
	l.family = family;
	l.ip_proto = family == 4 ? proto::kIcmp : proto::kIcmpv6;
	l.hdr[0] = type;
	l.hdr[1] = code;
	l.hdr.insert(l.hdr.end(), quoted.begin(), quoted.end());
	return push(std::move(l));
}

PacketBuilder &PacketBuilder::payload(size_t len)
{
	Layer l{Kind::kRaw, Bytes(len)};
	for (size_t i = 0; i < len; ++i)
		l.hdr[i] = uint8_t(0xa0 + i);
	l.ip_proto = proto::kNoNext;
	return push(std::move(l));
}

PacketBuilder &PacketBuilder::raw(const Bytes &bytes)
{
	Layer l{Kind::kRaw, bytes};
	l.ip_proto = proto::kNoNext;
	return push(std::move(l));
}

Bytes PacketBuilder::build() const
{
	// Innermost first: each header is completed knowing what follows it.
	Bytes tail;
	for (size_t i = layers_.size(); i-- > 0;) {
		const Layer &l = layers_[i];
		const Layer *next = i + 1 < layers_.size() ? &layers_[i + 1] : nullptr;
		Bytes h = l.hdr;
		uint16_t next_ethertype = kEthExperimental;
		uint16_t next_ppp = 0;
		if (next && next->kind == Kind::kIpv4) {
			next_ethertype = kEthIpv4;
			next_ppp = 0x0021;
		} else if (next && next->kind == Kind::kIpv6) {
			next_ethertype = kEthIpv6;
			next_ppp = 0x0057;
		} else if (next && next->kind == Kind::kVlan) {
			// The VLAN layer carries its TPID in two trailing bytes.
			next_ethertype = (next->hdr[4] << 8) | next->hdr[5];
		} else if (next && next->kind == Kind::kPppoe) {
			next_ethertype = kEthPppoeSession;
		}
		uint8_t next_proto = next ? next->ip_proto : proto::kNoNext;

		switch (l.kind) {
		case Kind::kEth:
			if (l.auto_type)
				put16(h, 12, next_ethertype);
			break;
		case Kind::kVlan:
			h.resize(kVlanLen); // drop the TPID carried for the layer before
			if (l.auto_type)
				put16(h, 2, next_ethertype);
			break;
		case Kind::kPppoe:
			if (l.auto_type)
				put16(h, 6, next_ppp);
			put16(h, 4, uint16_t(tail.size() + 2));
			break;
		case Kind::kIpv4:
			if (l.auto_type)
				h[9] = next_proto;
			if (l.auto_len)
				put16(h, 2, uint16_t(h.size() + tail.size()));
			put16(h, 10, ipv4_checksum(h));
			break;
		case Kind::kIpv6:
			if (l.auto_type)
				h[6] = next_proto;
			if (l.auto_len)
				put16(h, 4, uint16_t(tail.size()));
			break;
		case Kind::kIpv6Ext:
			if (l.auto_type)
				h[0] = next_proto;
			break;
		case Kind::kUdp:
			put16(h, 4, uint16_t(h.size() + tail.size()));
			break;
		case Kind::kTcp:
		case Kind::kPorts:
		case Kind::kIcmp:
		case Kind::kRaw:
			break;
		}
		h.insert(h.end(), tail.begin(), tail.end());
		tail = std::move(h);
	}
	return tail;
}

Bytes truncated(Bytes frame, size_t n)
{
	if (n < frame.size())
		frame.resize(n);
	return frame;
}

} // namespace tmeter::dptest

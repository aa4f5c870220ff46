// Builds test frames layer by layer, outermost first. Length, protocol and
// next-header fields left unset are filled in from the layers that follow,
// so a test states only what it cares about; any of them can be forced to a
// wrong value to build a malformed packet.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace tmeter::dptest {

using Bytes = std::vector<uint8_t>;

// An IPv4 or IPv6 address in network byte order (IPv4 in bytes 0..3).
struct Addr {
	uint8_t family = 0; // 4 or 6
	std::array<uint8_t, 16> bytes{};

	auto operator<=>(const Addr &) const = default;
};

// "198.18.0.1" or "2001:db8::1"; aborts the test binary on a typo.
Addr ip(std::string_view text);

namespace proto {
inline constexpr uint8_t kHopOpts = 0;
inline constexpr uint8_t kIcmp = 1;
inline constexpr uint8_t kTcp = 6;
inline constexpr uint8_t kUdp = 17;
inline constexpr uint8_t kRouting = 43;
inline constexpr uint8_t kFragment = 44;
inline constexpr uint8_t kGre = 47;
inline constexpr uint8_t kAh = 51;
inline constexpr uint8_t kIcmpv6 = 58;
inline constexpr uint8_t kNoNext = 59;
inline constexpr uint8_t kDstOpts = 60;
inline constexpr uint8_t kSctp = 132;
inline constexpr uint8_t kUdplite = 136;
} // namespace proto

namespace tcpflag {
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;
} // namespace tcpflag

struct Ipv4Opts {
	Addr src, dst;
	size_t options_len = 0; // multiple of 4, at most 40: NOP-filled
	uint16_t id = 0x1234;
	bool more_fragments = false;
	bool dont_fragment = false;
	uint16_t frag_offset = 0; // in 8-byte units
	uint8_t ttl = 64;
	std::optional<uint8_t> proto;	   // default: from the next layer
	std::optional<uint8_t> ihl;	   // default: (20 + options_len) / 4
	std::optional<uint8_t> version;	   // default: 4
	std::optional<uint16_t> tot_len;   // default: header + what follows
};

struct Ipv6Opts {
	Addr src, dst;
	std::optional<uint8_t> next_header; // default: from the next layer
	std::optional<uint8_t> version;
	std::optional<uint16_t> payload_len; // default: what follows
};

struct TcpOpts {
	uint16_t sport = 0, dport = 0;
	uint8_t flags = tcpflag::kAck;
	uint8_t doff = 5; // header length in 32-bit words; options NOP-filled
	std::optional<uint8_t> doff_field; // written instead of doff (header stays doff*4)
};

class PacketBuilder {
public:
	// Link layers.
	PacketBuilder &eth(std::optional<uint16_t> ethertype = {});
	PacketBuilder &vlan(uint16_t tpid = 0x8100, uint16_t vid = 100,
			    std::optional<uint16_t> inner_type = {});
	PacketBuilder &pppoe(std::optional<uint16_t> ppp_proto = {}, uint16_t session = 1);

	// Network layers.
	PacketBuilder &ipv4(const Ipv4Opts &o);
	PacketBuilder &ipv4(const Addr &src, const Addr &dst);
	PacketBuilder &ipv6(const Ipv6Opts &o);
	PacketBuilder &ipv6(const Addr &src, const Addr &dst);
	// Hop-by-hop, routing, destination options: len_units is the header's
	// length field (the header is (len_units + 1) * 8 bytes). AH: the header
	// is (len_units + 2) * 4 bytes.
	PacketBuilder &ipv6_ext(uint8_t type, uint8_t len_units = 0,
				std::optional<uint8_t> next_header = {});
	PacketBuilder &ipv6_frag(uint16_t offset_units, bool more, uint32_t id,
				 std::optional<uint8_t> next_header = {});

	// Transport layers.
	PacketBuilder &tcp(const TcpOpts &o);
	PacketBuilder &tcp(uint16_t sport, uint16_t dport, uint8_t flags = tcpflag::kAck);
	PacketBuilder &udp(uint16_t sport, uint16_t dport);
	// UDP-Lite, SCTP, or any protocol with 16-bit ports first: a header of
	// header_len bytes starting with the ports.
	PacketBuilder &ports(uint8_t ip_proto, uint16_t sport, uint16_t dport, size_t header_len);
	// ICMP (family 4) or ICMPv6 (family 6) echo; request unless reply.
	PacketBuilder &icmp_echo(uint8_t family, uint16_t id, uint16_t seq = 1, bool reply = false);
	// ICMP header of type/code followed by `quoted`, the start of the packet
	// the error is about (build it with another builder, IP layer first).
	PacketBuilder &icmp(uint8_t family, uint8_t type, uint8_t code, const Bytes &quoted = {});

	// Anything: payload bytes (a fixed pattern) or raw bytes.
	PacketBuilder &payload(size_t len);
	PacketBuilder &raw(const Bytes &bytes);

	Bytes build() const;

private:
	enum class Kind { kEth, kVlan, kPppoe, kIpv4, kIpv6, kIpv6Ext, kTcp, kUdp, kPorts, kIcmp, kRaw };
	struct Layer {
		Kind kind;
		Bytes hdr;
		bool auto_type = false;	 // type/proto/next-header field to fill
		bool auto_len = false;	 // length field to fill
		uint8_t ip_proto = 0;	 // what a previous IP layer should call this one
		uint8_t family = 0;	 // IP / ICMP layers
	};
	PacketBuilder &push(Layer l);

	std::vector<Layer> layers_;
};

// The first n bytes of a frame (n may exceed its size: no-op).
Bytes truncated(Bytes frame, size_t n);

// Offsets a test needs to know when it pokes bytes.
inline constexpr size_t kEthLen = 14;
inline constexpr size_t kVlanLen = 4;
inline constexpr size_t kPppoeLen = 8; // PPPoE session header + PPP protocol
inline constexpr size_t kIpv4Len = 20;
inline constexpr size_t kIpv6Len = 40;
inline constexpr size_t kTcpLen = 20;
inline constexpr size_t kUdpLen = 8;
inline constexpr size_t kIcmpLen = 8;

} // namespace tmeter::dptest

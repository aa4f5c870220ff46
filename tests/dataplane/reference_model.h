// SPEC §3 as plain C++, written from the spec and docs/DATAPLANE.md, not
// from the BPF code: its own parser over the frame bytes, its own flow and
// fragment tables (std::map) and a linear-scan longest-prefix match. The
// differential test feeds the same frames to it and to the BPF program and
// wants the same counters.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "packet_builder.h"

namespace tmeter::dptest {

struct Prefix {
	Addr addr; // host bits zero
	uint8_t len = 0;

	auto operator<=>(const Prefix &) const = default;
	bool contains(const Addr &a) const;
};

// "10.0.0.0/24", "2001:db8::/32"; a bare address is a host prefix.
Prefix prefix(std::string_view text);

struct Counters {
	uint64_t up_packets = 0, up_bytes = 0, down_packets = 0, down_bytes = 0;

	bool operator==(const Counters &) const = default;
};

// The subset of struct tm_stats the model predicts.
struct Stats {
	uint64_t packets = 0, bytes = 0, egress_skipped = 0, not_ip = 0, malformed = 0,
		 no_rule = 0, counted = 0, gso_from_size = 0;

	bool operator==(const Stats &) const = default;
};

// For readable assertion failures.
void PrintTo(const Counters &c, std::ostream *os);
void PrintTo(const Stats &s, std::ostream *os);
void PrintTo(const Prefix &p, std::ostream *os);
std::string to_string(const Prefix &p);

enum class Hook { kIngress, kEgress };

struct PacketEvent {
	Bytes frame;
	Hook hook = Hook::kIngress;
	bool l3 = false;		// device without a link-layer header
	uint32_t gso_segs = 0;		// > 1: an aggregate of that many segments
	uint32_t gso_size = 0;		// with gso_segs 0: a guest's TSO aggregate
	uint32_t ingress_ifindex = 0;	// interface the packet entered by, 0: local
};

class ReferenceModel {
public:
	// Adding a present rule keeps its counters; deleting drops them.
	void add_rule(const Prefix &p);
	void del_rule(const Prefix &p);
	void attach(uint32_t ifindex) { attached_.insert(ifindex); }
	void detach(uint32_t ifindex) { attached_.erase(ifindex); }

	void packet(const PacketEvent &ev);

	const std::map<Prefix, Counters> &counters() const { return rules_; }
	const Stats &stats() const { return stats_; }

	// Parsed view of one packet; public for tests of the model itself.
	struct Endpoint {
		Addr addr;
		uint16_t port = 0;
		auto operator<=>(const Endpoint &) const = default;
	};
	struct Tuple {
		Endpoint src, dst;
		uint8_t proto = 0;
	};
	enum class Verdict { kOk, kNotIp, kMalformed, kMalformedL4 };
	enum class Frag { kNone, kFirst, kLater };
	struct Parsed {
		Verdict verdict = Verdict::kOk;
		uint8_t family = 0;
		Tuple t;
		bool has_ports = false;
		bool icmp_error = false;
		Tuple quoted;
		Frag frag = Frag::kNone;
		uint32_t frag_id = 0;
		uint8_t tcp_flags = 0;
		uint64_t packets = 0, bytes = 0;
		bool gso_from_size = false; // segments counted from gso_size
	};
	static Parsed parse(const PacketEvent &ev);

private:
	struct FlowKey {
		uint8_t family, proto;
		Endpoint lo, hi;
		auto operator<=>(const FlowKey &) const = default;
	};
	struct FragKey {
		uint8_t family, proto;
		Addr src, dst;
		uint32_t id;
		auto operator<=>(const FragKey &) const = default;
	};
	// Key of a tuple, and which side of it (0: lo, 1: hi) sent the packet.
	static FlowKey key_of(uint8_t family, const Tuple &t, int *sender);
	const Prefix *match(const Addr &a) const;
	bool add(const Addr &src, const Addr &dst, bool up, const Parsed &p);

	std::map<Prefix, Counters> rules_;
	std::map<FlowKey, int> flows_; // -> originator side
	struct FragPorts {
		uint16_t sport, dport;
		uint8_t proto;
	};
	std::map<FragKey, FragPorts> frags_;
	std::set<uint32_t> attached_;
	Stats stats_;
};

} // namespace tmeter::dptest

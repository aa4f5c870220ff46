/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing, two ways in:
 * - tm_parse_fast: Ethernet with up to two VLAN tags or PPPoE (or no link
 *   layer), IPv4 without options or fragmentation or IPv6 without extension
 *   headers, then TCP or UDP, all in the linear part of the buffer: read in
 *   place at constant offsets.
 * - tm_parse_slow (tm_parse_slow_direct in the fast build): everything
 *   else (a tag before PPPoE, IPv4 options and fragments, IPv6 extension
 *   headers, ICMP and the packet an error quotes, other protocols, headers
 *   in paged data), through bpf_skb_load_bytes, which reads wherever the
 *   kernel keeps the bytes.
 * Why two: a direct read is one load, a helper call is not; but without
 * CAP_PERFMON the verifier allows direct packet access at constant offsets
 * only (a variable added to a packet pointer is a Spectre v1 gadget to it),
 * and compares no packet pointer with NULL. Both ways fill one tm_packet.
 */
#ifndef TM_BPF_PARSE_H
#define TM_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "traffic_meter_kern_user.h"

#define TM_MAX_IPV6_EXT 8
#define TM_GSO_BY_FRAGS 0xFFFF /* gso_size of SCTP aggregates: gso_segs says the count */

#define TM_ETH_P_8021Q 0x8100
#define TM_ETH_P_8021AD 0x88A8
#define TM_FAST_VLAN_HLEN (ETH_HLEN + 4) /* the fast parse's frames with one tag */
/* ... with two tags, or a PPPoE session header and its PPP protocol */
#define TM_FAST_LONG_HLEN (ETH_HLEN + 8)
#define TM_ETH_P_PPP_SES 0x8864
#define TM_PPP_IPV4 0x0021
#define TM_PPP_IPV6 0x0057

#define TM_IPPROTO_ICMPV6 58
#define TM_IPPROTO_UDPLITE 136
#define TM_IPPROTO_SCTP 132
#define TM_IPV6_HOPOPTS 0
#define TM_IPV6_ROUTING 43
#define TM_IPV6_FRAGMENT 44
#define TM_IPV6_AH 51
#define TM_IPV6_DSTOPTS 60
#define TM_IPV6_OPT_JUMBO 0xC2

#define TM_TCP_SYN 0x02
#define TM_TCP_ACK 0x10

enum tm_parse_status {
	TM_PARSED = 0,
	TM_NOT_IP,
	TM_MALFORMED,	 /* the IP header itself cannot be trusted: not counted */
	TM_MALFORMED_L4, /* IP header fine, transport unreadable: counted by addresses */
};

enum tm_frag_kind {
	TM_FRAG_NONE = 0,
	TM_FRAG_FIRST,
	TM_FRAG_LATER, /* non-first fragment: no transport header */
};

/* Addresses (IPv4 in the first 4 bytes, the rest zero) and ports.
 * 8-byte aligned so that the compiler copies addresses in words: BPF has
 * no unaligned access, and a byte array's copy is otherwise byte by byte. */
struct tm_tuple {
	__u8 saddr[16] __attribute__((aligned(8)));
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};

struct tm_packet {
	struct tm_tuple t;     /* the packet's own addresses; ports if known */
	struct tm_tuple inner; /* ICMP errors: the quoted packet's tuple */
	__u64 sig;	       /* identity across the host's devices (struct tm_percpu) */
	__u32 frag_id;
	__u32 bytes;   /* IP bytes, all segments of an aggregate */
	__u32 packets; /* wire packets: segments of an aggregate, else 1 */
	__u8 family;
	__u8 frag;	   /* enum tm_frag_kind */
	__u8 tcp_flags;
	__u8 has_ports;	   /* t.sport/t.dport were read from the packet */
	__u8 icmp_error;   /* inner is valid: count in the quoted packet's flow */
	__u8 l4_truncated; /* transport header named but not readable */
	__u8 gso_from_size;
	__u8 pad;
};

struct tm_ipv4_hdr {
	__u8 ver_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 proto;
	__be16 check;
	__be32 saddr;
	__be32 daddr;
};

struct tm_ipv6_hdr {
	__be32 ver_tc_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

/* The first 8 bytes of any extension header (none is shorter). */
struct tm_ipv6_ext {
	__u8 nexthdr;
	__u8 len;
	__u8 b2; /* fragment: offset and flags; hop-by-hop: first option's type */
	__u8 b3; /* hop-by-hop: first option's length */
	__be32 w; /* fragment: identification; hop-by-hop: jumbo payload length */
};

struct tm_pppoe_hdr {
	__u8 ver_type;
	__u8 code;
	__be16 session;
	__be16 length;
	__be16 ppp_proto;
};

/* The first bytes of a transport header, as far as the packet has them. */
struct tm_l4_head {
	__be16 sport; /* ICMP: type and code */
	__be16 dport; /* ICMP: checksum */
	__be16 w4;    /* TCP: sequence, high half; UDP: length; ICMP echo: identifier */
	__be16 w6;    /* TCP: sequence, low half; UDP: checksum; ICMP echo: sequence */
	__u8 b8[4];
	__u8 doff_res; /* TCP */
	__u8 flags;    /* TCP */
	__u8 b14[2];
};

/*
 * Every address field of the tuple, the flow key and the LPM keys starts at
 * a multiple of 4 bytes. Saying so lets the compiler move addresses in
 * words: for a byte pointer of unknown alignment the BPF target copies and
 * compares byte by byte (it has no unaligned access of its own): a 16-byte
 * copy becomes 32 instructions, a 4-byte load 10. Packet data is
 * read in words too, as the IPv4 header's addresses always were: the
 * verifier allows unaligned packet loads where the CPU has them cheap.
 */
#define TM_ADDR(p) ((__u8 *)__builtin_assume_aligned((p), 4))
#define TM_CADDR(p) ((const __u8 *)__builtin_assume_aligned((p), 4))

/* v, `size` bytes in memory order, at byte `at` of an 8-byte word, built in
 * a register: fields stored one by one (a local array or struct copied as
 * one is still stored field by field) are what such a word avoids. */
static __always_inline __u64 tm_word_part(__u64 v, const int at, const int size)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return v << (8 * at);
#else
	return v << (8 * (8 - at - size));
#endif
}

/*
 * The tuple's addresses are written in the 8-byte words the flow key reads
 * them back in: a load that spans two smaller stores still in the store
 * buffer cannot be forwarded from them and waits for both to reach the
 * cache (docs/BENCHMARKS.md, "Stop 23"). dst is a tuple's address, 8-byte
 * aligned.
 */
static __always_inline void tm_copy_v4(__u8 *dst, __be32 addr)
{
	__u64 words[2] = {tm_word_part(addr, 0, 4), 0}; /* addr, then 12 zero bytes */

	__builtin_memcpy(__builtin_assume_aligned(dst, 8), words, 16);
}

/* An IPv6 address from the packet, in 8-byte words (see tm_copy_v4): the
 * verifier allows unaligned packet loads where the CPU has them cheap. */
static __always_inline void tm_copy_v6(__u8 *dst, const __u8 *pkt_addr)
{
	__builtin_memcpy(__builtin_assume_aligned(dst, 8), __builtin_assume_aligned(pkt_addr, 8),
			 16);
}

static __always_inline int tm_is_ipv6_ext(__u8 nexthdr)
{
	return nexthdr == TM_IPV6_HOPOPTS || nexthdr == TM_IPV6_ROUTING ||
	       nexthdr == TM_IPV6_DSTOPTS || nexthdr == TM_IPV6_AH || nexthdr == TM_IPV6_FRAGMENT;
}

static __always_inline int tm_is_icmp_of(__u8 proto, __u8 family)
{
	return family == TM_FAMILY_IPV4 ? proto == IPPROTO_ICMP : proto == TM_IPPROTO_ICMPV6;
}

static __always_inline int tm_is_icmp_echo(__u8 family, __u8 type)
{
	return family == TM_FAMILY_IPV4 ? (type == 8 || type == 0) : (type == 128 || type == 129);
}

/* An ICMP header's type: its first byte. */
static __always_inline __u8 tm_icmp_type(const struct tm_l4_head *h)
{
	return (__u8)(bpf_ntohs(h->sport) >> 8);
}

static __always_inline int tm_is_icmp_error(__u8 family, __u8 type)
{
	if (family == TM_FAMILY_IPV4)
		return type == 3 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

/* Bytes of the transport header that repeat in every segment of an aggregate. */
static __always_inline __u32 tm_l4_len(__u8 proto, const struct tm_l4_head *h, __u32 n)
{
	if (proto == IPPROTO_TCP)
		return n >= 14 ? (__u32)(h->doff_res >> 4) * 4 : 0;
	if (proto == IPPROTO_UDP || proto == TM_IPPROTO_UDPLITE)
		return 8;
	if (proto == TM_IPPROTO_SCTP)
		return 12; /* the common header */
	return 0;
}

/*
 * Ports from the first n bytes of a transport header. ICMP echo uses its
 * identifier on both sides; protocols without ports (and ICMP of the other
 * family) leave them 0. Returns -1 if the header that should hold them is
 * cut short.
 */
static __always_inline int tm_ports_of(const struct tm_l4_head *h, __u32 n, __u8 family,
				       struct tm_tuple *t)
{
	switch (t->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case TM_IPPROTO_UDPLITE:
	case TM_IPPROTO_SCTP:
		if (n < 4)
			return -1;
		t->sport = h->sport;
		t->dport = h->dport;
		return 0;
	case IPPROTO_ICMP:
	case TM_IPPROTO_ICMPV6:
		if (!tm_is_icmp_of(t->proto, family))
			return 0;
		if (n < 8)
			return -1;
		if (tm_is_icmp_echo(family, tm_icmp_type(h))) {
			t->sport = h->w4;
			t->dport = h->w4;
		}
		return 0;
	default:
		return 0;
	}
}

/* The same packet seen at an ingress hook and later at an egress hook of
 * this host: fields that neither forwarding nor NAT rewrite. */
static __always_inline __u64 tm_sig_of(__u32 ip_word, __u32 wire_len, __u8 proto, __u32 l4_word)
{
	return ((__u64)ip_word << 32 ^ (__u64)wire_len << 8 ^ proto) * 0x9e3779b97f4a7c15ULL ^
	       l4_word;
}

/* The transport word that identifies a packet of its flow. */
static __always_inline __u32 tm_l4_sig_word(__u8 proto, const struct tm_l4_head *h)
{
	if (proto == IPPROTO_TCP)
		return (__u32)h->w4 << 16 | h->w6; /* sequence number */
	if (proto == IPPROTO_UDP || proto == TM_IPPROTO_UDPLITE)
		return h->w4; /* length, not the checksum NAT rewrites */
	if (proto == IPPROTO_ICMP || proto == TM_IPPROTO_ICMPV6)
		return h->w6; /* echo sequence, not the identifier NAT may rewrite */
	return 0;
}

/*
 * Packets and IP bytes. An aggregate (GSO/GRO, or TSO from a guest, whose
 * gso_segs the kernel leaves 0 until it segments: then gso_size says how
 * many) counts as its segments, each with its own L3 and L4 headers.
 * has_gso_size: __sk_buff.gso_size exists (Linux 5.7). Raises
 * gso_from_size, which each parse starts at 0, when gso_size counted.
 */
static __always_inline void tm_size(struct __sk_buff *skb, const int has_gso_size,
				    struct tm_packet *p, __u32 avail, __u32 hdrs, __u32 wire_len)
{
	__u32 segs = skb->gso_segs, size;

	if (segs == 0 && has_gso_size) {
		size = skb->gso_size;
		if (size && size != TM_GSO_BY_FRAGS && avail > hdrs) {
			segs = (avail - hdrs + size - 1) / size;
			p->gso_from_size = segs > 1;
		}
	}
	if (segs > 1) {
		p->packets = segs;
		p->bytes = avail + (segs - 1) * hdrs;
	} else {
		p->packets = 1;
		p->bytes = wire_len < avail ? wire_len : avail;
	}
}

/* An aggregate whose IP length field may be 0 (BIG TCP). */
static __always_inline int tm_is_aggregate(struct __sk_buff *skb, const int has_gso_size)
{
	return skb->gso_segs > 1 || (has_gso_size && skb->gso_size);
}

/* Link-layer types, for both parsers. */
static __always_inline int tm_is_vlan_tag(__u16 tpid)
{
	return tpid == TM_ETH_P_8021Q || tpid == TM_ETH_P_8021AD;
}

/* The ethertype a PPPoE session's PPP protocol stands for; LCP, IPCP and
 * the rest keep the PPPoE one: not IP, and not malformed. */
static __always_inline __u16 tm_ppp_ethertype(__u16 ppp_proto)
{
	if (ppp_proto == TM_PPP_IPV4)
		return ETH_P_IP;
	if (ppp_proto == TM_PPP_IPV6)
		return ETH_P_IPV6;
	return TM_ETH_P_PPP_SES;
}

/* ------------------------------------------------------------ fast path */

/*
 * The fast parse's body, for the packet itself (tm_parse_fast) and for a
 * copy of its first n bytes (tm_parse_fast_copy). In scope where it
 * expands: skb, l2, has_gso_size, p and data; SHORT(len), whether the len
 * bytes after the link layer (l2 bytes) are missing. A macro, not a
 * function with a flag for the two cases: with the flag, the compiler laid
 * the direct parse out otherwise, and an established flow cost 1.7% more
 * (IPv4, bench/dp_ab.sh, docs/BENCHMARKS.md "Stop 36").
 */
#define TM_PARSE_FAST_BODY(SHORT)                                                               \
	struct tm_l4_head *l4;                                                                  \
	__u32 avail, l3_len, l4_len, wire_len, ip_word;                                         \
	__u16 ethertype;                                                                        \
	__u8 proto, first;                                                                      \
                                                                                                \
	/* Every packet taken here has 14 bytes of transport header in the                      \
	 * linear part, or the copy (TCP flags; UDP is shorter, but no frame                    \
	 * that short matters): one bound per family, which the compiler                        \
	 * cannot split. */                                                                     \
	if (SHORT(sizeof(struct tm_ipv4_hdr) + 14))                                             \
		return 0;                                                                       \
	if (!l2) {                                                                              \
		first = *(__u8 *)data >> 4;                                                     \
		ethertype = first == 4 ? ETH_P_IP : first == 6 ? ETH_P_IPV6 : 0;                \
	} else {                                                                                \
		ethertype = bpf_ntohs(*(__be16 *)(data + 12)); /* Ethernet's */                 \
		if (l2 == TM_FAST_VLAN_HLEN) {                                                  \
			if (!tm_is_vlan_tag(ethertype))                                         \
				return 0;                                                       \
			ethertype = bpf_ntohs(*(__be16 *)(data + 16));                          \
		} else if (l2 == TM_FAST_LONG_HLEN) {                                           \
			if (ethertype == TM_ETH_P_PPP_SES)                                      \
				ethertype = tm_ppp_ethertype(bpf_ntohs(*(__be16 *)(data + 20))); \
			else if (tm_is_vlan_tag(ethertype) &&                                   \
				 tm_is_vlan_tag(bpf_ntohs(*(__be16 *)(data + 16))))             \
				ethertype = bpf_ntohs(*(__be16 *)(data + 20));                  \
			else                                                                    \
				return 0;                                                       \
		}                                                                               \
	}                                                                                       \
	if (skb->len < l2)                                                                      \
		return 0;                                                                       \
	avail = skb->len - l2;                                                                  \
                                                                                                \
	if (ethertype == ETH_P_IP) {                                                            \
		struct tm_ipv4_hdr *ip = data + l2;                                             \
                                                                                                \
		if (ip->ver_ihl != 0x45 || (ip->frag_off & bpf_htons(0x3fff)))                  \
			return 0;                                                               \
		proto = ip->proto;                                                              \
		wire_len = bpf_ntohs(ip->tot_len);                                              \
		if (wire_len < sizeof(*ip) && !tm_is_aggregate(skb, has_gso_size))              \
			return 0;                                                               \
		l3_len = sizeof(*ip);                                                           \
		l4 = data + l2 + sizeof(*ip);                                                   \
		p->family = TM_FAMILY_IPV4;                                                     \
		tm_copy_v4(p->t.saddr, ip->saddr);                                              \
		tm_copy_v4(p->t.daddr, ip->daddr);                                              \
		ip_word = (__u32)bpf_ntohs(ip->id) << 16;                                       \
	} else if (ethertype == ETH_P_IPV6) {                                                   \
		struct tm_ipv6_hdr *ip6 = data + l2;                                            \
                                                                                                \
		if (SHORT(sizeof(*ip6) + 14))                                                   \
			return 0;                                                               \
		if ((ip6->ver_tc_flow & bpf_htonl(0xf0000000)) != bpf_htonl(0x60000000) ||      \
		    !ip6->payload_len)                                                          \
			return 0;                                                               \
		proto = ip6->nexthdr;                                                           \
		wire_len = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);                          \
		l3_len = sizeof(*ip6);                                                          \
		l4 = data + l2 + sizeof(*ip6);                                                  \
		p->family = TM_FAMILY_IPV6;                                                     \
		tm_copy_v6(p->t.saddr, ip6->saddr);                                             \
		tm_copy_v6(p->t.daddr, ip6->daddr);                                             \
		ip_word = bpf_ntohl(ip6->ver_tc_flow) & 0xfffff;                                \
	} else {                                                                                \
		return 0;                                                                       \
	}                                                                                       \
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)                                       \
		return 0;                                                                       \
	/* Every field the flow code reads is set here or in tm_size(), so the                  \
	 * packet is not cleared first (1-2 ns of ~39 in BPF_PROG_TEST_RUN):                    \
	 * what this parse never finds, as constants the compiler follows.                      \
	 * l4_truncated is read by the general parse only. gso_from_size starts                 \
	 * at 0 here and tm_size() raises it: setting it there on every packet                  \
	 * cost about 1 ns (dp_bench, alternating builds). */                                   \
	p->frag = TM_FRAG_NONE;                                                                 \
	p->icmp_error = 0;                                                                      \
	p->gso_from_size = 0;                                                                   \
	p->t.proto = proto;                                                                     \
	p->t.sport = l4->sport;                                                                 \
	p->t.dport = l4->dport;                                                                 \
	p->has_ports = l4->sport || l4->dport;                                                  \
	if (proto == IPPROTO_TCP) {                                                             \
		p->tcp_flags = l4->flags;                                                       \
		l4_len = (__u32)(l4->doff_res >> 4) * 4;                                        \
	} else {                                                                                \
		p->tcp_flags = 0;                                                               \
		l4_len = 8;                                                                     \
	}                                                                                       \
	p->sig = tm_sig_of(ip_word, wire_len, proto, tm_l4_sig_word(proto, l4));                \
	tm_size(skb, has_gso_size, p, avail, l3_len + l4_len, wire_len);                        \
	return 1;

/*
 * l2 is a constant at every call site, so every packet pointer below is
 * data plus a constant: 0 (no link-layer header), ETH_HLEN,
 * TM_FAST_VLAN_HLEN (Ethernet and one 802.1Q or 802.1ad tag: a trunk port,
 * a guest's tagged frames on a tap) or TM_FAST_LONG_HLEN (two tags: QinQ;
 * or PPPoE: a router's uplink). A tag before PPPoE, and PPPoE after two
 * tags, take the slow path, which agrees on every frame the fast parse
 * takes (tm_parse_l2). Returns 1 when the packet is parsed, 0 to leave it
 * to the slow path.
 */
static __always_inline int tm_parse_fast(struct __sk_buff *skb, const __u32 l2,
					 const int has_gso_size, struct tm_packet *p)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	/* len unparenthesized: data + l2 + 20 + 14, the pointer as it was
	 * written before the copy's parse, which shares data + l2 with the
	 * network header's (a different grouping compiled differently). */
#define TM_SHORT_PACKET(len) (data + l2 + len > data_end)
	TM_PARSE_FAST_BODY(TM_SHORT_PACKET);
#undef TM_SHORT_PACKET
}

/* The same on a copy of the packet's first n bytes at data (map memory):
 * only scalar lengths are compared, never packet pointers (see
 * tm_parse_copy). */
static __always_inline int tm_parse_fast_copy(struct __sk_buff *skb, const __u32 l2,
					      const int has_gso_size, struct tm_packet *p, void *data,
					      __u32 n)
{
#define TM_SHORT_COPY(len) (l2 + len > n)
	TM_PARSE_FAST_BODY(TM_SHORT_COPY);
#undef TM_SHORT_COPY
}

/* The fast parse, one link-layer layout after the other, the commonest
 * first: each at its own constant offset (see tm_parse_fast). */
static __always_inline int tm_parse_fast_any(struct __sk_buff *skb, const int l3_device,
					     const int has_gso_size, struct tm_packet *p)
{
	if (l3_device)
		return tm_parse_fast(skb, 0, has_gso_size, p);
	return tm_parse_fast(skb, ETH_HLEN, has_gso_size, p) ||
	       tm_parse_fast(skb, TM_FAST_VLAN_HLEN, has_gso_size, p) ||
	       tm_parse_fast(skb, TM_FAST_LONG_HLEN, has_gso_size, p);
}

/* ------------------------------------------------------------ slow path */

/*
 * The slow path's working state, in per-CPU map memory (tm_percpu.scratch).
 * Why not the stack: the verifier tracks every value a branch leaves behind
 * (offsets, header kinds, lengths), so each later stage would be verified
 * once per combination of earlier outcomes, far beyond its limits. Map
 * memory is opaque to it: after tm_forget() a stage reads its inputs back
 * as unknown values, and the paths that lead there converge.
 */
struct tm_scratch {
	struct tm_packet p;
	struct tm_ipv6_walk {
		__u32 l4_off;
		__u32 frag_id;
		__u32 jumbo; /* jumbo payload length of a hop-by-hop option, 0 if none */
		__u8 proto;
		__u8 frag; /* enum tm_frag_kind */
		__u8 ok;   /* chain ended at a transport (or a non-first fragment) */
		__u8 pad;
	} walk;
	struct tm_l4_head head;
	__u32 off;     /* network header */
	__u32 l4_off;
	__u32 l3_len;
	__u32 l4_len;
	__u32 avail;   /* skb->len from the network header on */
	__u32 wire_len;
	__u32 ip_word; /* for the signature: IPv4 id and offset, IPv6 flow label */
	__u32 head_len;
	__u16 ethertype;
	__u8 l4_ok;
	__u8 status;
	/* Map keys and values the flow and counter code builds. Not on the
	 * stack: kernels before 6.x refuse, without CAP_PERFMON, a narrow
	 * store into a stack slot that held an 8-byte spill on some path, and
	 * the compiler's slot reuse cannot be steered. */
	struct tm_flow_key fkey;
	struct tm_flow_value fval;
	struct tm_flow_value fseen; /* what a writer finds in the table */
	struct tm_frag_key frag_key;
	struct tm_frag_value frag_val;
	struct tm_lpm_v6_key k6;
	struct tm_lpm_v4_key k4;
	struct tm_rule_ref ref[2];
	__u32 u32key;
	__u32 cpu_base; /* this CPU's first entry in tm_counters */
	__s32 way; /* tm_opaque_way(): a way's index, stored and read back */
	/* The packet's first bytes, for the fast parse on a copy (tm_parse_copy):
	 * the longest frame it takes, two tags or PPPoE, IPv6 and 14 bytes of
	 * TCP, is 76 bytes. Last, so that the lines the fast build touches stay
	 * where they were. */
	__u8 hdrs[TM_FAST_LONG_HLEN + 40 + 14 + 4] __attribute__((aligned(8)));
};

_Static_assert(sizeof(struct tm_scratch) <= TM_SCRATCH_BYTES, "tm_percpu.scratch too small");

/* Make the compiler reload from memory whatever it knew before this point:
 * with the state in map memory, the verifier's paths converge here. */
#define tm_forget() asm volatile("" ::: "memory")

static __always_inline int tm_load(struct __sk_buff *skb, __u32 off, void *to, __u32 len)
{
	return bpf_skb_load_bytes(skb, off, to, len);
}

/* Up to 16 bytes of transport header at off into h, zero-filled; returns how
 * many the packet had (16, 14, 8, 4 or 0: constant sizes keep the verifier
 * simple; 14 holds TCP's flags, 8 ICMP's echo identifier, 4 the ports). */
static __always_inline __u32 tm_load_l4_head(struct __sk_buff *skb, __u32 off,
					     struct tm_l4_head *h)
{
	__u32 left = skb->len > off ? skb->len - off : 0;
	struct tm_l4_head buf;

	__builtin_memset(&buf, 0, sizeof(buf));
	if (left >= 16)
		left = tm_load(skb, off, &buf, 16) ? 0 : 16;
	else if (left >= 14)
		left = tm_load(skb, off, &buf, 14) ? 0 : 14;
	else if (left >= 8)
		left = tm_load(skb, off, &buf, 8) ? 0 : 8;
	else if (left >= 4)
		left = tm_load(skb, off, &buf, 4) ? 0 : 4;
	else
		left = 0;
	__builtin_memcpy(h, &buf, sizeof(buf));
	return left;
}

/* Link layer: the ethertype of the network header (0: cut short or 0,
 * which no valid frame has), *off on it. */
static __always_inline __u16 tm_parse_l2(struct __sk_buff *skb, __u32 *off)
{
	struct tm_pppoe_hdr pppoe;
	__be16 tag[2];
	__u16 proto;
	__u32 o = ETH_HLEN;
	int i;

	if (tm_load(skb, 12, tag, 2))
		return 0;
	proto = bpf_ntohs(tag[0]);
#pragma unroll
	for (i = 0; i < 2; i++) {
		if (!tm_is_vlan_tag(proto))
			break;
		if (tm_load(skb, o, tag, 4))
			return 0;
		proto = bpf_ntohs(tag[1]);
		o += 4;
	}
	if (proto == TM_ETH_P_PPP_SES) {
		if (tm_load(skb, o, &pppoe, sizeof(pppoe)))
			return 0;
		o += sizeof(pppoe);
		proto = tm_ppp_ethertype(bpf_ntohs(pppoe.ppp_proto));
	}
	*off = o;
	return proto;
}

/* Walks up to TM_MAX_IPV6_EXT extension headers after the fixed header at
 * `off`; w is map memory (struct tm_scratch). */
static __always_inline void tm_walk_ipv6(struct __sk_buff *skb, __u32 off, __u8 nexthdr,
					 struct tm_ipv6_walk *w)
{
	struct tm_ipv6_ext ext;
	__u16 frag_off;
	int i;

	w->l4_off = off + sizeof(struct tm_ipv6_hdr);
	w->proto = nexthdr;
	w->frag = TM_FRAG_NONE;
	w->frag_id = 0;
	w->jumbo = 0;
	w->ok = 0;
#pragma unroll
	for (i = 0; i < TM_MAX_IPV6_EXT; i++) {
		/* Every iteration starts from one verifier state, whichever
		 * header the previous one was. */
		tm_forget();
		if (!tm_is_ipv6_ext(w->proto)) {
			w->ok = 1;
			return;
		}
		if (tm_load(skb, w->l4_off, &ext, sizeof(ext)))
			return;
		if (w->proto == TM_IPV6_FRAGMENT) {
			frag_off = (__u16)ext.b2 << 8 | ext.b3;
			w->proto = ext.nexthdr;
			w->l4_off += 8;
			if (frag_off & 0xfff8) {
				w->frag = TM_FRAG_LATER;
				w->frag_id = bpf_ntohl(ext.w);
				w->ok = 1;
				return;
			}
			if (frag_off & 1) {
				w->frag = TM_FRAG_FIRST;
				w->frag_id = bpf_ntohl(ext.w);
			}
			continue;
		}
		/* RFC 2675: the jumbo option sits right after the header's 2 bytes. */
		if (i == 0 && w->proto == TM_IPV6_HOPOPTS && ext.b2 == TM_IPV6_OPT_JUMBO && ext.b3 == 4)
			w->jumbo = bpf_ntohl(ext.w);
		if (w->proto == TM_IPV6_AH)
			w->l4_off += ((__u32)ext.len + 2) * 4;
		else
			w->l4_off += ((__u32)ext.len + 1) * 8;
		w->proto = ext.nexthdr;
	}
	tm_forget();
	/* TM_MAX_IPV6_EXT headers walked: fine if the last one leads to a transport. */
	w->ok = !tm_is_ipv6_ext(w->proto);
}

/* Stage 1: the network header at s->off. Sets the tuple's addresses and
 * protocol, the fragment kind, and s->l4_off, l3_len, wire_len, l4_ok. */
static __always_inline int tm_parse_l3(struct __sk_buff *skb, const int has_gso_size,
				       struct tm_scratch *s)
{
	struct tm_packet *p = &s->p;
	__u32 off = s->off, l3_len, wire_len;

	if (skb->len < off)
		return TM_MALFORMED;
	s->avail = skb->len - off;
	s->l4_ok = 1;
	if (s->ethertype == ETH_P_IP) {
		struct tm_ipv4_hdr ip;

		if (tm_load(skb, off, &ip, sizeof(ip)) || (ip.ver_ihl >> 4) != 4)
			return TM_MALFORMED;
		l3_len = (ip.ver_ihl & 0xf) * 4;
		wire_len = bpf_ntohs(ip.tot_len);
		if (l3_len < sizeof(ip) || l3_len > s->avail)
			return TM_MALFORMED;
		/* An aggregate's tot_len may be 0 (BIG TCP): skb->len decides. */
		if (!tm_is_aggregate(skb, has_gso_size) && wire_len < l3_len)
			return TM_MALFORMED;
		p->family = TM_FAMILY_IPV4;
		tm_copy_v4(p->t.saddr, ip.saddr);
		tm_copy_v4(p->t.daddr, ip.daddr);
		p->t.proto = ip.proto;
		if (bpf_ntohs(ip.frag_off) & 0x1fff)
			p->frag = TM_FRAG_LATER;
		else if (bpf_ntohs(ip.frag_off) & 0x2000)
			p->frag = TM_FRAG_FIRST;
		p->frag_id = bpf_ntohs(ip.id);
		s->l3_len = l3_len;
		s->l4_off = off + l3_len;
		s->wire_len = wire_len;
		s->ip_word = (__u32)bpf_ntohs(ip.id) << 16 | (bpf_ntohs(ip.frag_off) & 0x1fff);
		return TM_PARSED;
	}
	if (s->ethertype != ETH_P_IPV6)
		return TM_NOT_IP;

	struct tm_ipv6_hdr ip6;

	if (tm_load(skb, off, &ip6, sizeof(ip6)) || (bpf_ntohl(ip6.ver_tc_flow) >> 28) != 6)
		return TM_MALFORMED;
	p->family = TM_FAMILY_IPV6;
	__builtin_memcpy(p->t.saddr, ip6.saddr, 16);
	__builtin_memcpy(p->t.daddr, ip6.daddr, 16);
	s->ip_word = bpf_ntohl(ip6.ver_tc_flow) & 0xfffff;
	s->wire_len = bpf_ntohs(ip6.payload_len);
	tm_walk_ipv6(skb, off, ip6.nexthdr, &s->walk);
	tm_forget();
	/* payload_len 0: a BIG TCP aggregate, a jumbogram, or just the header
	 * (then what follows is link-layer padding). */
	if (s->wire_len)
		s->wire_len += sizeof(ip6);
	else if (tm_is_aggregate(skb, has_gso_size))
		s->wire_len = s->avail;
	else
		s->wire_len = sizeof(ip6) + s->walk.jumbo;
	p->t.proto = s->walk.proto;
	p->frag = s->walk.frag;
	p->frag_id = s->walk.frag_id;
	s->l4_off = s->walk.l4_off;
	s->l3_len = s->walk.l4_off - off;
	s->l4_ok = s->walk.ok;
	return TM_PARSED;
}

/* Stage 2: the transport header at s->l4_off: ports, TCP flags, the bytes
 * of it each segment repeats. Returns 1 for an ICMP error. */
static __always_inline int tm_parse_l4(struct __sk_buff *skb, struct tm_scratch *s)
{
	struct tm_packet *p = &s->p;
	__u32 n;

	s->head_len = 0;
	s->l4_len = 0;
	__builtin_memset(&s->head, 0, sizeof(s->head));
	if (!s->l4_ok) {
		p->l4_truncated = 1;
		return 0;
	}
	if (p->frag == TM_FRAG_LATER)
		return 0;
	n = tm_load_l4_head(skb, s->l4_off, &s->head);
	s->head_len = n;
	tm_forget();
	if (tm_ports_of(&s->head, s->head_len, p->family, &p->t) < 0)
		p->l4_truncated = 1;
	else
		p->has_ports = p->t.sport || p->t.dport;
	if (p->t.proto == IPPROTO_TCP && s->head_len >= 14)
		p->tcp_flags = s->head.flags;
	s->l4_len = tm_l4_len(p->t.proto, &s->head, s->head_len);
	return s->head_len >= 8 && tm_is_icmp_of(p->t.proto, p->family) &&
	       tm_is_icmp_error(p->family, tm_icmp_type(&s->head));
}

/* Stage 3, ICMP errors: the packet the error quotes, 8 bytes into the ICMP
 * header. Fills p->inner; 0 if its IP header cannot be read. */
static __always_inline int tm_parse_quoted(struct __sk_buff *skb, struct tm_scratch *s)
{
	struct tm_tuple *t = &s->p.inner;
	__u32 off = s->l4_off + 8;

	if (s->p.family == TM_FAMILY_IPV4) {
		struct tm_ipv4_hdr ip;

		if (tm_load(skb, off, &ip, sizeof(ip)) || (ip.ver_ihl >> 4) != 4 ||
		    (ip.ver_ihl & 0xf) < 5)
			return 0;
		tm_copy_v4(t->saddr, ip.saddr);
		tm_copy_v4(t->daddr, ip.daddr);
		t->proto = ip.proto;
		if (bpf_ntohs(ip.frag_off) & 0x1fff)
			return 1;
		s->walk.l4_off = off + (ip.ver_ihl & 0xf) * 4;
		s->walk.ok = 1;
	} else {
		struct tm_ipv6_hdr ip6;

		if (tm_load(skb, off, &ip6, sizeof(ip6)) ||
		    (bpf_ntohl(ip6.ver_tc_flow) >> 28) != 6)
			return 0;
		__builtin_memcpy(t->saddr, ip6.saddr, 16);
		__builtin_memcpy(t->daddr, ip6.daddr, 16);
		tm_walk_ipv6(skb, off, ip6.nexthdr, &s->walk);
		tm_forget();
		t->proto = s->walk.proto;
		if (!s->walk.ok || s->walk.frag == TM_FRAG_LATER)
			return 1;
	}
	tm_forget();
	struct tm_l4_head head;
	__u32 n = tm_load_l4_head(skb, s->walk.l4_off, &head);

	tm_ports_of(&head, n, s->p.family, &s->p.inner);
	return 1;
}

/*
 * The fast parse on a copy of the packet's first bytes, taken with one
 * bpf_skb_load_bytes: the builds without direct packet access (kernels
 * whose verifier compares no packet pointers without CAP_PERFMON, such as
 * 5.10) parse the common packets so, and so does the fast build where the
 * headers are not all in the linear part (a guest's paged frames on a
 * tap). The general parse loads each header on its own, three loads or
 * more for these packets (docs/BENCHMARKS.md, "Stop 36"). Only scalar
 * lengths are compared, never packet pointers. 1 when parsed (every field
 * the flow code reads set, as by the fast parse), 0 for the general parse.
 */
static __always_inline int tm_parse_copy(struct __sk_buff *skb, const int l3_device,
					 const int has_gso_size, struct tm_scratch *s)
{
	__u32 n = skb->len;

	if (n > sizeof(s->hdrs))
		n = sizeof(s->hdrs);
	/* Shorter than any frame it takes (and bpf_skb_load_bytes copies at
	 * least one byte). */
	if (n < sizeof(struct tm_ipv4_hdr) + 14)
		return 0;
	if (tm_load(skb, 0, s->hdrs, n))
		return 0;
	if (l3_device)
		return tm_parse_fast_copy(skb, 0, has_gso_size, &s->p, s->hdrs, n);
	return tm_parse_fast_copy(skb, ETH_HLEN, has_gso_size, &s->p, s->hdrs, n) ||
	       tm_parse_fast_copy(skb, TM_FAST_VLAN_HLEN, has_gso_size, &s->p, s->hdrs, n) ||
	       tm_parse_fast_copy(skb, TM_FAST_LONG_HLEN, has_gso_size, &s->p, s->hdrs, n);
}

/*
 * The fast build's packets shorter than 64 bytes whose headers are not all
 * in the linear part: tm_handle takes only longer packets for paged. 1 when
 * the linear part is shorter than the shortest frame the fast parse takes
 * (no link layer, IPv4, UDP: 28 bytes; with Ethernet 42) and the packet is
 * not, as a 60-byte frame with its Ethernet header alone linear: the copy
 * holds what the linear part lacks. Constant offsets only, the verifier's
 * rule without CAP_PERFMON. In the subprogram rather than in tm_handle's
 * test, so that the fast entry points' code stays as it was: a wider test
 * there moved their blocks, and an established IPv6 flow read 0.8% slower
 * in two A/B runs (docs/BENCHMARKS.md, "Stop 37").
 */
static __always_inline int tm_paged_short(const struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	__u32 len = skb->len;

	return (len >= 42 && data + 42 > data_end) || (len >= 28 && data + 28 > data_end);
}

/* Everything the fast path leaves, link layer first; the working state is
 * s (map memory), the result s->p. With copy, the fast parse on a copy of
 * the first bytes comes first (tm_parse_copy). direct: the fast build's,
 * which may read the packet in place (tm_paged_short). Inlined into the
 * two subprograms below. */
static __always_inline int tm_parse_general(struct __sk_buff *skb, const int l3_device,
					    const int has_gso_size, int copy, struct tm_scratch *s,
					    const int direct)
{
	struct tm_packet *p = &s->p;
	__u32 off = 0;
	__u8 first;
	int status;

	if (direct && !copy && tm_paged_short(skb)) {
		/* tm_handle's per-CPU stats: s is that entry's scratch. */
		struct tm_percpu *cpu = (void *)s - __builtin_offsetof(struct tm_percpu, scratch);

		cpu->stats.paged++;
		copy = 1;
		/* tm_parse_copy reads skb->len afresh: this one, widened, the
		 * verifier would not take for its bound. */
		tm_forget();
	}
	if (copy) {
		if (tm_parse_copy(skb, l3_device, has_gso_size, s))
			return TM_PARSED;
		/* Cleared here, not by tm_handle, when the copy came first:
		 * its parse sets every field the flow code reads, and may
		 * have set some before it gave up. */
		__builtin_memset(p, 0, sizeof(*p));
	}

	if (l3_device) {
		/* No link-layer header: the IP version nibble says the family. */
		if (tm_load(skb, 0, &first, 1))
			return TM_NOT_IP;
		first >>= 4;
		if (first != 4 && first != 6)
			return TM_NOT_IP;
		s->ethertype = first == 4 ? ETH_P_IP : ETH_P_IPV6;
	} else {
		s->ethertype = tm_parse_l2(skb, &off);
		if (!s->ethertype)
			return TM_MALFORMED;
	}
	s->off = off;
	tm_forget(); /* one network-layer parser for every link layer */
	status = tm_parse_l3(skb, has_gso_size, s);
	if (status != TM_PARSED)
		return status;
	tm_forget();
	if (tm_parse_l4(skb, s)) {
		tm_forget();
		p->icmp_error = tm_parse_quoted(skb, s);
	}
	tm_forget();
	p->sig = tm_sig_of(s->ip_word, s->wire_len, p->t.proto, tm_l4_sig_word(p->t.proto, &s->head));
	tm_size(skb, has_gso_size, p, s->avail, s->l3_len + s->l4_len, s->wire_len);
	return p->l4_truncated ? TM_MALFORMED_L4 : TM_PARSED;
}

/* The general parse as BPF subprograms, not inlined: it is most of the
 * program's code, and out of line it no longer sits between the blocks of
 * the fast path (each entry point's own code is 10 KB of BPF instructions
 * instead of 23). Two of them, for the fast build and for the builds
 * without direct packet access: those must not hold tm_paged_short's
 * packet-pointer compares even where they never run, since a verifier
 * without CAP_PERFMON also checks the branches a constant argument rules
 * out (as speculative paths: 5.10 refuses the program). */
static __noinline int tm_parse_slow_direct(struct __sk_buff *skb, const int l3_device,
					   const int has_gso_size, const int copy,
					   struct tm_scratch *s)
{
	return tm_parse_general(skb, l3_device, has_gso_size, copy, s, 1);
}

static __noinline int tm_parse_slow(struct __sk_buff *skb, const int l3_device,
				    const int has_gso_size, const int copy, struct tm_scratch *s)
{
	return tm_parse_general(skb, l3_device, has_gso_size, copy, s, 0);
}

#endif

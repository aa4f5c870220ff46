/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing: link layer (Ethernet, up to two VLAN tags, PPPoE session,
 * or none), IPv4 with options, IPv6 with extension headers, the transport
 * ports, and the packet quoted by an ICMP error. Reads through direct packet
 * access only; a header that is not in the linear area is "truncated".
 */
#ifndef TM_BPF_PARSE_H
#define TM_BPF_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/*
 * Make the compiler reload from memory whatever it knew before this point.
 * With state kept in map memory (opaque to the verifier) this lets the
 * verifier's paths converge: see struct tm_scratch.
 */
#define tm_forget() asm volatile("" ::: "memory")

/* Offsets are clamped so the verifier can bound every packet pointer. */
#define TM_MAX_OFFSET 512
#define TM_MAX_IPV6_EXT 8

#define TM_ETH_P_8021Q 0x8100
#define TM_ETH_P_8021AD 0x88A8
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

/* A transport 4-tuple view: addresses + ports (network byte order). */
struct tm_tuple {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 proto;
};

struct tm_packet {
	struct tm_tuple t;     /* the packet's own addresses; ports if known */
	struct tm_tuple inner; /* ICMP errors: the quoted packet's tuple */
	__u32 frag_id;
	__u32 bytes;   /* IP bytes, all segments of an aggregate */
	__u32 packets; /* wire packets: GSO segments, else 1 */
	__u8 family;
	__u8 frag;	   /* enum tm_frag_kind */
	__u8 tcp_flags;
	__u8 has_ports;	   /* t.sport/t.dport were read from the packet */
	__u8 icmp_error;   /* inner is valid: count in the quoted packet's flow */
	__u8 l4_truncated; /* transport header named but not readable */
};

struct tm_cursor {
	void *data;
	void *data_end;
	__u32 off;
};

/* Pointer to `len` readable bytes at the cursor, or NULL. */
static __always_inline void *tm_peek(const struct tm_cursor *c, __u32 off, __u32 len)
{
	__u64 o = off;
	void *p;

	/* Check and use one 64-bit register: otherwise clang may fold the
	 * bound into an earlier addition or a separate zero-extension, and the
	 * verifier loses it. */
	asm volatile("" : "+r"(o));
	if (o > TM_MAX_OFFSET)
		return NULL;
	asm volatile("" : "+r"(o));
	p = c->data + o;
	if (p + len > c->data_end)
		return NULL;
	return p;
}

#define TM_PEEK(c, off, type) ((type *)tm_peek((c), (off), sizeof(type)))

struct tm_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct tm_pppoe_hdr {
	__u8 ver_type;
	__u8 code;
	__be16 session;
	__be16 length;
	__be16 ppp_proto;
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

struct tm_ipv6_ext {
	__u8 nexthdr;
	__u8 len;
	__be16 frag_off; /* fragment header only */
	__be32 id;	 /* fragment header only */
};

/* Declared here: linux/icmp.h pulls glibc headers under -target bpf. */
struct tm_icmp_hdr {
	__u8 type;
	__u8 code;
	__be16 check;
	__be16 id;
	__be16 seq;
};

struct tm_l4_ports {
	__be16 sport;
	__be16 dport;
};

/* The first 14 bytes of TCP, up to the flags. seq/ack as bytes: __be32
 * members would pad the struct to 16 and make 14- or 15-byte headers look
 * unreadable. */
struct tm_tcp_head {
	__be16 sport;
	__be16 dport;
	__u8 seq_ack[8];
	__u8 doff_res;
	__u8 flags;
};

/* Link layer: returns the ethertype of the network header, cursor on it. */
static __always_inline __u16 tm_parse_ethernet(struct tm_cursor *c)
{
	struct ethhdr *eth = TM_PEEK(c, 0, struct ethhdr);
	struct tm_vlan_hdr *vlan;
	struct tm_pppoe_hdr *pppoe;
	__u16 proto;
	int i;

	if (!eth)
		return 0;
	proto = bpf_ntohs(eth->h_proto);
	c->off = sizeof(*eth);
#pragma unroll
	for (i = 0; i < 2; i++) {
		if (proto != TM_ETH_P_8021Q && proto != TM_ETH_P_8021AD)
			break;
		vlan = TM_PEEK(c, c->off, struct tm_vlan_hdr);
		if (!vlan)
			return 0;
		proto = bpf_ntohs(vlan->proto);
		c->off += sizeof(*vlan);
	}
	if (proto == TM_ETH_P_PPP_SES) {
		pppoe = TM_PEEK(c, c->off, struct tm_pppoe_hdr);
		if (!pppoe)
			return 0;
		c->off += sizeof(*pppoe);
		switch (bpf_ntohs(pppoe->ppp_proto)) {
		case TM_PPP_IPV4:
			return ETH_P_IP;
		case TM_PPP_IPV6:
			return ETH_P_IPV6;
		default:
			/* LCP, IPCP, ...: not IP, and not malformed (0 would say so) */
			return TM_ETH_P_PPP_SES;
		}
	}
	return proto;
}

/* No link-layer header: the IP version nibble says the family. */
static __always_inline __u16 tm_parse_l3_device(struct tm_cursor *c)
{
	__u8 *b = TM_PEEK(c, 0, __u8);

	c->off = 0;
	if (!b)
		return 0;
	if ((*b >> 4) == 4)
		return ETH_P_IP;
	if ((*b >> 4) == 6)
		return ETH_P_IPV6;
	return 0;
}

/* Ports of a transport header at `off`; ICMP echo uses its identifier. */
static __always_inline int tm_read_ports(const struct tm_cursor *c, __u32 off, __u8 proto,
					 __u8 family, struct tm_tuple *t)
{
	struct tm_l4_ports *ports;
	struct tm_icmp_hdr *icmp;

	switch (proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case TM_IPPROTO_UDPLITE:
	case TM_IPPROTO_SCTP:
		ports = TM_PEEK(c, off, struct tm_l4_ports);
		if (!ports)
			return -1;
		t->sport = ports->sport;
		t->dport = ports->dport;
		return 0;
	case IPPROTO_ICMP:
	case TM_IPPROTO_ICMPV6:
		if ((proto == IPPROTO_ICMP) != (family == TM_FAMILY_IPV4))
			return 0;
		icmp = TM_PEEK(c, off, struct tm_icmp_hdr);
		if (!icmp)
			return -1;
		if ((family == TM_FAMILY_IPV4 && (icmp->type == 8 || icmp->type == 0)) ||
		    (family == TM_FAMILY_IPV6 && (icmp->type == 128 || icmp->type == 129))) {
			t->sport = icmp->id;
			t->dport = icmp->id;
		}
		return 0;
	default:
		return 0;
	}
}

static __always_inline int tm_is_icmp_error(__u8 family, __u8 type)
{
	if (family == TM_FAMILY_IPV4)
		return type == 3 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

struct tm_ipv6_walk {
	__u32 l4_off;
	__u32 frag_id;
	__u8 proto;
	__u8 frag; /* enum tm_frag_kind */
	__u8 ok;   /* chain ended at a transport (or non-first fragment) in bounds */
};

static __always_inline int tm_is_ipv6_ext(__u8 nexthdr)
{
	return nexthdr == TM_IPV6_HOPOPTS || nexthdr == TM_IPV6_ROUTING ||
	       nexthdr == TM_IPV6_DSTOPTS || nexthdr == TM_IPV6_AH || nexthdr == TM_IPV6_FRAGMENT;
}

/* Walk (w in map memory: struct tm_scratch) up to TM_MAX_IPV6_EXT extension headers from the fixed header at `off`. */
static __always_inline void tm_walk_ipv6(const struct tm_cursor *c, __u32 off, __u8 nexthdr,
					 struct tm_ipv6_walk *w)
{
	struct tm_ipv6_ext *ext;
	__u16 frag_off;
	int i;

	w->l4_off = off + sizeof(struct tm_ipv6_hdr);
	w->proto = nexthdr;
	w->frag = TM_FRAG_NONE;
	w->ok = 0;
#pragma unroll
	for (i = 0; i < TM_MAX_IPV6_EXT; i++) {
		/* w is map memory: every iteration starts from one verifier state
		 * whichever header the previous one was. */
		tm_forget();
		if (!tm_is_ipv6_ext(w->proto)) {
			w->ok = 1;
			return;
		}
		ext = tm_peek(c, w->l4_off, 2);
		if (!ext)
			return;
		if (w->proto == TM_IPV6_FRAGMENT) {
			ext = TM_PEEK(c, w->l4_off, struct tm_ipv6_ext);
			if (!ext)
				return;
			frag_off = bpf_ntohs(ext->frag_off);
			w->proto = ext->nexthdr;
			w->l4_off += 8;
			if (frag_off & 0xfff8) {
				w->frag = TM_FRAG_LATER;
				w->frag_id = bpf_ntohl(ext->id);
				w->ok = 1;
				return;
			}
			if (frag_off & 1) {
				w->frag = TM_FRAG_FIRST;
				w->frag_id = bpf_ntohl(ext->id);
			}
			continue;
		}
		if (w->proto == TM_IPV6_AH)
			w->l4_off += ((__u32)ext->len + 2) * 4;
		else
			w->l4_off += ((__u32)ext->len + 1) * 8;
		w->proto = ext->nexthdr;
	}
	/* TM_MAX_IPV6_EXT headers walked: fine if the last one leads to a transport. */
	w->ok = !tm_is_ipv6_ext(w->proto);
}


static __always_inline void tm_copy_v4(__u8 *dst, __be32 addr)
{
	__builtin_memset(dst, 0, 16);
	__builtin_memcpy(dst, &addr, 4);
}

/* The packet an ICMP error quotes, at `off`; 0 if it cannot be read. */
static __always_inline int tm_parse_quoted(const struct tm_cursor *c, __u32 off, __u8 family,
					   struct tm_tuple *t, struct tm_ipv6_walk *w)
{
	struct tm_ipv4_hdr *ip;
	struct tm_ipv6_hdr *ip6;

	if (family == TM_FAMILY_IPV4) {
		ip = TM_PEEK(c, off, struct tm_ipv4_hdr);
		if (!ip || (ip->ver_ihl >> 4) != 4 || (ip->ver_ihl & 0xf) < 5)
			return 0;
		tm_copy_v4(t->saddr, ip->saddr);
		tm_copy_v4(t->daddr, ip->daddr);
		t->proto = ip->proto;
		if (bpf_ntohs(ip->frag_off) & 0x1fff)
			return 1;
		tm_read_ports(c, off + (ip->ver_ihl & 0xf) * 4, t->proto, family, t);
		return 1;
	}
	ip6 = TM_PEEK(c, off, struct tm_ipv6_hdr);
	if (!ip6 || (bpf_ntohl(ip6->ver_tc_flow) >> 28) != 6)
		return 0;
	__builtin_memcpy(t->saddr, ip6->saddr, 16);
	__builtin_memcpy(t->daddr, ip6->daddr, 16);
	tm_walk_ipv6(c, off, ip6->nexthdr, w);
	t->proto = w->proto;
	if (w->ok && w->frag != TM_FRAG_LATER)
		tm_read_ports(c, w->l4_off, t->proto, family, t);
	return 1;
}

/*
 * Network and transport headers at c->off. Fills p; TM_MALFORMED when the IP
 * header cannot be trusted (then nothing is counted).
 */
static __always_inline int tm_parse_ip(struct __sk_buff *skb, struct tm_cursor *c, __u16 ethertype,
				       struct tm_packet *p, struct tm_ipv6_walk *w)
{
	struct tm_ipv4_hdr *ip;
	struct tm_ipv6_hdr *ip6;
	struct tm_tcp_head *tcp;
	struct tm_icmp_hdr *icmp;
	__u32 off = c->off, avail, l3_len, l4_len = 0, l4_off, wire_len, segs;
	int l4_ok = 1;

	if (off > TM_MAX_OFFSET || skb->len < off)
		return TM_MALFORMED;
	avail = skb->len - off;
	if (ethertype == ETH_P_IP) {
		ip = TM_PEEK(c, off, struct tm_ipv4_hdr);
		if (!ip || (ip->ver_ihl >> 4) != 4)
			return TM_MALFORMED;
		l3_len = (ip->ver_ihl & 0xf) * 4;
		wire_len = bpf_ntohs(ip->tot_len);
		if (l3_len < sizeof(*ip) || l3_len > avail)
			return TM_MALFORMED;
		p->family = TM_FAMILY_IPV4;
		tm_copy_v4(p->t.saddr, ip->saddr);
		tm_copy_v4(p->t.daddr, ip->daddr);
		p->t.proto = ip->proto;
		if (bpf_ntohs(ip->frag_off) & 0x1fff)
			p->frag = TM_FRAG_LATER;
		else if (bpf_ntohs(ip->frag_off) & 0x2000)
			p->frag = TM_FRAG_FIRST;
		p->frag_id = bpf_ntohs(ip->id);
		l4_off = off + l3_len;
		/* An aggregate's tot_len may be 0 (BIG TCP): skb->len decides. */
		if (skb->gso_segs <= 1 && wire_len < l3_len)
			return TM_MALFORMED;
	} else if (ethertype == ETH_P_IPV6) {
		ip6 = TM_PEEK(c, off, struct tm_ipv6_hdr);
		if (!ip6 || (bpf_ntohl(ip6->ver_tc_flow) >> 28) != 6)
			return TM_MALFORMED;
		p->family = TM_FAMILY_IPV6;
		__builtin_memcpy(p->t.saddr, ip6->saddr, 16);
		__builtin_memcpy(p->t.daddr, ip6->daddr, 16);
		wire_len = bpf_ntohs(ip6->payload_len);
		/* payload_len 0: jumbogram or BIG TCP aggregate */
		wire_len = wire_len ? wire_len + sizeof(*ip6) : avail;
		tm_walk_ipv6(c, off, ip6->nexthdr, w);
		p->t.proto = w->proto;
		p->frag = w->frag;
		p->frag_id = w->frag_id;
		l4_off = w->l4_off;
		l3_len = l4_off - off;
		l4_ok = w->ok;
	} else {
		return TM_NOT_IP;
	}

	if (!l4_ok) {
		p->l4_truncated = 1;
	} else if (p->frag != TM_FRAG_LATER) {
		/* TCP: ports, flags and header length from one read; a header
		 * cut short of its flags still has its ports. */
		tcp = p->t.proto == IPPROTO_TCP ? TM_PEEK(c, l4_off, struct tm_tcp_head) : NULL;
		if (tcp) {
			p->t.sport = tcp->sport;
			p->t.dport = tcp->dport;
			p->tcp_flags = tcp->flags;
			l4_len = (tcp->doff_res >> 4) * 4;
		} else if (tm_read_ports(c, l4_off, p->t.proto, p->family, &p->t) < 0) {
			p->l4_truncated = 1;
		}
		if (!p->l4_truncated)
			p->has_ports = p->t.sport || p->t.dport;
		if (p->t.proto == IPPROTO_UDP || p->t.proto == TM_IPPROTO_UDPLITE) {
			l4_len = 8;
		} else if (p->t.proto == IPPROTO_ICMP || p->t.proto == TM_IPPROTO_ICMPV6) {
			icmp = TM_PEEK(c, l4_off, struct tm_icmp_hdr);
			if (icmp && ((p->t.proto == IPPROTO_ICMP) == (p->family == TM_FAMILY_IPV4)) &&
			    tm_is_icmp_error(p->family, icmp->type))
				p->icmp_error = tm_parse_quoted(c, l4_off + sizeof(*icmp), p->family,
								&p->inner, w);
		}
	}

	segs = skb->gso_segs;
	if (segs > 1) {
		/* Every segment of an aggregate carries its own L3 and L4 headers. */
		p->packets = segs;
		p->bytes = avail + (segs - 1) * (l3_len + l4_len);
	} else {
		p->packets = 1;
		p->bytes = wire_len < avail ? wire_len : avail;
	}
	if (p->l4_truncated)
		return TM_MALFORMED_L4;
	return TM_PARSED;
}

#endif

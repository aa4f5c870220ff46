/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ABI shared by the TC BPF program (bpf/) and the control plane (src/):
 * every map key, map value and constant that crosses the boundary. Plain C,
 * fixed-width kernel types only; src/abi_layout.cpp static_asserts the
 * layout and tests/unit compare it with the object's BTF.
 *
 * Bump TM_ABI_VERSION on any change to a pinned map's key, value or type:
 * `load` refuses an object whose ABI differs from the pinned maps'.
 */
#ifndef TRAFFIC_METER_KERN_USER_H
#define TRAFFIC_METER_KERN_USER_H

#include <linux/types.h>

#define TM_ABI_VERSION 1

#define TM_DEFAULT_MAX_RULES 65536
#define TM_DEFAULT_MAX_FLOWS 65536
#define TM_MAX_FRAGS 8192
#define TM_MAX_ATTACHED 1024
#define TM_FLOW_CACHE_SLOTS 4096 /* per CPU, direct-mapped; power of two */
#define TM_FLOW_EPOCHS 65536	  /* buckets of tm_flow_epochs; power of two */

#define TM_FAMILY_NONE 0 /* free rule slot */
#define TM_FAMILY_IPV4 4
#define TM_FAMILY_IPV6 6

/* Key of tm_rules_v4: prefixlen first, as BPF_MAP_TYPE_LPM_TRIE requires;
 * addr in network byte order. */
struct tm_lpm_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct tm_lpm_v6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/*
 * A rule's place in the counter table. The serial is unique for the life of
 * the pinned state: a slot freed by `del` and later reused carries a new
 * serial, and the data plane adds to a slot only while the counters there
 * carry the serial it resolved, so a deleted rule's late packets never land
 * in a new rule's counters.
 */
struct tm_rule_ref {
	__u32 slot;
	__u32 serial;
};

/* tm_rule_slots[slot]: which rule owns a slot (family 0 = free). The control
 * plane reads rules back from this array (batched), not from the tries. */
struct tm_rule_slot {
	__u32 serial;
	__u8 family;
	__u8 prefixlen;
	__u16 pad;
	__u8 addr[16]; /* network byte order; IPv4 uses addr[0..3] */
};

/* tm_counters[slot], per CPU; readers sum the CPUs. */
struct tm_counters {
	__u32 serial;
	__u32 pad;
	__u64 up_packets;
	__u64 up_bytes;
	__u64 down_packets;
	__u64 down_bytes;
};

/*
 * tm_config[0]. The data plane reads only `generation`; the control plane
 * bumps it after every rule change so that flows re-resolve their cached
 * rules on their next packet.
 */
struct tm_config {
	__u64 generation;
	__u32 abi_version;
	__u32 max_rules;
	__u32 max_flows;
	__u32 next_serial;
	__u32 next_slot; /* next-fit cursor: freed slots are reused last */
	__u32 pad;
};

/*
 * Flow key, normalized: endpoint 0 is the smaller (address, port) of the
 * two, so both directions of a flow share one entry. For ICMP echo both
 * ports hold the identifier; for address-pair flows both are 0.
 */
struct tm_flow_key {
	__u8 addr[2][16];
	__u16 port[2]; /* network byte order */
	__u8 proto;
	__u8 family;
	__u16 pad;
};

struct tm_flow_value {
	__u64 generation;	   /* rule-set generation `rule` was resolved at */
	struct tm_rule_ref rule[2]; /* rule matched by endpoint 0 / 1; serial 0: none */
	__u8 originator;	   /* endpoint (0 or 1) that sent first */
	__u8 pad[7];
};

/* tm_flow_cache[slot], per CPU: a copy of a tm_flows entry, valid while
 * tm_flow_epochs[bucket of key] == epoch (see bpf/maps.h). */
struct tm_flow_cache_entry {
	struct tm_flow_key key;
	struct tm_flow_value value;
	__u32 epoch;
	__u32 hits;
};

/* Non-first fragments carry no ports: the first fragment records them here,
 * keyed by what identifies a datagram (RFC 791 / RFC 8200). */
struct tm_frag_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 id; /* host byte order */
	__u8 proto;
	__u8 family;
	__u16 pad;
};

struct tm_frag_value {
	__u16 sport; /* network byte order */
	__u16 dport;
};

/* tm_attached[ifindex]: interfaces this tool is attached to. The data plane
 * uses only the presence of the key (egress skips packets that entered
 * through an attached interface); the rest is for `status`. */
struct tm_attached_iface {
	__u64 attached_at; /* unix time, seconds */
	__u32 link_kind;   /* TM_LINK_* */
	__u32 pad;
};

#define TM_LINK_ETHERNET 1
#define TM_LINK_NONE 2 /* no link-layer header: tun, WireGuard, PPP */
/* Ethernet framing, ingress hook only: what leaves lo comes back in on lo,
 * so counting its egress too would count local traffic twice. */
#define TM_LINK_LOOPBACK 3

/* tm_stats[0], per CPU: self-accounting, shown by `status`. */
struct tm_stats {
	__u64 packets;		 /* every packet the program ran on */
	__u64 bytes;		 /* skb->len of those */
	__u64 egress_skipped;	 /* egress packets already counted at an attached ingress */
	__u64 not_ip;		 /* not IPv4/IPv6 (ARP, LLDP, ...) */
	__u64 malformed;	 /* truncated or inconsistent headers */
	__u64 no_rule;		 /* IP packets matched by no rule */
	__u64 counted;		 /* IP packets added to at least one rule */
	__u64 flow_insert_failed; /* flow table insert failed: counted, direction guessed */
};

#endif /* TRAFFIC_METER_KERN_USER_H */

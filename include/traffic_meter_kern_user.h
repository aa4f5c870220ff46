/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The ABI shared by the TC BPF program (bpf/) and the control plane (src/):
 * every map key, map value and constant that crosses the boundary. Plain C,
 * fixed-width kernel types only; src/util/abi_layout.cpp static_asserts the
 * layout and tests/unit compare it with the object's BTF.
 *
 * Bump TM_ABI_VERSION on any change to a pinned map's key, value or type,
 * and teach src/state/migrate.cpp to carry the previous version's rules and
 * counters over.
 */
#ifndef TRAFFIC_METER_KERN_USER_H
#define TRAFFIC_METER_KERN_USER_H

#include <linux/bpf.h> /* struct bpf_spin_lock */
#include <linux/types.h>

#define TM_ABI_VERSION 6

#define TM_DEFAULT_MAX_RULES 65536
#define TM_DEFAULT_MAX_FLOWS 262144
#define TM_MAX_FRAGS 8192
#define TM_MAX_IFACES 4096

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

/*
 * tm_rule_slots[slot]: which rule owns a slot, written by the control plane
 * only. It is also the journal of rule changes (docs/DESIGN.md, "Rule
 * changes"): a rule is visible to readers whose committed change id C has
 * added <= C and (deleted == 0 or deleted > C). `added` and `deleted` share
 * one aligned 8-byte word so a reader racing a write never sees half of it.
 */
struct tm_rule_slot {
	__u32 serial;
	__u8 family; /* TM_FAMILY_NONE: never used */
	__u8 prefixlen;
	__u16 pad;
	__u32 added;   /* change id that added the rule; 0 with family NONE */
	__u32 deleted; /* change id that deleted it (a tombstone); 0: not deleted */
	__u8 addr[16]; /* network byte order; IPv4 uses addr[0..3] */
	/*
	 * Added by readers to the counters summed over the CPUs, modulo 2^64;
	 * the data plane's counters are never rewritten while they may count.
	 * carried: what the kernel counted before this slot held the rule (a
	 * resize or migration moves counts in) minus what a reused slot held
	 * before (so a new rule starts at 0); the exporter shows counters plus
	 * carried. adjust: what `reset` takes away and `restore` puts back,
	 * shown by `show` and not by the exporter.
	 */
	__u64 carried[4]; /* up packets, up bytes, down packets, down bytes */
	__u64 adjust[4];
};

/* tm_counters[cpu * rule capacity + slot]: a rule's counters on one CPU
 * (a plain array, CPU-major, since ABI 6); readers sum the CPUs. */
struct tm_counters {
	__u32 serial;
	__u32 pad;
	__u64 up_packets;
	__u64 up_bytes;
	__u64 down_packets;
	__u64 down_bytes;
};

#define TM_STATE_MOUNTED_BPFFS 1 /* load mounted bpffs at the pin path */
#define TM_STATE_CREATED_DIR 2	 /* load created the pin directory */

/*
 * tm_config[0]: the state's identity and the control plane's bookkeeping.
 * The data plane reads only `rules_gen`, which the control plane bumps after
 * every committed rule change so that flows re-resolve their cached rules.
 */
struct tm_config {
	__u64 magic; /* TM_CONFIG_MAGIC: a traffic_meter state, not someone else's map */
	__u32 abi_version;
	__u32 rules_gen;
	__u32 committed;    /* id of the last committed rule change */
	__u32 pending;	    /* id of a rule change under way (0: none); rolled back if found */
	__u32 rewrite_seq;  /* bumped around rewrites a reader may overlap; readers retry */
	__u32 max_rules;
	__u32 max_flows;
	__u32 next_serial;
	__u32 next_slot;    /* next-fit cursor: freed slots are reused last */
	__u32 maps_gen;	    /* maps<N>/ under the pin path holds the sized maps */
	__u32 resize_gen;   /* maps<N>/ of a resize under way (0: none); rolled back if found */
	__u32 flags;	    /* TM_STATE_* */
	__u64 netns_dev;    /* network namespace the state belongs to (stat of /proc/self/ns/net) */
	__u64 netns_ino;
	__u64 instance_id;  /* random, chosen by the first load */
	__u64 created_at;   /* unix seconds */
	__u64 uppers_at;    /* when the upper-device records were last refreshed */
	__u64 restored;	    /* checksum of the state file `restore` added (once per boot) */
	__u32 slots_used;   /* high-water mark: slots from here on were never written, so
			       readers stop here instead of reading the whole capacity */
	__u32 pad;
};

#define TM_CONFIG_MAGIC 0x54524146464d5452ULL /* "TRAFFMTR" */

/*
 * Flow key, normalized: endpoint 0 is the smaller (address, port) of the
 * two, so both directions of a flow share one entry. For ICMP echo both
 * ports hold the identifier; for address-pair flows both are 0.
 */
struct tm_flow_key {
	__u8 addr[2][16] __attribute__((aligned(8))); /* copied in words, not bytes */
	__u16 port[2]; /* network byte order */
	__u8 proto;
	__u8 family;
	__u16 pad;
};

/* What the flow table keeps of a flow. 8-byte aligned (its offset in
 * struct tm_flow_entry already was), so a copy of it is three 8-byte moves,
 * not six 4-byte ones: the layout is unchanged. */
struct tm_flow_value {
	__u32 rules_gen __attribute__((aligned(8))); /* tm_config.rules_gen `rule` was resolved at */
	__u8 originator;	    /* endpoint (0 or 1) that sent first */
	__u8 pad[3];
	struct tm_rule_ref rule[2]; /* rule matched by endpoint 0 / 1; serial 0: none */
};

struct tm_flow_entry {
	struct tm_flow_key key;
	struct tm_flow_value value;
}; /* 64 bytes: one cache line */

/*
 * The flow table (bpf/flow.h; docs/DESIGN.md, "Flow table"): an array of
 * bucket heads that the data plane searches without a kernel call, and a
 * pool of entries they point to. A flow's bucket and tag come from
 * tm_flow_hash() of its key. Each bucket has TM_FLOW_WAYS ways for two-way
 * flows and TM_FLOW_NEW_WAYS for flows only one end has sent on: a flow is
 * born in a one-way way and moves with its first answer, so one-way churn
 * (a scan, a flood) never evicts a live two-way flow, whose entry holds its
 * direction. A full group gives up its least recently used way
 * (not-recently-used bits).
 *
 * Entries are handed out in the order ways first need one, so the flows a
 * host has fill the start of the pool, however large the table: at 64,000
 * flows a packet touches 4 MB of entries rather than lines spread over the
 * whole table (docs/BENCHMARKS.md, "Stop 17"). An entry once handed out
 * stays with its bucket: a flow's move to a two-way way swaps two ways'
 * entries, and a way emptied keeps its entry for the next flow. So a bucket
 * holds at most TM_FLOW_SLOTS entries and the pool never runs out.
 *
 * Writers (inserts, moves, updates) hold `lock` and make `seq` odd while
 * they write, the entries included; readers take no lock: they search,
 * copy, and retry under the lock if `seq` was odd or changed (a seqlock; on
 * CPUs that reorder loads the build reads under the lock, TM_LOCKED_READS).
 */
#define TM_FLOW_WAYS 4
#define TM_FLOW_NEW_WAYS 2
#define TM_FLOW_SLOTS (TM_FLOW_WAYS + TM_FLOW_NEW_WAYS)

struct tm_flow_bucket {
	struct bpf_spin_lock lock;
	__u32 seq;
	__u32 tag[TM_FLOW_SLOTS];   /* of the flow in the way; 0: empty */
	__u32 entry[TM_FLOW_SLOTS]; /* the way's entry in tm_flow_pool; 0: none yet */
	__u8 recent[TM_FLOW_SLOTS]; /* found since the group last needed a victim */
	__u8 pad[2];
}; /* 64 bytes: one cache line; two-way ways first, then one-way ways */

/* tm_flow_alloc[0]: entries 1..used of tm_flow_pool are handed out (entry 0
 * is never used). CPUs take them TM_FLOW_RESERVE at a time into their
 * tm_flow_reserve, and a resize packs the flows into the first ones. */
struct tm_flow_alloc {
	struct bpf_spin_lock lock;
	__u32 used;
};

#define TM_FLOW_RESERVE 64

/* tm_flow_reserve[0], per CPU: entries next..end-1 are this CPU's to hand out. */
struct tm_flow_reserve {
	__u32 next;
	__u32 end;
};

/*
 * Bucket and tag of a flow key, by the data plane and the control plane
 * alike (a resize places flows where the data plane will look). Sum of
 * independent multiplies of the key's five words by odd constants, mixed
 * once more: its high half picks the bucket (multiply-high: any bucket count), the low
 * half is the tag (never 0: 0 marks an empty slot).
 */
static inline __u64 tm_flow_hash(const __u64 w[5])
{
	__u64 h = w[0] * 0x9e3779b97f4a7c15ULL + w[1] * 0xc2b2ae3d27d4eb4fULL +
		  w[2] * 0x165667b19e3779f9ULL + w[3] * 0xd6e8feb86659fd93ULL +
		  w[4] * 0xff51afd7ed558ccdULL;

	/* The sum alone leaves the high bits poor for keys that differ in a
	 * few low bytes (200,000 such flows filled 35,000 of 65,536 buckets;
	 * 62,000 with this step). */
	h ^= h >> 32;
	return h * 0xd6e8feb86659fd93ULL;
}

static inline __u32 tm_flow_bucket_index(__u64 hash, __u32 buckets)
{
	return (__u32)(((hash >> 32) * buckets) >> 32);
}

/*
 * For 2^k buckets, tm_flow_bucket_index() is the hash's top k bits: its
 * multiply by 2^k is a shift, so hash >> (64 - k) finds the same bucket
 * with one multiply fewer on the chain from the key to the bucket (1.5-2.7%
 * of an established flow: docs/BENCHMARKS.md, "Stop 31"). The shift for a
 * table of `buckets`, or 0 when that is not a power of two (or is 1).
 */
static inline __u32 tm_flow_bucket_shift(__u32 buckets)
{
	if (buckets < 2 || (buckets & (buckets - 1)))
		return 0;
	return 64 - (__u32)__builtin_ctz(buckets);
}

static inline __u32 tm_flow_tag(__u64 hash) { return (__u32)hash | 1; }

/* Non-first fragments carry no ports: the first fragment records them here,
 * keyed by what identifies a datagram: source, destination, id and (IPv4,
 * RFC 791) protocol; IPv6 (RFC 8200) has no protocol in it: proto is 0. */
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
	__u8 proto; /* transport protocol of the datagram */
	__u8 pad[3];
};

/* What an interface is to the data plane (tm_ifaces[ifindex].role). */
#define TM_ROLE_ATTACHED 1	/* hooked by this instance: ingress counts */
#define TM_ROLE_UPPER 2		/* every lower device is attached: what comes in here was counted */
#define TM_ROLE_UPPER_PARTIAL 3 /* some lower devices are attached: ask the per-CPU record */

/*
 * tm_roles: the roles of tm_ifaces again, for every ifindex below
 * TM_ROLE_IFINDEXES, TM_ROLE_BITS each, TM_ROLES_PER_WORD to a __u64 word
 * (word ifindex / TM_ROLES_PER_WORD, bits from (ifindex % TM_ROLES_PER_WORD)
 * * TM_ROLE_BITS). The egress hook reads a role with an array lookup, which
 * the verifier inlines, instead of a hash lookup (a call and a jhash): what
 * a router pays a second time for every forwarded packet. Higher ifindexes
 * are looked up in tm_ifaces. The control plane writes both (ABI 5).
 */
#define TM_ROLE_BITS 2
#define TM_ROLES_PER_WORD 32
#define TM_ROLE_WORDS 2048
#define TM_ROLE_IFINDEXES (TM_ROLE_WORDS * TM_ROLES_PER_WORD)
#define TM_ROLE_MASK ((1u << TM_ROLE_BITS) - 1)

/* Where tm_roles keeps an ifindex's role: its word, and the role's shift
 * in that word. */
static inline __u32 tm_role_word(__u32 ifindex) { return ifindex / TM_ROLES_PER_WORD; }
static inline __u32 tm_role_shift(__u32 ifindex)
{
	return ifindex % TM_ROLES_PER_WORD * TM_ROLE_BITS;
}

#define TM_LINK_ETHERNET 1
#define TM_LINK_NONE 2 /* no link-layer header: tun, WireGuard, PPP */
/* Ethernet framing, ingress hook only: what leaves lo comes back in on lo,
 * so counting its egress too would count local traffic twice. */
#define TM_LINK_LOOPBACK 3

#define TM_ATTACH_NETLINK 1 /* tc filter on clsact */
#define TM_IFACE_CREATED_CLSACT 1 /* netlink: we created the clsact qdisc */
#define TM_ATTACH_TCX 2	    /* TCX link, pinned under the pin path */

/* tm_ifaces[ifindex]: interfaces attached by this instance and the upper
 * devices stacked on them. The data plane reads `role` only. */
struct tm_iface {
	__u32 role;	 /* TM_ROLE_* */
	__u32 link_kind; /* TM_LINK_*; attached interfaces only */
	__u32 attach_mode; /* TM_ATTACH_* */
	__u32 tc_priority; /* netlink: our filter's priority and handle */
	__u32 tc_handle;
	__u32 prog_id[2]; /* programs attached (ingress, egress) */
	__u32 flags;	  /* TM_IFACE_* */
	__u32 maps_gen;	  /* tm_config.maps_gen of the maps its programs use */
	__u32 pad;
	__u8 prog_tag[2][8];
	__u64 since;	  /* unix seconds */
	char name[16];	  /* the name it had when recorded */
};

/* tm_percpu[0]: self-accounting (read by `status` and the exporter, summed
 * over the CPUs) and what this CPU last counted at an attached ingress. */
struct tm_stats {
	__u64 packets;		  /* every packet the program ran on */
	__u64 bytes;		  /* skb->len of those */
	__u64 egress_skipped;	  /* egress packets already counted at an attached ingress */
	__u64 not_ip;		  /* not IPv4/IPv6 (ARP, LLDP, ...) */
	__u64 malformed;	  /* truncated or inconsistent headers */
	__u64 no_rule;		  /* IP packets matched by no rule */
	__u64 counted;		  /* IP packets added to at least one rule */
	__u64 flow_insert_failed; /* a flow the table could not keep (no bucket, no pool entry,
				     its ways changing under two lock attempts): counted,
				     direction from that packet alone */
	__u64 paged;		  /* headers read beyond the linear part of the buffer */
	__u64 gso_from_size;	  /* aggregates whose segments were counted from gso_size */
};

#define TM_SCRATCH_BYTES 512

struct tm_percpu {
	struct tm_stats stats;
	/* The packet last counted at an attached ingress on this CPU: a packet
	 * leaving through an egress hook with a partly attached upper device as
	 * its ingress interface was counted if it is that packet. */
	__u64 ingress_sig;
	/* The data plane's per-packet working state (struct tm_scratch in
	 * bpf/parse.h); opaque to the control plane. */
	__u8 scratch[TM_SCRATCH_BYTES];
};

#endif /* TRAFFIC_METER_KERN_USER_H */

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The dense flow table, measured before it is built (issue "Fast path";
 * docs/BENCHMARKS.md, "Stop 17"): inline_flow.bpf.c's work with the flow
 * entries in a pool, reached through 32-bit indexes kept beside the tags in
 * a 32-byte bucket head. Built twice from this file:
 *   pooled_flow  entries handed out in the order flows arrive, so 64,000
 *                flows fill the pool's first 4 MB;
 *   split_flow   (-DTM_BENCH_SPREAD) bucket b's way i always has entry
 *                4b + i: the same code and the same two lines a packet,
 *                with the entries spread over the whole 16 MB pool;
 *   head64_flow  (-DTM_BENCH_HEAD64) pooled_flow with the bucket head a
 *                pooled traffic_meter table would have: six ways, a lock,
 *                a sequence word and recently-used bytes, 64 bytes (4 MB
 *                of heads instead of 1), read as a seqlock, written under
 *                the lock.
 * A bench program only: inserts take no lock and the pool's counter is not
 * atomic, which a real table must not do.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bench_flow_key.h"
#include "bench_total.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#ifdef TM_BENCH_HEAD64
#define WAYS 6 /* traffic_meter's four two-way and two one-way ways */
#else
#define WAYS 4
#endif
#define BUCKETS 65536		 /* as inline_flow's */
#define POOL (BUCKETS * WAYS) /* 262,144 entries (4 ways), as minimal_flow's table */

struct entry {
	struct flow_key k;
	__u64 packets, last_seen, pad; /* 24 bytes of value, as traffic_meter's */
};

struct head {
#ifdef TM_BENCH_HEAD64
	/* traffic_meter's bucket head as ABI 4 would have it: one line */
	struct bpf_spin_lock lock;
	__u32 seq;
	__u8 recent[WAYS];
	__u8 pad[2];
#endif
	__u32 tag[WAYS];   /* 0: the way is empty */
	__u32 entry[WAYS]; /* its entry in the pool */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BUCKETS);
	__type(key, __u32);
	__type(value, struct head);
} heads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, POOL);
	__type(key, __u32);
	__type(value, struct entry);
} pool SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} pool_used SEC(".maps");

/* The entry a new flow in an empty way takes. */
static __always_inline __u32 new_entry(__u32 bucket, __u32 way)
{
#ifdef TM_BENCH_SPREAD
	return bucket * WAYS + way;
#else
	__u32 zero = 0, *used = bpf_map_lookup_elem(&pool_used, &zero), n;

	if (!used)
		return 0;
	n = *used;
	*used = n + 1 < POOL ? n + 1 : 0; /* full: start over (a bench never gets there) */
	return n;
#endif
}

SEC("tc")
int pooled_flow(struct __sk_buff *skb)
{
	struct flow_key k;
	struct entry *e = 0;
	struct head *h;
	__u32 zero = 0, idx, tag, way, n;
	__u64 hash, *t;
	int i;

	if (!ipv4_flow_key(skb, &k))
		return TC_ACT_UNSPEC;
	hash = flow_hash(&k);
	idx = (__u32)(hash >> 48);
	tag = (__u32)hash | 1;
	h = bpf_map_lookup_elem(&heads, &idx);
	if (!h)
		return TC_ACT_UNSPEC;
#ifdef TM_BENCH_HEAD64
	/* traffic_meter's lockless read (a seqlock) and locked insert */
	__u32 seq = *(volatile __u32 *)&h->seq;
#endif
#pragma unroll
	for (i = 0; i < WAYS; i++) {
		if (h->tag[i] == tag) {
			e = bpf_map_lookup_elem(&pool, &h->entry[i]);
			if (e && same(&e->k, &k)) {
#ifdef TM_BENCH_HEAD64
				if (!h->recent[i])
					h->recent[i] = 1;
#endif
				break;
			}
			e = 0;
		}
	}
#ifdef TM_BENCH_HEAD64
	if (e && *(volatile __u32 *)&h->seq != seq)
		e = 0;
#endif
	if (!e) {
		way = tag >> 30; /* a bench program only: no victim choice */
		n = h->tag[way] ? h->entry[way] : new_entry(idx, way);
		e = bpf_map_lookup_elem(&pool, &n);
		if (!e)
			return TC_ACT_UNSPEC;
		e->k = k;
		e->packets = 0;
#ifdef TM_BENCH_HEAD64
		bpf_spin_lock(&h->lock);
		h->seq++;
		h->entry[way] = n;
		h->tag[way] = tag;
		h->recent[way] = 0;
		h->seq++;
		bpf_spin_unlock(&h->lock);
#else
		h->entry[way] = n;
		h->tag[way] = tag;
#endif
	}
	e->packets++;
	e->last_seen = skb->tstamp;
	t = bpf_map_lookup_elem(&total, &zero);
	if (t)
		*t += skb->len;
	return TC_ACT_UNSPEC;
}

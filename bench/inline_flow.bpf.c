// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The next step's cost, measured before it is built (issue "Fast path"):
 * minimal_flow.bpf.c's work with a flow table the program looks up without
 * a kernel call. An array of 4-way buckets, our own multiply-shift hash of
 * the words that vary, the 40-byte key compared inline. A bench program
 * only: inserts take a way without a lock (two CPUs inserting into one
 * bucket at once could tear an entry), which a real table must not do.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bench_flow_key.h"
#include "bench_total.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define WAYS 4
#define BUCKETS 65536 /* 262,144 entries, as minimal_flow's table */

struct way {
	struct flow_key k;
	__u64 packets, last_seen, pad; /* 24 bytes of value, as traffic_meter's */
};

struct bucket {
	struct way way[WAYS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BUCKETS);
	__type(key, __u32);
	__type(value, struct bucket);
} buckets SEC(".maps");

SEC("tc")
int inline_flow(struct __sk_buff *skb)
{
	struct flow_key k;
	struct bucket *b;
	struct way *w = 0;
	__u32 zero = 0, idx;
	__u64 *t;
	int i;

	if (!ipv4_flow_key(skb, &k))
		return TC_ACT_UNSPEC;
	idx = (__u32)(flow_hash(&k) >> 48);
	b = bpf_map_lookup_elem(&buckets, &idx);
	if (!b)
		return TC_ACT_UNSPEC;
#pragma unroll
	for (i = 0; i < WAYS; i++) {
		if (same(&b->way[i].k, &k)) {
			w = &b->way[i];
			break;
		}
	}
	if (!w) {
		w = &b->way[idx & (WAYS - 1)]; /* no lock: a bench program only */
		w->k = k;
		w->packets = 0;
	}
	w->packets++;
	w->last_seen = skb->tstamp;
	t = bpf_map_lookup_elem(&total, &zero);
	if (t)
		*t += skb->len;
	return TC_ACT_UNSPEC;
}

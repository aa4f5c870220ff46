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
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bench_total.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define WAYS 4
#define BUCKETS 65536 /* 262,144 entries, as minimal_flow's table */

struct flow_key {
	__u64 w[5]; /* saddr[16] daddr[16] sport dport proto pad: minimal_flow's key */
};

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

static __always_inline int same(const struct flow_key *a, const struct flow_key *b)
{
	return ((a->w[0] ^ b->w[0]) | (a->w[1] ^ b->w[1]) | (a->w[2] ^ b->w[2]) |
		(a->w[3] ^ b->w[3]) | (a->w[4] ^ b->w[4])) == 0;
}

SEC("tc")
int inline_flow(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	struct flow_key k = {};
	struct bucket *b;
	struct way *w = 0;
	__u32 zero = 0, idx, saddr, daddr, ports;
	__u64 *t;
	int i;

	if (data + ETH_HLEN + 20 + 4 > data_end)
		return TC_ACT_UNSPEC;
	if (*(__u16 *)(data + 12) != __builtin_bswap16(ETH_P_IP) || *(__u8 *)(data + 14) != 0x45)
		return TC_ACT_UNSPEC;
	saddr = *(__u32 *)(data + 26);
	daddr = *(__u32 *)(data + 30);
	ports = *(__u32 *)(data + 34);
	k.w[0] = saddr;
	k.w[2] = daddr;
	k.w[4] = (__u64)ports | (__u64)*(__u8 *)(data + 23) << 32;
	idx = (__u32)((((__u64)saddr << 32 | daddr) * 0x9e3779b97f4a7c15ULL ^
		       k.w[4] * 0xc2b2ae3d27d4eb4fULL) >> 48);
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

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The flow key, its parse and its hash, as the bench's inline flow tables
 * (inline_flow.bpf.c, pooled_flow.bpf.c) share them: minimal_flow's
 * 40-byte key, from Ethernet + IPv4 frames without options. */
#ifndef TM_BENCH_FLOW_KEY_H
#define TM_BENCH_FLOW_KEY_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct flow_key {
	__u64 w[5]; /* saddr[16] daddr[16] sport dport proto pad: minimal_flow's key */
};

/* 1 and the key of an Ethernet + IPv4 frame (no options) with 4 bytes of
 * ports; 0 for any other frame. */
static __always_inline int ipv4_flow_key(struct __sk_buff *skb, struct flow_key *k)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;

	if (data + ETH_HLEN + 20 + 4 > data_end)
		return 0;
	if (*(__u16 *)(data + 12) != __builtin_bswap16(ETH_P_IP) || *(__u8 *)(data + 14) != 0x45)
		return 0;
	__builtin_memset(k, 0, sizeof(*k));
	k->w[0] = *(__u32 *)(data + 26); /* saddr */
	k->w[2] = *(__u32 *)(data + 30); /* daddr */
	k->w[4] = (__u64)*(__u32 *)(data + 34) | (__u64)*(__u8 *)(data + 23) << 32;
	return 1;
}

/* Multiply-shift over the words an IPv4 key fills. */
static __always_inline __u64 flow_hash(const struct flow_key *k)
{
	return (k->w[0] << 32 | k->w[2]) * 0x9e3779b97f4a7c15ULL ^ k->w[4] * 0xc2b2ae3d27d4eb4fULL;
}

static __always_inline int same(const struct flow_key *a, const struct flow_key *b)
{
	return ((a->w[0] ^ b->w[0]) | (a->w[1] ^ b->w[1]) | (a->w[2] ^ b->w[2]) |
		(a->w[3] ^ b->w[3]) | (a->w[4] ^ b->w[4])) == 0;
}

#endif

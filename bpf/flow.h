/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Flow keys and direction: which endpoint originated a flow (SPEC §3). */
#ifndef TM_BPF_FLOW_H
#define TM_BPF_FLOW_H

#include "maps.h"
#include "parse.h"

/* Any total order serves: it only has to put both directions of a flow on
 * one key. Raw words avoid byte swaps. */
static __always_inline int tm_endpoint_less(const __u8 *a, __u16 aport, const __u8 *b, __u16 bport)
{
	__u32 x, y;
	int i;

#pragma unroll
	for (i = 0; i < 4; i++) {
		__builtin_memcpy(&x, a + 4 * i, 4);
		__builtin_memcpy(&y, b + 4 * i, 4);
		if (x != y)
			return x < y;
	}
	return aport < bport;
}

/* Normalized key of a tuple; returns the endpoint (0 or 1) of its sender. */
static __always_inline __u8 tm_flow_key_of(const struct tm_tuple *t, __u8 family,
					   struct tm_flow_key *k)
{
	__u8 sender = tm_endpoint_less(t->daddr, t->dport, t->saddr, t->sport);

	/* Constant indexes only: the verifier rejects variable stack offsets. */
	if (sender) {
		__builtin_memcpy(k->addr[0], t->daddr, 16);
		__builtin_memcpy(k->addr[1], t->saddr, 16);
		k->port[0] = t->dport;
		k->port[1] = t->sport;
	} else {
		__builtin_memcpy(k->addr[0], t->saddr, 16);
		__builtin_memcpy(k->addr[1], t->daddr, 16);
		k->port[0] = t->sport;
		k->port[1] = t->dport;
	}
	k->proto = t->proto;
	k->family = family;
	k->pad = 0;
	return sender;
}

/* TCP SYN names the originator whatever the table remembers: SYN alone is
 * a new connection from its sender, SYN+ACK answers one from its receiver. */
static __always_inline int tm_syn_originator(__u8 tcp_flags, __u8 sender)
{
	if (!(tcp_flags & TM_TCP_SYN))
		return -1;
	return (tcp_flags & TM_TCP_ACK) ? !sender : sender;
}

static __always_inline void tm_frag_key_of(const struct tm_packet *p, struct tm_frag_key *k)
{
	__builtin_memcpy(k->saddr, p->t.saddr, 16);
	__builtin_memcpy(k->daddr, p->t.daddr, 16);
	k->id = p->frag_id;
	k->proto = p->t.proto;
	k->family = p->family;
	k->pad = 0;
}

/* First fragments teach the table their ports; later ones borrow them. */
static __always_inline void tm_track_fragment(struct tm_packet *p)
{
	struct tm_frag_key fk;
	struct tm_frag_value fv, *known;

	if (p->frag == TM_FRAG_NONE)
		return;
	tm_frag_key_of(p, &fk);
	if (p->frag == TM_FRAG_FIRST) {
		if (!p->has_ports)
			return;
		fv.sport = p->t.sport;
		fv.dport = p->t.dport;
		bpf_map_update_elem(&tm_frags, &fk, &fv, BPF_ANY);
		return;
	}
	known = bpf_map_lookup_elem(&tm_frags, &fk);
	if (!known)
		return;
	p->t.sport = known->sport;
	p->t.dport = known->dport;
	p->has_ports = 1;
}

#endif

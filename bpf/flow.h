/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Flows and direction: which endpoint originated a flow (SPEC §3), and the
 * fragments that borrow their first fragment's ports. */
#ifndef TM_BPF_FLOW_H
#define TM_BPF_FLOW_H

#include "maps.h"
#include "parse.h"
#include "account.h"

/* Any total order serves: it only has to put both directions of a flow on
 * one key. Raw words avoid byte swaps. */
static __always_inline int tm_endpoint_less(const __u8 *a, __u16 aport, const __u8 *b, __u16 bport)
{
	__u32 x, y;
	int i;

#pragma unroll
	for (i = 0; i < 4; i++) {
		__builtin_memcpy(&x, TM_CADDR(a) + 4 * i, 4);
		__builtin_memcpy(&y, TM_CADDR(b) + 4 * i, 4);
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

static __always_inline void tm_resolve(struct tm_scratch *s, struct tm_flow_value *fv,
				       const struct tm_flow_key *k, __u32 rules_gen)
{
	fv->rule[0] = tm_match_rule(s, k->family, k->addr[0]);
	fv->rule[1] = tm_match_rule(s, k->family, k->addr[1]);
	fv->rules_gen = rules_gen;
}

/*
 * The entry of the flow whose key is s->fkey in either table, or NULL.
 * Each CPU looks first in the table it last found a flow in: a stream of
 * one-way flows (a UDP flood, a scan) lives in tm_flows_new and then costs
 * one lookup a packet instead of two; two-way traffic switches the order
 * back. Only the order depends on the hint. On a hit, s->new_first says
 * where the entry is (0: tm_flows, a two-way flow).
 */
static __always_inline struct tm_flow_value *tm_find_flow(struct tm_scratch *s)
{
	const struct tm_flow_key *k = &s->fkey;
	struct tm_flow_value *fv;

	if (s->new_first) {
		fv = bpf_map_lookup_elem(&tm_flows_new, k);
		if (fv)
			return fv;
		fv = bpf_map_lookup_elem(&tm_flows, k);
		if (fv)
			s->new_first = 0;
		return fv;
	}
	fv = bpf_map_lookup_elem(&tm_flows, k);
	if (fv)
		return fv;
	fv = bpf_map_lookup_elem(&tm_flows_new, k);
	if (fv)
		s->new_first = 1;
	return fv;
}

/*
 * The flow of the packet whose key is s->fkey, created or moved as needed,
 * with its rules resolved at rules_gen. A flow is born in tm_flows_new and
 * moves to tm_flows with the first packet its originator did not send.
 * s->fval is the copy used when the entry cannot stay in (or get into) a
 * table.
 */
static __always_inline struct tm_flow_value *tm_flow_of(struct tm_scratch *s, __u8 sender, int syn,
							__u32 rules_gen, struct tm_stats *stats)
{
	const struct tm_flow_key *k = &s->fkey;
	struct tm_flow_value *fresh = &s->fval;
	struct tm_flow_value *fv = tm_find_flow(s);

	if (fv && !s->new_first) { /* two-way */
		if (syn >= 0 && fv->originator != syn)
			fv->originator = syn; /* a new connection on a reused 5-tuple */
		return fv;
	}
	if (fv) {
		if (syn >= 0)
			fv->originator = syn;
		if (sender == fv->originator)
			return fv;
		/* The first answer: a two-way flow now, out of one-way churn's reach. */
		__builtin_memcpy(fresh, fv, sizeof(*fresh));
		if (fresh->rules_gen != rules_gen)
			tm_resolve(s, fresh, k, rules_gen);
		if (bpf_map_update_elem(&tm_flows, k, fresh, BPF_ANY) == 0)
			bpf_map_delete_elem(&tm_flows_new, k);
		return fresh;
	}
	__builtin_memset(fresh, 0, sizeof(*fresh));
	fresh->originator = syn >= 0 ? syn : sender;
	tm_resolve(s, fresh, k, rules_gen);
	if (bpf_map_update_elem(&tm_flows_new, k, fresh, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&tm_flows_new, k)) /* not another CPU's insert */
		stats->flow_insert_failed++;
	return fresh;
}

/* Counts a packet in its flow's direction; returns 1 if a rule was added to. */
static __always_inline int tm_count_flow(struct tm_scratch *s, __u32 rules_gen,
					 struct tm_stats *stats)
{
	const struct tm_packet *p = &s->p;
	struct tm_flow_value *fv;
	__u8 sender = tm_flow_key_of(&p->t, p->family, &s->fkey);

	fv = tm_flow_of(s, sender, tm_syn_originator(p->tcp_flags, sender), rules_gen, stats);
	if (fv->rules_gen != rules_gen)
		tm_resolve(s, fv, &s->fkey, rules_gen);
	if (sender)
		return tm_add_pair(s, &fv->rule[1], &fv->rule[0], fv->originator == 1, p->packets,
				   p->bytes);
	return tm_add_pair(s, &fv->rule[0], &fv->rule[1], fv->originator == 0, p->packets,
			   p->bytes);
}

/* ICMP errors count in the flow they quote, towards the quoted packet's
 * sender; their rules are those of their own addresses (a router that sends
 * "time exceeded" is no endpoint of the flow), so nothing is cached. */
static __always_inline int tm_count_icmp_error(struct tm_scratch *s)
{
	const struct tm_packet *p = &s->p;
	struct tm_flow_value *fv;
	__u8 quoted_sender = tm_flow_key_of(&p->inner, p->family, &s->fkey);
	__u8 originator;

	fv = tm_find_flow(s);
	/* Unknown flow: the quoted packet was its first, so its sender originated it. */
	originator = fv ? fv->originator : quoted_sender;
	s->ref[0] = tm_match_rule(s, p->family, p->t.saddr);
	s->ref[1] = tm_match_rule(s, p->family, p->t.daddr);
	return tm_add_pair(s, &s->ref[0], &s->ref[1], quoted_sender != originator, p->packets,
			   p->bytes);
}

static __always_inline void tm_frag_key_of(const struct tm_packet *p, struct tm_frag_key *k)
{
	__builtin_memcpy(k->saddr, p->t.saddr, 16);
	__builtin_memcpy(k->daddr, p->t.daddr, 16);
	k->id = p->frag_id;
	/* RFC 8200 names a datagram by addresses and id alone; and a later
	 * fragment's next header may be AH or options, not the transport. */
	k->proto = p->family == TM_FAMILY_IPV4 ? p->t.proto : 0;
	k->family = p->family;
	k->pad = 0;
}

/* First fragments teach the table their ports; later ones borrow them. */
static __always_inline void tm_track_fragment(struct tm_scratch *s)
{
	struct tm_packet *p = &s->p;
	struct tm_frag_value *known;

	if (p->frag == TM_FRAG_NONE)
		return;
	tm_frag_key_of(p, &s->frag_key);
	if (p->frag == TM_FRAG_FIRST) {
		if (!p->has_ports)
			return;
		__builtin_memset(&s->frag_val, 0, sizeof(s->frag_val));
		s->frag_val.sport = p->t.sport;
		s->frag_val.dport = p->t.dport;
		s->frag_val.proto = p->t.proto;
		bpf_map_update_elem(&tm_frags, &s->frag_key, &s->frag_val, BPF_ANY);
		return;
	}
	known = bpf_map_lookup_elem(&tm_frags, &s->frag_key);
	if (!known)
		return;
	p->t.sport = known->sport;
	p->t.dport = known->dport;
	p->t.proto = known->proto;
	p->has_ports = 1;
}

#endif

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Rule resolution (longest prefix match) and per-rule counters. Keys are
 * built in the per-CPU scratch (struct tm_scratch says why). */
#ifndef TM_BPF_ACCOUNT_H
#define TM_BPF_ACCOUNT_H

#include "maps.h"
#include "parse.h"

static __always_inline struct tm_rule_ref tm_match_rule(struct tm_scratch *s, __u8 family,
							const __u8 *addr)
{
	struct tm_rule_ref none = {}, *ref;

	if (family == TM_FAMILY_IPV4) {
		s->k4.prefixlen = 32;
		__builtin_memcpy(s->k4.addr, TM_CADDR(addr), 4);
		ref = bpf_map_lookup_elem(&tm_rules_v4, &s->k4);
	} else {
		s->k6.prefixlen = 128;
		__builtin_memcpy(s->k6.addr, TM_CADDR(addr), 16);
		ref = bpf_map_lookup_elem(&tm_rules_v6, &s->k6);
	}
	return ref ? *ref : none;
}

/*
 * Adds to a rule's counters if the slot still belongs to the rule the
 * caller resolved (see struct tm_rule_ref). Returns 1 if it added.
 * A branch on `up`, two read-modify-writes: the masked adds to all four
 * fields this replaced cost 3-5% of an established flow's time (stop 25).
 * The branches stay apart, each with constant field offsets, because of
 * -simplifycfg-sink-common=false (bpf/meson.build): merged, they would add
 * a branch-dependent offset to the pointer, which the verifier refuses
 * without CAP_PERFMON.
 */
static __always_inline int tm_add(struct tm_scratch *s, const struct tm_rule_ref *ref, int up,
				  __u32 packets, __u32 bytes)
{
	struct tm_counters *c;

	if (!ref->serial)
		return 0;
	s->u32key = s->cpu_base + ref->slot;
	c = bpf_map_lookup_elem(&tm_counters, &s->u32key);
	if (!c || c->serial != ref->serial)
		return 0;
	if (up) {
		c->up_packets += packets;
		c->up_bytes += bytes;
	} else {
		c->down_packets += packets;
		c->down_bytes += bytes;
	}
	return 1;
}

/* A packet adds once to its source's rule and once to its destination's,
 * and only once when both are the same rule. */
static __always_inline int tm_add_pair(struct tm_scratch *s, const struct tm_rule_ref *src,
				       const struct tm_rule_ref *dst, int up, __u32 packets,
				       __u32 bytes)
{
	int added = tm_add(s, src, up, packets, bytes);

	if (dst->slot != src->slot || dst->serial != src->serial)
		added |= tm_add(s, dst, up, packets, bytes);
	return added;
}

#endif

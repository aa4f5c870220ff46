// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * traffic_meter data plane: counts IP bytes and packets per rule (CIDR),
 * upstream and downstream, at the TC ingress and egress hooks. A passive
 * observer: every path returns TC_ACT_UNSPEC so the next classifier runs.
 *
 * Four entry points, chosen at attach time so the packet path has no
 * branch for them: {ingress, egress} x {Ethernet, no link-layer header}.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "traffic_meter_kern_user.h"
#include "maps.h"
#include "parse.h"
#include "flow.h"
#include "account.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline void tm_resolve(struct tm_flow_value *fv, const struct tm_flow_key *k,
				       __u64 generation)
{
	fv->rule[0] = tm_match_rule(k->family, k->addr[0]);
	fv->rule[1] = tm_match_rule(k->family, k->addr[1]);
	fv->generation = generation;
}

/* ICMP errors count in the flow they quote, towards the quoted packet's
 * sender; their rules are those of their own addresses (a router that sends
 * "time exceeded" is no endpoint of the flow), so nothing is cached. */
static __always_inline int tm_count_icmp_error(struct tm_packet *p)
{
	struct tm_flow_key key;
	struct tm_flow_value *fv;
	struct tm_rule_ref src, dst;
	__u8 quoted_sender = tm_flow_key_of(&p->inner, p->family, &key);
	__u8 originator;

	fv = bpf_map_lookup_elem(&tm_flows, &key);
	/* Unknown flow: the quoted packet was its first, so its sender originated it. */
	originator = fv ? fv->originator : quoted_sender;
	src = tm_match_rule(p->family, p->t.saddr);
	dst = tm_match_rule(p->family, p->t.daddr);
	return tm_add_pair(&src, &dst, quoted_sender != originator, p->packets, p->bytes);
}

#define TM_FLOW_KEY_WORDS ((int)(sizeof(struct tm_flow_key) / 4))

/* Cheap and good enough to spread flows over cache slots and epoch buckets. */
static __always_inline __u32 tm_flow_hash(const __u32 *w)
{
	__u32 h = 0;
	int i;

#pragma unroll
	for (i = 0; i < TM_FLOW_KEY_WORDS; i++)
		h = (h ^ w[i]) * 0x9e3779b1;
	return h ^ (h >> 15);
}

static __always_inline int tm_flow_key_equal(const __u32 *a, const __u32 *b)
{
	__u32 diff = 0;
	int i;

#pragma unroll
	for (i = 0; i < TM_FLOW_KEY_WORDS; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

static __always_inline int tm_count_flow(struct tm_packet *p, struct tm_stats *stats)
{
	union {
		struct tm_flow_key k;
		__u32 w[TM_FLOW_KEY_WORDS];
	} key;
	struct tm_flow_value fresh = {}, *fv;
	struct tm_flow_cache_entry *ce;
	struct tm_config *cfg;
	__u32 zero = 0, hash, bucket, slot, *epoch, epoch_seen;
	__u64 generation;
	__u8 sender;
	int want, bump = 0;

	cfg = bpf_map_lookup_elem(&tm_config, &zero);
	generation = cfg ? cfg->generation : 0;
	sender = tm_flow_key_of(&p->t, p->family, &key.k);
	want = tm_syn_originator(p->tcp_flags, sender);

	hash = tm_flow_hash(key.w);
	bucket = hash & (TM_FLOW_EPOCHS - 1);
	slot = (hash >> 16) & (TM_FLOW_CACHE_SLOTS - 1);
	epoch = bpf_map_lookup_elem(&tm_flow_epochs, &bucket);
	ce = bpf_map_lookup_elem(&tm_flow_cache, &slot);
	if (!epoch || !ce)
		return 0;
	/* Read before tm_flows: a copy made from an older entry is then
	 * tagged with an older epoch, never a newer one. */
	epoch_seen = *(volatile __u32 *)epoch;
	tm_forget();

	/* SYN packets may change the originator: always through tm_flows. */
	if (want < 0 && ce->epoch == epoch_seen && ce->value.generation == generation &&
	    tm_flow_key_equal((const __u32 *)&ce->key, key.w)) {
		fv = &ce->value;
		/* Touch the entry now and then, or the LRU takes busy flows for
		 * idle ones; put it back if it was evicted all the same (it is
		 * what the entry said: no epoch to bump). */
		if ((++ce->hits & 63) == 0 && !bpf_map_lookup_elem(&tm_flows, &key.k))
			bpf_map_update_elem(&tm_flows, &key.k, &ce->value, BPF_NOEXIST);
		goto count;
	}

	fv = bpf_map_lookup_elem(&tm_flows, &key.k);
	if (!fv) {
		fresh.originator = want >= 0 ? want : sender;
		tm_resolve(&fresh, &key.k, generation);
		if (bpf_map_update_elem(&tm_flows, &key.k, &fresh, BPF_NOEXIST) == 0) {
			fv = &fresh;
			bump = 1;
		} else {
			fv = bpf_map_lookup_elem(&tm_flows, &key.k); /* another CPU won */
		}
		if (!fv) {
			stats->flow_insert_failed++;
			fv = &fresh;
			goto count; /* not in tm_flows: nothing to copy */
		}
	}
	if (want >= 0 && fv->originator != want) {
		fv->originator = want;
		bump = 1;
	}
	if (fv->generation != generation)
		tm_resolve(fv, &key.k, generation);
	if (bump) {
		/* Copies on every CPU are stale now, this one's included: generation
		 * 0 never matches (the control plane starts at 1). */
		__sync_fetch_and_add(epoch, 1);
		ce->value.generation = 0;
	} else {
		__builtin_memcpy(&ce->key, &key.k, sizeof(key.k));
		__builtin_memcpy(&ce->value, fv, sizeof(*fv));
		ce->epoch = epoch_seen;
	}
count:
	if (sender)
		return tm_add_pair(&fv->rule[1], &fv->rule[0], fv->originator == 1, p->packets,
				   p->bytes);
	return tm_add_pair(&fv->rule[0], &fv->rule[1], fv->originator == 0, p->packets, p->bytes);
}

static __always_inline int tm_handle(struct __sk_buff *skb, int l3_device, int egress)
{
	struct tm_cursor c = {
		.data = (void *)(long)skb->data,
		.data_end = (void *)(long)skb->data_end,
	};
	struct tm_scratch *s;
	struct tm_packet *p;
	struct tm_stats *stats;
	__u32 zero = 0, ifindex = skb->ingress_ifindex;
	int counted;

	stats = bpf_map_lookup_elem(&tm_stats, &zero);
	s = bpf_map_lookup_elem(&tm_scratch, &zero);
	if (!stats || !s)
		return TC_ACT_UNSPEC;
	stats->packets++;
	stats->bytes += skb->len;

	/* Once per host: a packet that came in through an attached interface
	 * was counted at its ingress. */
	if (egress && ifindex && bpf_map_lookup_elem(&tm_attached, &ifindex)) {
		stats->egress_skipped++;
		return TC_ACT_UNSPEC;
	}

	s->ethertype = l3_device ? tm_parse_l3_device(&c) : tm_parse_ethernet(&c);
	s->off = c.off;
	tm_forget(); /* one IP parser for every link-layer variant */
	c.off = s->off;
	if (!s->ethertype) {
		if (l3_device)
			stats->not_ip++;
		else
			stats->malformed++;
		return TC_ACT_UNSPEC;
	}
	p = &s->p;
	__builtin_memset(p, 0, sizeof(*p));
	s->status = tm_parse_ip(skb, &c, s->ethertype, p, &s->walk);
	tm_forget(); /* one flow and counter path for every parse outcome */
	switch (s->status) {
	case TM_NOT_IP:
		stats->not_ip++;
		return TC_ACT_UNSPEC;
	case TM_MALFORMED:
		stats->malformed++;
		return TC_ACT_UNSPEC;
	case TM_MALFORMED_L4:
		stats->malformed++;
		break;
	default:
		break;
	}

	if (p->icmp_error) {
		counted = tm_count_icmp_error(p);
	} else {
		tm_track_fragment(p);
		counted = tm_count_flow(p, stats);
	}
	if (counted)
		stats->counted++;
	else
		stats->no_rule++;
	return TC_ACT_UNSPEC;
}

SEC("tc")
int tm_ingress_eth(struct __sk_buff *skb)
{
	return tm_handle(skb, 0, 0);
}

SEC("tc")
int tm_egress_eth(struct __sk_buff *skb)
{
	return tm_handle(skb, 0, 1);
}

SEC("tc")
int tm_ingress_l3(struct __sk_buff *skb)
{
	return tm_handle(skb, 1, 0);
}

SEC("tc")
int tm_egress_l3(struct __sk_buff *skb)
{
	return tm_handle(skb, 1, 1);
}

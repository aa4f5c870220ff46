// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * traffic_meter data plane: counts IP bytes and packets per rule (CIDR),
 * upstream and downstream, at the TC ingress and egress hooks. A passive
 * observer: every path returns TC_ACT_UNSPEC (TCX_NEXT under TCX), so the
 * next program or classifier runs and the packet goes on unchanged.
 *
 * Entry points, chosen at attach time so the packet path has no branch for
 * them: {ingress, egress} x {Ethernet, no link-layer header}, each in three
 * builds, of which `load` takes the one this kernel's verifier accepts with
 * the caller's privileges (src/bpf/kernel_features.cpp finds out by trying):
 *   tm_*          direct packet access for the common packets (the fast
 *                 path), __sk_buff.gso_size (Linux 5.7);
 *   tm_*_slow     the packet read through bpf_skb_load_bytes, the common
 *                 packets' headers in one copy: kernels that compare no
 *                 packet pointers without CAP_PERFMON (5.10);
 *   tm_*_compat   that, and no gso_size (before 5.7).
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

/*
 * Once per host (SPEC §3): at egress, a packet that came in through an
 * attached interface was counted there. By egress the kernel names the
 * upper device (bridge, VLAN, bond, macvlan) it was last received on, so
 * tm_ifaces records those too: an upper device all of whose lower devices
 * are attached means "counted"; one with unattached lower devices as well
 * cannot say, and the packet is compared with the one this CPU last
 * counted at an attached ingress (forwarding runs on the receiving CPU, in
 * one go, from the ingress hook to the egress hook).
 */
static __always_inline __u32 tm_ingress_role(struct __sk_buff *skb, struct tm_scratch *s)
{
	struct tm_iface *iface;
	__u32 ifindex = skb->ingress_ifindex;
	__u64 *word;

	if (!ifindex)
		return 0; /* generated here */
	/* tm_roles first: an inlined array lookup, NULL past its end. */
	s->u32key = tm_role_word(ifindex);
	word = bpf_map_lookup_elem(&tm_roles, &s->u32key);
	if (word)
		return (*word >> tm_role_shift(ifindex)) & TM_ROLE_MASK;
	s->u32key = ifindex;
	iface = bpf_map_lookup_elem(&tm_ifaces, &s->u32key);
	return iface ? iface->role : 0;
}

/*
 * From a parsed packet (s->p) on: the upper-device check at egress, then
 * the packet's flow and rules' counters. tm_handle() inlines it twice:
 * after the fast parse, where the compiler keeps what the parse found in
 * registers and drops what that parse never sets (ICMP errors, fragments),
 * and after the general parse and tm_forget(), where every input is read
 * back from the scratch.
 */
static __always_inline void tm_count_parsed(struct tm_percpu *cpu, struct tm_scratch *s,
					    const int egress, __u32 role, __u32 rules_gen)
{
	struct tm_packet *p = &s->p;
	struct tm_stats *stats = &cpu->stats;
	int counted;

	if (egress && role == TM_ROLE_UPPER_PARTIAL && p->sig == cpu->ingress_sig) {
		cpu->ingress_sig = 0;
		stats->egress_skipped++;
		return;
	}
	if (!egress)
		cpu->ingress_sig = p->sig;
	if (p->gso_from_size)
		stats->gso_from_size++;

	if (p->icmp_error) {
		counted = tm_count_icmp_error(s);
	} else {
		tm_track_fragment(s);
		counted = tm_count_flow(s, rules_gen, stats);
	}
	if (counted)
		stats->counted++;
	else
		stats->no_rule++;
}

static __always_inline int tm_handle(struct __sk_buff *skb, const int l3_device, const int egress,
				     const int has_gso_size, const int fast)
{
	struct tm_percpu *cpu;
	struct tm_scratch *s;
	struct tm_packet *p;
	struct tm_stats *stats;
	struct tm_config *cfg;
	__u32 zero = 0, role = 0, rules_gen;
	int paged, copy;

	cpu = bpf_map_lookup_elem(&tm_percpu, &zero);
	if (!cpu)
		return TC_ACT_UNSPEC;
	stats = &cpu->stats;
	s = (struct tm_scratch *)cpu->scratch;
	p = &s->p;
	stats->packets++;
	stats->bytes += skb->len;

	if (egress) {
		role = tm_ingress_role(skb, s);
		if (role == TM_ROLE_ATTACHED || role == TM_ROLE_UPPER) {
			stats->egress_skipped++;
			return TC_ACT_UNSPEC;
		}
	}
	/* This CPU's row of tm_counters, once a packet that may count (an
	 * inlined per-CPU read from 6.10 on, a helper call before). */
	s->cpu_base = bpf_get_smp_processor_id() * tm_counter_stride;

	/* Before the parse, after the early exits: no helper call (opaque to
	 * the compiler) may come between the parse and the flow code, or the
	 * compiler forgets what the parse stored and reads it all back. */
	cfg = bpf_map_lookup_elem(&tm_config, &zero);
	rules_gen = cfg ? cfg->rules_gen : 0;
	if (fast && tm_parse_fast_any(skb, l3_device, has_gso_size, p)) {
		tm_count_parsed(cpu, s, egress, role, rules_gen);
		return TC_ACT_UNSPEC;
	}
	/* Headers a driver left in page fragments: the linear part is
	 * shorter than 64 bytes of a longer packet (shorter packets:
	 * tm_paged_short, in the subprogram). The fast parse then runs on a
	 * copy of the first bytes, as it does for every packet of the builds
	 * without direct packet access (tm_parse_slow). */
	paged = fast && skb->len >= 64 &&
		(void *)(long)skb->data + 64 > (void *)(long)skb->data_end;
	if (paged)
		stats->paged++;
	/* The general parse sets only what it finds: the rest starts at 0
	 * (the fast parses set every field they leave to the flow code).
	 * Cleared here when tm_parse_slow goes straight to it, and there
	 * after the copy's parse gave up otherwise. */
	copy = !fast || paged;
	if (!copy)
		__builtin_memset(p, 0, sizeof(*p));
	s->status = fast ? tm_parse_slow_direct(skb, l3_device, has_gso_size, copy, s)
			 : tm_parse_slow(skb, l3_device, has_gso_size, copy, s);
	tm_forget(); /* one flow and counter path for every outcome of this parse */
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
	tm_count_parsed(cpu, s, egress, role, rules_gen);
	return TC_ACT_UNSPEC;
}

#define TM_ENTRY(name, l3, egress, gso_size, fast)                                                 \
	SEC("tc")                                                                                  \
	int name(struct __sk_buff *skb)                                                            \
	{                                                                                          \
		return tm_handle(skb, l3, egress, gso_size, fast);                                 \
	}

/* One build: its four entry points (the loader picks them by these names). */
#define TM_BUILD(suffix, gso_size, fast)                                                           \
	TM_ENTRY(tm_ingress_eth##suffix, 0, 0, gso_size, fast)                                     \
	TM_ENTRY(tm_egress_eth##suffix, 0, 1, gso_size, fast)                                      \
	TM_ENTRY(tm_ingress_l3##suffix, 1, 0, gso_size, fast)                                      \
	TM_ENTRY(tm_egress_l3##suffix, 1, 1, gso_size, fast)

TM_BUILD(, 1, 1)
TM_BUILD(_slow, 1, 0)
TM_BUILD(_compat, 0, 0)

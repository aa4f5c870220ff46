// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Somebody else's tc filter, for the CLI and e2e coexistence tests: counts
 * the IPv4 packets it sees in counts[0] and returns VERDICT (default
 * TC_ACT_UNSPEC: the next filter runs; -DVERDICT=... for others). This
 * kernel has no cls_matchall, so a BPF filter stands in for one. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#ifndef VERDICT
#define VERDICT TC_ACT_UNSPEC
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("tc")
int foreign_counter(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&counts, &zero);

	if (c && skb->protocol == __builtin_bswap16(0x0800))
		__sync_fetch_and_add(c, 1);
	return VERDICT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The cheapest TC program: the floor the benchmarks compare against. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int tm_empty(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

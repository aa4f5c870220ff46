// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A traffic_meter object that the verifier must refuse: the real maps and
 * entry points, each reading the packet without a bounds check. The CLI
 * tests load it with --object to see what an operator sees then. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "maps.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int unchecked_read(struct __sk_buff *skb)
{
	return *(__u8 *)(long)skb->data;
}

#define REJECTED(name)                                                                             \
	SEC("tc")                                                                                  \
	int name(struct __sk_buff *skb)                                                            \
	{                                                                                          \
		return unchecked_read(skb);                                                        \
	}

REJECTED(tm_ingress_eth)
REJECTED(tm_egress_eth)
REJECTED(tm_ingress_l3)
REJECTED(tm_egress_l3)
REJECTED(tm_ingress_eth_slow)
REJECTED(tm_egress_eth_slow)
REJECTED(tm_ingress_l3_slow)
REJECTED(tm_egress_l3_slow)
REJECTED(tm_ingress_eth_compat)
REJECTED(tm_egress_eth_compat)
REJECTED(tm_ingress_l3_compat)
REJECTED(tm_egress_l3_compat)

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The floor of any meter that keeps per-flow state (issue "Fast path"): one
 * LRU-hash lookup of a plain 40-byte 5-tuple key (inserted on a miss) and
 * one per-CPU add, nothing else: no direction, no rules, no IPv6, no
 * VLANs. bench/veth_bench.sh runs it beside traffic_meter. Needs
 * CAP_PERFMON-free direct packet access only at constant offsets.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "bench_total.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport, dport;
	__u8 proto, pad[3];
};

/* A fat entry, as flow meters keep: counters and times both ways. */
struct flow_entry {
	__u64 packets[2], bytes[2];
	__u64 first_seen, last_seen;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct flow_key);
	__type(value, struct flow_entry);
} flows SEC(".maps");

SEC("tc")
int minimal_flow(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	struct flow_key k = {};
	struct flow_entry fresh = {}, *e;
	__u32 zero = 0;
	__u64 *t;

	if (data + ETH_HLEN + 20 + 4 > data_end)
		return TC_ACT_UNSPEC;
	if (*(__u16 *)(data + 12) != __builtin_bswap16(ETH_P_IP) || *(__u8 *)(data + 14) != 0x45)
		return TC_ACT_UNSPEC;
	__builtin_memcpy(k.saddr, data + 26, 4);
	__builtin_memcpy(k.daddr, data + 30, 4);
	k.proto = *(__u8 *)(data + 23);
	k.sport = *(__u16 *)(data + 34);
	k.dport = *(__u16 *)(data + 36);
	e = bpf_map_lookup_elem(&flows, &k);
	if (!e) {
		bpf_map_update_elem(&flows, &k, &fresh, BPF_NOEXIST);
		e = bpf_map_lookup_elem(&flows, &k);
	}
	t = bpf_map_lookup_elem(&total, &zero);
	if (t)
		*t += skb->len;
	return TC_ACT_UNSPEC;
}

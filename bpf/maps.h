/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maps of the data plane. Capacities marked "set at load" are defaults the
 * control plane overrides with bpf_map__set_max_entries(); every map here is
 * pinned by the first `load` and reused by later ones, but tm_scratch and
 * tm_flow_cache, which are per load. */
#ifndef TM_BPF_MAPS_H
#define TM_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "traffic_meter_kern_user.h"
#include "parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tm_config);
} tm_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TM_DEFAULT_MAX_RULES); /* set at load */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tm_lpm_v4_key);
	__type(value, struct tm_rule_ref);
} tm_rules_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TM_DEFAULT_MAX_RULES); /* set at load */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tm_lpm_v6_key);
	__type(value, struct tm_rule_ref);
} tm_rules_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TM_DEFAULT_MAX_RULES); /* set at load */
	__type(key, __u32);
	__type(value, struct tm_rule_slot);
} tm_rule_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TM_DEFAULT_MAX_RULES); /* set at load */
	__type(key, __u32);
	__type(value, struct tm_counters);
} tm_counters SEC(".maps");

/* Not per-CPU: both directions of a flow must see one originator. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TM_DEFAULT_MAX_FLOWS); /* set at load */
	__type(key, struct tm_flow_key);
	__type(value, struct tm_flow_value);
} tm_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TM_MAX_FRAGS);
	__type(key, struct tm_frag_key);
	__type(value, struct tm_frag_value);
} tm_frags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TM_MAX_ATTACHED);
	__type(key, __u32);
	__type(value, struct tm_attached_iface);
} tm_attached SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tm_stats);
} tm_stats SEC(".maps");

/*
 * A per-CPU, direct-mapped copy of recently used flow entries, so that an
 * established flow's packet needs no call into the hash table: an array
 * lookup is inlined by the verifier, a hash lookup is a chain of kernel
 * calls that costs more than all the rest of the program. tm_flows stays
 * the truth: a copy is used only while the epoch of its bucket in
 * tm_flow_epochs is the one it was copied at; whoever inserts a flow or
 * changes its originator bumps that epoch, on any CPU. Not pinned: each
 * load starts with an empty cache.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TM_FLOW_CACHE_SLOTS);
	__type(key, __u32);
	__type(value, struct tm_flow_cache_entry);
} tm_flow_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TM_FLOW_EPOCHS);
	__type(key, __u32);
	__type(value, __u32);
} tm_flow_epochs SEC(".maps");

/*
 * Per-CPU scratch for the parsed packet. Not pinned: each load has its own.
 *
 * Why not the stack: the verifier tracks every constant the parser leaves
 * behind (link-layer offset, fragment kind, flags), so the flow and counter
 * code after it would be verified once per parse outcome: close to the
 * 1M-instruction limit and many seconds per load. Map memory is opaque to
 * the verifier; after tm_forget() the paths converge and are pruned.
 */
struct tm_scratch {
	struct tm_packet p;
	struct tm_ipv6_walk walk;
	__u32 off;
	__u16 ethertype;
	__u16 status;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tm_scratch);
} tm_scratch SEC(".maps");

#endif

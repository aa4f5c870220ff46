/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps of the data plane. Every map here is pinned by the first `load` and
 * reused by later ones. Capacities marked "set at load" come from
 * --max-rules / --max-flows (bpf_map__set_max_entries); those maps live in
 * the pin path's maps<N>/ directory so that a resize can build a complete
 * new set beside the old one (docs/DESIGN.md, "Resize").
 */
#ifndef TM_BPF_MAPS_H
#define TM_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "traffic_meter_kern_user.h"

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

/* Read and written by the control plane only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TM_DEFAULT_MAX_RULES); /* set at load */
	__type(key, __u32);
	__type(value, struct tm_rule_slot);
} tm_rule_slots SEC(".maps");

/*
 * A rule's counters on each CPU, CPU-major: [cpu * tm_counter_stride +
 * slot]. A plain array, not a per-CPU one: its lookup is an index and an
 * add, where a per-CPU array's loads the slot's per-CPU pointer first, a
 * load more on the chain hash -> bucket -> entry -> counters (2-3% of an
 * established flow, docs/BENCHMARKS.md "Stop 32"). Rows are far apart: no
 * two CPUs share a cache line but at a row's end.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TM_DEFAULT_MAX_RULES); /* rules x possible CPUs, set at load */
	__type(key, __u32);
	__type(value, struct tm_counters);
} tm_counters SEC(".maps");

/*
 * The flow table (struct tm_flow_bucket says how it works): bucket heads,
 * the pool of entries they point to, its allocator and the CPUs' reserves.
 * Not per-CPU: both directions of a flow must see one originator.
 * tm_flow_buckets and tm_flow_pool_entries are the heads' and the pool's
 * sizes, set at load with the maps' (bpf_map__set_max_entries and the
 * object's .rodata): constants to the verifier and the JIT.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TM_DEFAULT_MAX_FLOWS / TM_FLOW_WAYS); /* set at load */
	__type(key, __u32);
	__type(value, struct tm_flow_bucket);
} tm_flow_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TM_DEFAULT_MAX_FLOWS / TM_FLOW_WAYS * TM_FLOW_SLOTS); /* set at load */
	__type(key, __u32);
	__type(value, struct tm_flow_entry);
} tm_flow_pool SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tm_flow_alloc);
} tm_flow_alloc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tm_flow_reserve);
} tm_flow_reserve SEC(".maps");

const volatile __u32 tm_flow_buckets = TM_DEFAULT_MAX_FLOWS / TM_FLOW_WAYS;
const volatile __u32 tm_flow_pool_entries = TM_DEFAULT_MAX_FLOWS / TM_FLOW_WAYS * TM_FLOW_SLOTS;
/* tm_flow_bucket_shift(tm_flow_buckets), set at load with it (0, the
 * multiply, fits any size); the verifier knows it and drops the branch
 * the table's size does not take. */
const volatile __u32 tm_flow_bucket_shift_by = 0;
/* Rule capacity, set at load: a rule's counters on CPU c are entry
 * c * tm_counter_stride + slot of tm_counters. */
const volatile __u32 tm_counter_stride = TM_DEFAULT_MAX_RULES;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TM_MAX_FRAGS);
	__type(key, struct tm_frag_key);
	__type(value, struct tm_frag_value);
} tm_frags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TM_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct tm_iface);
} tm_ifaces SEC(".maps");

/* tm_ifaces' roles, 2 bits an ifindex (the shared header says how). In
 * maps<N>/ with the sized maps, although its size is fixed: a resize, and
 * the upgrade from ABI 4 that is one, builds it from tm_ifaces. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TM_ROLE_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} tm_roles SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tm_percpu);
} tm_percpu SEC(".maps");

#endif

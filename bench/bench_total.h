/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The per-CPU byte total the bench flow tables (minimal_flow.bpf.c,
 * inline_flow.bpf.c) add to on every packet, as a meter's statistics do. */
#ifndef TM_BENCH_TOTAL_H
#define TM_BENCH_TOTAL_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} total SEC(".maps");

#endif

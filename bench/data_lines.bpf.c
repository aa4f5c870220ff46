// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Do a program's own data lines stay in cache on the real receive path,
 * where the rest of the stack runs between two packets? 16 loads from 16
 * cache lines of an array map's value, about as many lines as
 * traffic_meter's established path touches (per-CPU state and scratch,
 * configuration, bucket, pool entry, two rules' counters).
 * bench/veth_bench.sh's cases (docs/BENCHMARKS.md, "Stop 34"):
 *   lines   the 16 loads independent of each other
 *   chain   (-DTM_CHAIN) each load's address depends on the load before
 *           (its value and-ed with 0: not a zero idiom, so the CPU waits
 *           for it), as hash, bucket, entry and counters depend on each
 *           other
 *   stores  (-DTM_STORES) a store into each of the 16 lines instead: the
 *           writes of traffic_meter's per-CPU scratch and statistics
 *   pages   (-DTM_PAGES) 16 loads from 16 lines of a 4 MB array, each on
 *           a 4 KB page of its own (as bucket, pool entry and counters
 *           lie in maps of their own, megabytes large)
 *   walk    (-DTM_PAGES -DTM_CHAIN) the same, each address depending on
 *           the load before
 *   ctx     (-DTM_CTX) what traffic_meter reads of the skb and the frame
 *   percpu  (-DTM_PERCPU) 16 loads from a per-CPU array's value
 *   stack   (-DTM_STACK) 320 bytes of stack written and read back
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct tm_sixteen_lines {
	__u64 word[16 * 8];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tm_sixteen_lines);
} tm_data SEC(".maps");

#if defined(TM_CHAIN)
#define TM_LOAD(off) "r3 &= 0; r4 = r6; r4 += r3; r3 = *(u64 *)(r4 + " #off ");"
#elif defined(TM_STORES)
#define TM_LOAD(off) "*(u64 *)(r6 + " #off ") = r2; r2 += 1;"
#else
#define TM_LOAD(off) "r3 = *(u64 *)(r6 + " #off "); r2 += r3;"
#endif

#if defined(TM_STACK)
/* 320 bytes of stack written and read back (traffic_meter's frame is 264
 * bytes and four saved registers). */
SEC("tc")
int tm_data_stack(struct __sk_buff *skb)
{
	volatile __u64 frame[40];
	__u64 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < 40; i++)
		frame[i] = skb->len + i;
#pragma unroll
	for (i = 0; i < 40; i++)
		sum += frame[i];
	asm volatile("" ::"r"(sum));
	return TC_ACT_UNSPEC;
}
#elif defined(TM_CTX)
/* What traffic_meter reads of the packet's skb: its length, the aggregate's
 * segment count and size (in the skb's shared info, at the buffer's end),
 * the device it came in on, and the first 48 bytes of the frame. */
SEC("tc")
int tm_data_ctx(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data, *data_end = (void *)(long)skb->data_end;
	__u64 sum = skb->len + skb->gso_segs + skb->gso_size + skb->ingress_ifindex;

	if (data + 48 > data_end)
		return TC_ACT_UNSPEC;
	sum += *(__u64 *)data + *(__u64 *)(data + 16) + *(__u64 *)(data + 32) + *(__u64 *)(data + 40);
	asm volatile("" ::"r"(sum));
	return TC_ACT_UNSPEC;
}
#elif defined(TM_PERCPU)
/* A per-CPU array's value of 16 lines (as tm_percpu's statistics and
 * scratch), one load from each. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tm_sixteen_lines);
} tm_percpu_data SEC(".maps");

SEC("tc")
int tm_data_percpu(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct tm_sixteen_lines *l = bpf_map_lookup_elem(&tm_percpu_data, &zero);
	__u64 sum = 0;
	int i;

	if (!l)
		return TC_ACT_UNSPEC;
#pragma unroll
	for (i = 0; i < 16; i++)
		sum += *(volatile __u64 *)&l->word[i * 8];
	asm volatile("" ::"r"(sum));
	return TC_ACT_UNSPEC;
}
#elif defined(TM_PAGES)
/* 4 MB (as the flow table's buckets), 64-byte entries, vmalloc'ed in 4 KB
 * pages: entries 1,024 apart are 64 KB apart, on pages of their own. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64[8]);
} tm_pages SEC(".maps");

SEC("tc")
int tm_data_pages(struct __sk_buff *skb)
{
	__u64 *v, dep = 0, sum = 0;
	__u32 k;
	int i;

#pragma unroll
	for (i = 0; i < 16; i++) {
#ifdef TM_CHAIN
		asm volatile("%0 &= 0" : "+r"(dep)); /* the next address waits for this load */
		k = i * 1024 + (__u32)dep;
#else
		k = i * 1024;
#endif
		v = bpf_map_lookup_elem(&tm_pages, &k);
		if (!v)
			return TC_ACT_UNSPEC;
		dep = *(volatile __u64 *)v;
		sum += dep;
	}
	asm volatile("" ::"r"(sum));
	return TC_ACT_UNSPEC;
}
#else
SEC("tc")
int tm_data_lines(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct tm_sixteen_lines *l = bpf_map_lookup_elem(&tm_data, &zero);

	if (!l)
		return TC_ACT_UNSPEC;
	asm volatile("r6 = %0; r2 = 0; r3 = 0;" TM_LOAD(0) TM_LOAD(64) TM_LOAD(128) TM_LOAD(192)
		     TM_LOAD(256) TM_LOAD(320) TM_LOAD(384) TM_LOAD(448) TM_LOAD(512) TM_LOAD(576)
		     TM_LOAD(640) TM_LOAD(704) TM_LOAD(768) TM_LOAD(832) TM_LOAD(896) TM_LOAD(960)
		     ::"r"(l) : "r2", "r3", "r4", "r6");
	return TC_ACT_UNSPEC;
}
#endif

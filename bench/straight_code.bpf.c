// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The empty program with 480 register additions in a row: 3.4 KB of x86
 * code (`add reg, imm32`, 7 bytes each) that reads no memory and takes no
 * branch. bench/veth_bench.sh's case `straight` against `empty`, and
 * BPF_PROG_TEST_RUN of both, say what code size alone costs on the real
 * receive path, where the rest of the stack evicts the instruction cache
 * between packets, and in a loop, where it stays (docs/BENCHMARKS.md,
 * "Stop 26").
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Four independent chains (r2-r5), so the additions do not wait on each
 * other more than a straight program's would. */
#define TM_ADD4(n) asm volatile("r2 += " #n "; r3 += " #n "; r4 += " #n "; r5 += " #n ::: "r2", "r3", "r4", "r5")
#define TM_ADD40(n)                                                                                \
	TM_ADD4(n##0); TM_ADD4(n##1); TM_ADD4(n##2); TM_ADD4(n##3); TM_ADD4(n##4);                 \
	TM_ADD4(n##5); TM_ADD4(n##6); TM_ADD4(n##7); TM_ADD4(n##8); TM_ADD4(n##9)

SEC("tc")
int tm_straight(struct __sk_buff *skb)
{
	asm volatile("r2 = 0; r3 = 0; r4 = 0; r5 = 0" ::: "r2", "r3", "r4", "r5");
	TM_ADD40(100); TM_ADD40(101); TM_ADD40(102); TM_ADD40(103);
	TM_ADD40(104); TM_ADD40(105); TM_ADD40(106); TM_ADD40(107);
	TM_ADD40(108); TM_ADD40(109); TM_ADD40(110); TM_ADD40(111);
	return TC_ACT_UNSPEC;
}

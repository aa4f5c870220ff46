// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Does the shape of a program's code cost on the real receive path, where
 * the rest of the stack runs between two packets and may evict the branch
 * predictor's state and the instruction cache? bench/veth_bench.sh's cases
 * (docs/BENCHMARKS.md, "Stop 34"), each a plain TC program:
 *   branchy     bench/straight_code.bpf.c's 480 additions in 32 runs of 15,
 *               each after a conditional branch every packet takes over
 *               two instructions none runs: straight's work with 32 taken
 *               branches, about as many as traffic_meter's established
 *               path takes (conditional and unconditional)
 *   scattered   (-DTM_SCATTERED) 480 additions in 16 runs of 30, each after
 *               a taken branch over 80 instructions no packet runs: hot code
 *               in 16 stretches over 7 KB, as traffic_meter's established
 *               path lies in 17 runs of cache lines of its JIT image
 *   contiguous  (-DTM_CONTIGUOUS) the same instructions, the 16 runs one
 *               after the other (a taken branch over one instruction each),
 *               all the cold code after them
 *   wide        (-DTM_WIDE) 480 moves of an immediate, none waiting for
 *               another: code that runs as fast as the core fetches it,
 *               where the others' dependent additions could hide a slow
 *               fetch (stop 35)
 * r6 holds skb->len, which the verifier cannot know: it keeps both sides of
 * every branch, so none is rewritten as a jump and no cold code is removed.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TM_CLOBBERS "r2", "r3", "r4", "r5", "r7"
#define TM_ADD4(n) "r2 += " #n "; r3 += " #n "; r4 += " #n "; r5 += " #n ";"
#define TM_COLD4 "r7 += 1; r7 += 2; r7 += 3; r7 += 4;"
#define TM_COLD20 TM_COLD4 TM_COLD4 TM_COLD4 TM_COLD4 TM_COLD4
#define TM_COLD80 TM_COLD20 TM_COLD20 TM_COLD20 TM_COLD20
#define TM_TAKEN(over) "if r6 != 0xfffff goto +" #over ";"

#if defined(TM_WIDE)
/* 480 moves of an immediate into six registers: none waits for another, so
 * the core can run them as fast as it can fetch and issue them. */
#define TM_MOV6(n) asm volatile("r2 = " #n "1; r3 = " #n "2; r4 = " #n "3; r5 = " #n "4; r7 = " #n "5; r8 = " #n "6;" ::: TM_CLOBBERS, "r8")
#define TM_MOV60(n)                                                                                \
	TM_MOV6(n##0); TM_MOV6(n##1); TM_MOV6(n##2); TM_MOV6(n##3); TM_MOV6(n##4);                 \
	TM_MOV6(n##5); TM_MOV6(n##6); TM_MOV6(n##7); TM_MOV6(n##8); TM_MOV6(n##9)
#define TM_BODY()                                                                                  \
	TM_MOV60(10); TM_MOV60(11); TM_MOV60(12); TM_MOV60(13);                                    \
	TM_MOV60(14); TM_MOV60(15); TM_MOV60(16); TM_MOV60(17)
#elif defined(TM_SCATTERED) || defined(TM_CONTIGUOUS)
/* 30 additions (7 and 9 fit the JIT's short form: 4 bytes each). */
#define TM_HOT6 "r2 += 7; r3 += 7; r4 += 7; r5 += 7; r2 += 9; r3 += 9;"
#define TM_HOT30 TM_HOT6 TM_HOT6 TM_HOT6 TM_HOT6 TM_HOT6
#ifdef TM_SCATTERED
#define TM_RUN() asm volatile(TM_TAKEN(80) TM_COLD80 TM_HOT30 ::: TM_CLOBBERS)
#define TM_AFTER()
#else
#define TM_RUN() asm volatile(TM_TAKEN(1) "r7 += 1;" TM_HOT30 ::: TM_CLOBBERS)
/* 16 x 80 cold instructions less the 16 above: 1,264. */
#define TM_COLD400 TM_COLD80 TM_COLD80 TM_COLD80 TM_COLD80 TM_COLD80
#define TM_AFTER()                                                                                 \
	asm volatile(TM_TAKEN(1264) TM_COLD400 TM_COLD400 TM_COLD400 TM_COLD20 TM_COLD20           \
			     TM_COLD20 TM_COLD4 ::: "r7")
#endif
#define TM_RUN4() TM_RUN(); TM_RUN(); TM_RUN(); TM_RUN()
#define TM_BODY() TM_RUN4(); TM_RUN4(); TM_RUN4(); TM_RUN4(); TM_AFTER()
#else
/* straight_code's additions (immediates of 1000 and more: 7 bytes each). */
#define TM_RUN(n)                                                                                  \
	asm volatile(TM_TAKEN(2) "r7 += 1; r7 += 2;" TM_ADD4(n##0) TM_ADD4(n##1) TM_ADD4(n##2)    \
			     "r2 += " #n "3; r3 += " #n "3; r4 += " #n "3;" ::: TM_CLOBBERS)
#define TM_RUN4(n) TM_RUN(n##0); TM_RUN(n##1); TM_RUN(n##2); TM_RUN(n##3)
#define TM_BODY()                                                                                  \
	TM_RUN4(10); TM_RUN4(11); TM_RUN4(12); TM_RUN4(13);                                        \
	TM_RUN4(14); TM_RUN4(15); TM_RUN4(16); TM_RUN4(17)
#endif

SEC("tc")
int tm_code_shape(struct __sk_buff *skb)
{
	asm volatile("r6 = *(u32 *)(r1 + 0); r2 = 0; r3 = 0; r4 = 0; r5 = 0; r7 = 0" ::
			     : TM_CLOBBERS, "r6");
	TM_BODY();
	return TC_ACT_UNSPEC;
}

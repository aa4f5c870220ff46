#include "bpf/kernel_features.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cstddef>

#include "util/fd.h"

namespace tmeter {

bool kernel_has_gso_size()
{
	// r0 = *(u32 *)(r1 + offsetof(__sk_buff, gso_size)); r0 = -1; exit
	const bpf_insn insns[] = {
		{BPF_LDX | BPF_MEM | BPF_W, BPF_REG_0, BPF_REG_1,
		 static_cast<__s16>(offsetof(__sk_buff, gso_size)), 0},
		{BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, -1},
		{BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
	};
	Fd fd(bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "tm_probe_gso", "GPL", insns,
			    sizeof(insns) / sizeof(insns[0]), nullptr));
	return bool(fd);
}

bool kernel_allows_packet_access()
{
	// r2 = skb->data; r3 = skb->data_end; r2 += 14; if r2 > r3 goto +0;
	// r0 = -1; exit
	const bpf_insn insns[] = {
		{BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1,
		 static_cast<__s16>(offsetof(__sk_buff, data)), 0},
		{BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1,
		 static_cast<__s16>(offsetof(__sk_buff, data_end)), 0},
		{BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, 14},
		{BPF_JMP | BPF_JGT | BPF_X, BPF_REG_2, BPF_REG_3, 0, 0},
		{BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, -1},
		{BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
	};
	Fd fd(bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "tm_probe_pkt", "GPL", insns,
			    sizeof(insns) / sizeof(insns[0]), nullptr));
	return bool(fd);
}

EntryBuild entry_build_for_this_kernel()
{
	if (!kernel_has_gso_size())
		return EntryBuild::kCompat;
	return kernel_allows_packet_access() ? EntryBuild::kFast : EntryBuild::kSlow;
}

} // namespace tmeter

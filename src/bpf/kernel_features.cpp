#include "bpf/kernel_features.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cstddef>
#include <span>

#include "util/fd.h"

namespace tmeter {
namespace {

// Whether this kernel's verifier takes a tiny SCHED_CLS program, with the
// caller's privileges: the probes below differ only in their instructions.
bool kernel_loads(const char *name, std::span<const bpf_insn> insns)
{
	Fd fd(bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, name, "GPL", insns.data(), insns.size(),
			    nullptr));
	return bool(fd);
}

} // namespace

bool kernel_has_gso_size()
{
	// r0 = *(u32 *)(r1 + offsetof(__sk_buff, gso_size)); r0 = -1; exit
	const bpf_insn insns[] = {
		{BPF_LDX | BPF_MEM | BPF_W, BPF_REG_0, BPF_REG_1,
		 static_cast<__s16>(offsetof(__sk_buff, gso_size)), 0},
		{BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, -1},
		{BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
	};
	return kernel_loads("tm_probe_gso", insns);
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
	return kernel_loads("tm_probe_pkt", insns);
}

EntryBuild entry_build_for_this_kernel()
{
	if (!kernel_has_gso_size())
		return EntryBuild::kCompat;
	return kernel_allows_packet_access() ? EntryBuild::kFast : EntryBuild::kSlow;
}

} // namespace tmeter

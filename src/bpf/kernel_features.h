// What the running kernel offers the data plane, found by trying (never by
// version strings): a feature is there if the kernel accepts it.
#pragma once

#include <array>
#include <string_view>

namespace tmeter {

// __sk_buff.gso_size readable by TC programs (Linux 5.7): then the data
// plane counts a guest's TSO aggregates (gso_segs still 0) by gso_size.
// Loads a two-instruction program; needs what loading ours needs.
bool kernel_has_gso_size();

// The verifier lets this process compare packet pointers (direct packet
// access). Without CAP_PERFMON, kernels before 5.11 do not: then every
// header is read through bpf_skb_load_bytes.
bool kernel_allows_packet_access();

// BPF atomics (Linux 5.12): a cmpxchg, which the flow table's own bucket
// lock is. Any process that can load a program gets the same answer, so
// every load on one kernel locks the flow table the same way.
bool kernel_has_atomics();

// The builds of the entry points (bpf/traffic_meter.bpf.c), and which one
// to load here.
enum class EntryBuild { kFast, kSlow, kFastSpinLock, kSlowSpinLock, kCompat };
inline constexpr std::array<EntryBuild, 5> kEntryBuilds = {
	EntryBuild::kFast, EntryBuild::kSlow, EntryBuild::kFastSpinLock, EntryBuild::kSlowSpinLock,
	EntryBuild::kCompat};
// What the build's entry points' names end with: "", "_slow", ...
std::string_view entry_build_suffix(EntryBuild build);
// Whether the build reads __sk_buff.gso_size (all but kCompat).
bool entry_build_has_gso_size(EntryBuild build);
EntryBuild entry_build_for_this_kernel();

} // namespace tmeter

// What the running kernel offers the data plane, found by trying (never by
// version strings): a feature is there if the kernel accepts it.
#pragma once

namespace tmeter {

// __sk_buff.gso_size readable by TC programs (Linux 5.7): then the data
// plane counts a guest's TSO aggregates (gso_segs still 0) by gso_size.
// Loads a two-instruction program; needs what loading ours needs.
bool kernel_has_gso_size();

// The verifier lets this process compare packet pointers (direct packet
// access). Without CAP_PERFMON, kernels before 5.11 do not: then every
// header is read through bpf_skb_load_bytes.
bool kernel_allows_packet_access();

// Which build of the entry points to load (bpf/traffic_meter.bpf.c).
enum class EntryBuild { kFast, kSlow, kCompat };
EntryBuild entry_build_for_this_kernel();

} // namespace tmeter

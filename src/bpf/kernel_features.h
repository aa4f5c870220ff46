// What the running kernel offers the data plane, found by trying (never by
// version strings): a feature is there if the kernel accepts it.
#pragma once

namespace tmeter {

// __sk_buff.gso_size readable by TC programs (Linux 5.7): then the data
// plane counts a guest's TSO aggregates (gso_segs still 0) by gso_size.
// Loads a two-instruction program; needs what loading ours needs.
bool kernel_has_gso_size();

} // namespace tmeter

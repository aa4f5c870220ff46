// What --max-rules / --max-flows cost in kernel memory, checked before any
// map is made (SPEC §5: a capacity whose maps would not fit is refused,
// saying how much it would need).
#pragma once

#include <cstdint>

#include "bpf/bpf_object.h"

namespace tmeter {

// Upper bound of the maps' kernel memory, in bytes.
uint64_t map_memory_bytes(const Capacities &c, unsigned cpus);

// Throws a runtime Error when that exceeds MemAvailable.
void check_capacities_fit(const Capacities &c);

} // namespace tmeter

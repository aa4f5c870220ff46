// This tool's filters on a device's clsact hooks. Ours are told apart from
// anyone else's by a fixed handle and priority, so only they are touched.
#pragma once

#include <cstdint>
#include <optional>

namespace tmeter {

enum class TcHook { kIngress, kEgress };

inline constexpr uint32_t kTcHandle = 0x544d; // "TM"
inline constexpr uint32_t kTcPriority = 0x544d;

// Creates clsact if missing and attaches the programs, replacing our earlier
// filters in place (no packet goes uncounted in between). egress_prog_fd < 0
// attaches ingress only (and removes an egress filter of ours). On a
// failure leaves the device as it found it.
void attach_filters(int ifindex, const char *ifname, int ingress_prog_fd, int egress_prog_fd);

// Removes our filters; removes clsact too when nothing else is left on it.
// Returns false if none of ours was there.
bool detach_filters(int ifindex, const char *ifname);

// Id of the program our filter runs on the hook, if attached.
std::optional<uint32_t> attached_prog_id(int ifindex, TcHook hook);

} // namespace tmeter

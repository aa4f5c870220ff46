// What the kernel will demand, checked before anything is touched, so that
// an unprivileged user gets SPEC §2's advice instead of a confusing ENOENT
// from a pin path they cannot see.
#pragma once

namespace tmeter {

// Throws a runtime Error ("run as root or grant CAP_BPF and CAP_NET_ADMIN")
// unless the process may use bpf() (CAP_BPF or CAP_SYS_ADMIN) and, with
// net_admin, change qdiscs and filters (CAP_NET_ADMIN).
void require_privileges(bool net_admin);

} // namespace tmeter

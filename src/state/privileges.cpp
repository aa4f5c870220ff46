#include "state/privileges.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "util/error.h"

#ifndef CAP_BPF
#define CAP_BPF 39 // Linux 5.8; older kernels need CAP_SYS_ADMIN
#endif

namespace tmeter {
namespace {

bool has_cap(const __user_cap_data_struct (&data)[2], unsigned cap)
{
	return data[cap / 32].effective & (1u << (cap % 32));
}

std::string fmt_missing(bool bpf, bool net)
{
	std::string missing = !bpf && !net ? "CAP_BPF and CAP_NET_ADMIN" : !bpf ? "CAP_BPF" : "CAP_NET_ADMIN";
	return "permission denied (missing " + missing +
	       "): run as root or grant CAP_BPF and CAP_NET_ADMIN";
}

} // namespace

void require_privileges(bool net_admin)
{
	__user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
	__user_cap_data_struct data[2] = {};
	if (syscall(SYS_capget, &header, data) != 0)
		return; // cannot tell: let the kernel decide
	bool bpf = has_cap(data, CAP_BPF) || has_cap(data, CAP_SYS_ADMIN);
	bool net = !net_admin || has_cap(data, CAP_NET_ADMIN);
	if (!bpf || !net)
		fail_runtime(fmt_missing(bpf, net));
}

} // namespace tmeter

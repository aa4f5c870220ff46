#include "util/error.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <bpf/libbpf.h>
#include <fmt/format.h>

namespace tmeter {

std::string explain_errno(std::string_view what, int err)
{
	err = std::abs(err);
	switch (err) {
	case EPERM:
	case EACCES:
		return fmt::format("{}: permission denied; run as root or grant CAP_BPF and CAP_NET_ADMIN",
				   what);
	case ENOENT:
		return fmt::format("{}: not found", what);
	case ENODEV:
		return fmt::format("{}: no such interface (was it removed?)", what);
	case E2BIG:
	case ENOSPC:
		return fmt::format("{}: table full", what);
	case ENOMEM:
		return fmt::format("{}: out of kernel memory; lower --max-rules/--max-flows", what);
	case EOPNOTSUPP:
		return fmt::format("{}: not supported by this kernel (needs Linux 5.4 or newer)", what);
	default:
		// libbpf's own codes (from __LIBBPF_ERRNO__START: not an ELF
		// file, a bad object format...) have no strerror() text.
		if (err >= __LIBBPF_ERRNO__START) {
			char text[128];
			libbpf_strerror(err, text, sizeof(text));
			return fmt::format("{}: {}", what, text);
		}
		return fmt::format("{}: {}", what, std::strerror(err));
	}
}

void fail_errno(std::string_view what, int err) { fail_runtime(explain_errno(what, err)); }

} // namespace tmeter

#include "util/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "util/error.h"
#include "util/fd.h"

namespace tmeter {

std::string read_input_file(const std::filesystem::path &path, size_t limit)
{
	Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
	if (!fd)
		fail_usage(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
	std::string out;
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd.get(), buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail_usage(fmt::format("cannot read {}: {}", path.string(), std::strerror(errno)));
		if (n == 0)
			return out;
		if (out.size() + size_t(n) > limit)
			fail_usage(fmt::format("{} is larger than {} MiB; refusing to read it",
					       path.string(), limit >> 20));
		out.append(buf, size_t(n));
	}
}

} // namespace tmeter

#include "state/netns.h"

#include <sys/stat.h>

#include <cerrno>
#include <filesystem>

#include <fmt/format.h>

#include "util/error.h"

namespace tmeter {

NetnsId current_netns()
{
	struct stat st {};
	if (stat("/proc/self/ns/net", &st))
		fail_errno("cannot identify the network namespace (/proc/self/ns/net)", errno);
	return {uint64_t(st.st_dev), uint64_t(st.st_ino)};
}

std::string describe_netns(const NetnsId &id)
{
	std::error_code ec;
	for (const auto &entry : std::filesystem::directory_iterator("/run/netns", ec)) {
		struct stat st {};
		if (stat(entry.path().c_str(), &st) == 0 && uint64_t(st.st_dev) == id.dev &&
		    uint64_t(st.st_ino) == id.ino)
			return entry.path().filename().string();
	}
	return fmt::format("net:[{}]", id.ino);
}

} // namespace tmeter

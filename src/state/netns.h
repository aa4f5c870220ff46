// The network namespace a command runs in, and its name under /run/netns:
// interface indexes mean nothing across namespaces (SPEC §5).
#pragma once

#include <cstdint>
#include <string>

namespace tmeter {

struct NetnsId {
	uint64_t dev = 0;
	uint64_t ino = 0;
	bool operator==(const NetnsId &) const = default;
};

// Of this process (/proc/self/ns/net).
NetnsId current_netns();

// "NAME" if /run/netns/NAME is that namespace, else "net:[INO]".
std::string describe_netns(const NetnsId &id);

} // namespace tmeter

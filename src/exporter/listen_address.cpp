#include "exporter/listen_address.h"

#include <arpa/inet.h>

#include <charconv>

#include <fmt/format.h>

#include "util/error.h"

namespace tmeter {

ListenAddress parse_listen_address(const std::string &text)
{
	auto bad = [&](const char *why) {
		fail_usage(fmt::format("invalid --listen '{}': {} (expected ADDR:PORT, e.g. "
				       "127.0.0.1:9464 or [::1]:9464)",
				       text, why));
	};
	const size_t colon = text.rfind(':');
	if (colon == std::string::npos || colon == 0)
		bad("no port");
	ListenAddress a;
	a.text = text;
	a.host = text.substr(0, colon);
	if (a.host.size() >= 2 && a.host.front() == '[' && a.host.back() == ']')
		a.host = a.host.substr(1, a.host.size() - 2);
	else if (a.host.find(':') != std::string::npos)
		bad("an IPv6 address goes in brackets");
	unsigned char buf[16];
	if (inet_pton(AF_INET, a.host.c_str(), buf) != 1 && inet_pton(AF_INET6, a.host.c_str(), buf) != 1)
		bad("not an IP address");
	const char *p = text.data() + colon + 1, *end = text.data() + text.size();
	auto [ptr, ec] = std::from_chars(p, end, a.port);
	if (ec != std::errc() || ptr != end || a.port < 1 || a.port > 65535)
		bad("port must be 1-65535");
	return a;
}

} // namespace tmeter

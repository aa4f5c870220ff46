// `serve --listen ADDR:PORT`: "127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464".
#pragma once

#include <string>

namespace tmeter {

struct ListenAddress {
	std::string host; // without brackets
	int port = 0;
	std::string text; // as given
};

// Throws a usage Error naming the input.
ListenAddress parse_listen_address(const std::string &text);

} // namespace tmeter

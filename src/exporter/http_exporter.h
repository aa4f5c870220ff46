// The exporter's HTTP side: one cpp-httplib server per --listen address,
// each on its own thread, sharing one Collector.
#pragma once

#include <memory>
#include <thread>
#include <vector>

#include "exporter/collector.h"
#include "exporter/listen_address.h"

namespace httplib {
class Server;
}

namespace tmeter {

class HttpExporter {
public:
	// Binds every address (a failure is a runtime Error naming it; nothing
	// is left listening) and starts serving.
	HttpExporter(Collector &collector, const std::vector<ListenAddress> &addresses);
	~HttpExporter(); // stops and joins
	HttpExporter(const HttpExporter &) = delete;
	HttpExporter &operator=(const HttpExporter &) = delete;

private:
	void route(httplib::Server &srv);

	Collector &collector_;
	std::vector<std::unique_ptr<httplib::Server>> servers_;
	std::vector<std::thread> threads_;
};

} // namespace tmeter

#include "exporter/http_exporter.h"

#include <memory>

#include <httplib.h>

#include <fmt/format.h>

#include "util/error.h"

namespace tmeter {
namespace {

constexpr const char *kIndex =
	"<!DOCTYPE html>\n<html><head><title>traffic_meter</title></head><body>\n"
	"<h1>traffic_meter exporter</h1>\n"
	"<p><a href=\"/metrics\">/metrics</a>: bytes and packets per rule and direction.</p>\n"
	"<p><a href=\"/healthz\">/healthz</a>: 200 while the pinned state is readable.</p>\n"
	"</body></html>\n";

// OpenMetrics when the scraper asks for it (Prometheus sends
// "application/openmetrics-text;version=1.0.0,...;q=0.5,..."), else text 0.0.4.
Exposition negotiate(const httplib::Request &req)
{
	const std::string accept = req.get_header_value("Accept");
	return accept.find("application/openmetrics-text") != std::string::npos
		       ? Exposition::kOpenMetrics
		       : Exposition::kPrometheusText;
}

} // namespace

void HttpExporter::route(httplib::Server &srv)
{
	srv.Get("/metrics", [this](const httplib::Request &req, httplib::Response &res) {
		const Exposition format = negotiate(req);
		try {
			// Read now (a failure is a 503), written while it is sent.
			auto model = std::make_shared<const MetricsModel>(collector_.collect());
			res.set_chunked_content_provider(
				content_type(format), [model, format](size_t, httplib::DataSink &sink) {
					bool open = true;
					render_metrics(*model, format, [&](std::string_view piece) {
						open = open && sink.write(piece.data(), piece.size());
					});
					if (open)
						sink.done();
					return open; // false: the scraper went away
				});
		} catch (const std::exception &e) {
			res.status = 503;
			res.set_content(fmt::format("cannot read the traffic_meter state: {}\n", e.what()),
					"text/plain; charset=utf-8");
		}
	});
	srv.Get("/healthz", [this](const httplib::Request &, httplib::Response &res) {
		const bool ok = collector_.healthy();
		res.status = ok ? 200 : 503;
		res.set_content(ok ? "ok\n" : "the pinned state is not readable\n", "text/plain");
	});
	srv.Get("/", [](const httplib::Request &, httplib::Response &res) {
		res.set_content(kIndex, "text/html; charset=utf-8");
	});
}

HttpExporter::HttpExporter(Collector &collector, const std::vector<ListenAddress> &addresses)
    : collector_(collector)
{
	for (const auto &a : addresses) {
		auto srv = std::make_unique<httplib::Server>();
		// Not httplib's default SO_REUSEPORT: a second exporter on the same
		// port must fail to bind, not share the port with the first.
		srv->set_socket_options([](socket_t sock) {
			int yes = 1;
			setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
		});
		route(*srv);
		if (!srv->bind_to_port(a.host.c_str(), a.port))
			fail_runtime(fmt::format("cannot listen on {}: address in use or not available "
						 "here",
						 a.text));
		servers_.push_back(std::move(srv));
	}
	for (auto &srv : servers_)
		threads_.emplace_back([s = srv.get()] { s->listen_after_bind(); });
}

HttpExporter::~HttpExporter()
{
	for (auto &srv : servers_)
		srv->stop();
	for (auto &t : threads_)
		t.join();
}

} // namespace tmeter

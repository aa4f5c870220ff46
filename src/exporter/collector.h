// What one scrape reads (SPEC §4): figures read from the maps at scrape
// time, never cached; the rule set of one committed change; and the rules
// beyond --max-series folded into rule="other", with the set of named
// rules kept from scrape to scrape.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <set>

#include "output/metrics_view.h"
#include "rules/cidr.h"

namespace tmeter {

class Collector {
public:
	Collector(std::filesystem::path pin_dir, uint32_t max_series)
	    : pin_dir_(std::move(pin_dir)), max_series_(max_series) {}

	// Throws Error when the state cannot be read (no state, gone, another
	// namespace's): the scrape fails, as Prometheus wants it to.
	MetricsModel collect();
	// /healthz: the pinned state is there and readable.
	bool healthy() const;

private:
	std::filesystem::path pin_dir_;
	uint32_t max_series_;
	std::mutex mu_;
	std::set<Cidr> named_; // rules with their own series while folding
};

} // namespace tmeter

#include "exporter/collector.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "output/counters_view.h"
#include "rules/rule_store.h"
#include "state/state.h"
#include "state/status_model.h"

namespace tmeter {
namespace {

RuleSeries series_of(const RuleCounters &r)
{
	return {r.cidr.str(), std::string(r.cidr.family_name()), r.up_bytes, r.up_packets,
		r.down_bytes, r.down_packets};
}

} // namespace

MetricsModel Collector::collect()
{
	const auto start = std::chrono::steady_clock::now();
	State state = State::open(pin_dir_, Access::kRead);
	MetricsModel m;
	m.version = TRAFFIC_METER_VERSION;
	// The exporter's counters only go up while a rule lives: kernel figures,
	// without what reset took away or restore put back.
	auto rows = RuleStore(state.maps()).counters(Figures::kKernel);
	StatusModel st = build_status(state, rows.size());
	m.rules_count = rows.size();
	m.rules_capacity = st.rules_capacity;
	m.flows = st.flows;
	m.flows_capacity = st.flows_capacity;
	m.dataplane = st.dataplane;
	for (const auto &i : st.interfaces)
		m.interfaces.push_back({i.name, i.present && i.ingress && (i.egress || !i.egress_expected)});

	m.rules.reserve(std::min<size_t>(rows.size(), max_series_ + 1));
	if (rows.size() <= max_series_) {
		std::lock_guard lock(mu_);
		named_.clear();
		for (const auto &r : rows)
			m.rules.push_back(series_of(r));
	} else {
		std::lock_guard lock(mu_);
		// The named set is chosen when the rules first cross the limit (the
		// largest by total bytes) and kept; a named rule deleted since
		// leaves room for the largest of the rest.
		// A sorted vector, not a set: a million rules are 24 MB, not 80.
		std::vector<Cidr> live;
		live.reserve(rows.size());
		for (const auto &r : rows)
			live.push_back(r.cidr);
		std::sort(live.begin(), live.end());
		std::erase_if(named_, [&](const Cidr &c) {
			return !std::binary_search(live.begin(), live.end(), c);
		});
		if (named_.size() < max_series_) {
			std::vector<const RuleCounters *> rest;
			for (const auto &r : rows)
				if (!named_.contains(r.cidr))
					rest.push_back(&r);
			const size_t want = max_series_ - named_.size();
			std::partial_sort(rest.begin(), rest.begin() + std::min(want, rest.size()), rest.end(),
					  [](const RuleCounters *a, const RuleCounters *b) {
						  return total_bytes(*a) > total_bytes(*b);
					  });
			for (size_t i = 0; i < want && i < rest.size(); ++i)
				named_.insert(rest[i]->cidr);
		}
		RuleSeries other{"other", "any"};
		for (const auto &r : rows) {
			if (named_.contains(r.cidr)) {
				m.rules.push_back(series_of(r));
				continue;
			}
			other.up_bytes += r.up_bytes;
			other.up_packets += r.up_packets;
			other.down_bytes += r.down_bytes;
			other.down_packets += r.down_packets;
			++m.rules_folded;
		}
		m.rules.push_back(other);
	}
	m.scrape_seconds =
		std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	return m;
}

bool Collector::healthy() const
{
	try {
		State state = State::open(pin_dir_, Access::kRead);
		state.config();
		return true;
	} catch (const std::exception &) {
		return false;
	}
}

} // namespace tmeter

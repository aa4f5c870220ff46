#include "bpf/counter_table.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "bpf/map_io.h"
#include "bpf/map_set.h"
#include "util/error.h"

namespace tmeter {
namespace {

constexpr uint32_t kChunkSlots = 16384;

} // namespace

CounterTable::CounterTable(const Fd &map) : map_(map), cpus_(possible_cpus())
{
	bpf_map_info info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(map.get(), &info, &len))
		fail_errno("cannot query tm_counters", errno);
	per_cpu_ = info.type == BPF_MAP_TYPE_PERCPU_ARRAY;
	rules_ = per_cpu_ ? info.max_entries : rules_of(info.max_entries, cpus_);
	if (!per_cpu_ && (info.type != BPF_MAP_TYPE_ARRAY || info.max_entries % cpus_))
		fail_runtime(fmt::format("tm_counters has {} entries, not a whole row for each of "
					 "the {} possible CPUs: state of another machine or build; "
					 "`purge` to start over",
					 info.max_entries, cpus_));
}

uint32_t CounterTable::entries_for(uint32_t rules, unsigned cpus)
{
	const uint64_t n = uint64_t(rules) * cpus;
	if (n > UINT32_MAX)
		fail_usage(fmt::format("--max-rules {} is too large for {} CPUs: the counters hold "
				       "at most {} rules on this machine",
				       rules, cpus, UINT32_MAX / cpus));
	return uint32_t(n);
}

void CounterTable::read_range(uint32_t first, uint32_t count, tm_counters *out) const
{
	if (per_cpu_) {
		read_array_range(map_, cpus_ * sizeof(tm_counters), first, count,
				 reinterpret_cast<uint8_t *>(out));
		return;
	}
	// A CPU's row is one range of the map: one batched read per CPU.
	std::vector<tm_counters> row(count);
	for (unsigned cpu = 0; cpu < cpus_; ++cpu) {
		read_array_range(map_, sizeof(tm_counters), entry(cpu, first), count,
				 reinterpret_cast<uint8_t *>(row.data()));
		for (uint32_t i = 0; i < count; ++i)
			out[size_t(i) * cpus_ + cpu] = row[i];
	}
}

void CounterTable::read(std::span<const uint32_t> slots, tm_counters *out) const
{
	// A per-CPU lookup returns a slot's CPUs at once; the CPU-major map
	// holds them in as many entries.
	const unsigned lookups = per_cpu_ ? 1 : cpus_;
	for (size_t i = 0; i < slots.size(); ++i)
		for (unsigned cpu = 0; cpu < lookups; ++cpu) {
			const uint32_t key = per_cpu_ ? slots[i] : entry(cpu, slots[i]);
			if (bpf_map_lookup_elem(map_.get(), &key, &out[i * cpus_ + cpu]))
				fail_errno("cannot read counters", errno);
		}
}

void CounterTable::write(std::span<const uint32_t> slots, const tm_counters *values) const
{
	if (per_cpu_) {
		write_array(map_, slots, reinterpret_cast<const uint8_t *>(values),
			    cpus_ * sizeof(tm_counters));
		return;
	}
	std::vector<uint32_t> keys(slots.size() * cpus_);
	for (size_t i = 0; i < slots.size(); ++i)
		for (unsigned cpu = 0; cpu < cpus_; ++cpu)
			keys[i * cpus_ + cpu] = entry(cpu, slots[i]);
	write_array(map_, keys, reinterpret_cast<const uint8_t *>(values), sizeof(tm_counters));
}

void CounterTable::read_chunks(uint32_t limit,
			       const std::function<void(uint32_t, const tm_counters *, uint32_t)> &fn) const
{
	const uint32_t total = std::min(limit, rules_);
	std::vector<tm_counters> values(size_t(std::min(kChunkSlots, total)) * cpus_);
	for (uint32_t first = 0; first < total; first += kChunkSlots) {
		const uint32_t count = std::min(kChunkSlots, total - first);
		read_range(first, count, values.data());
		fn(first, values.data(), count);
	}
}

} // namespace tmeter

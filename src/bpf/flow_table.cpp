#include "bpf/flow_table.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bpf/map_io.h"
#include "util/error.h"

namespace tmeter {
namespace {

std::vector<uint32_t> first_keys(size_t n)
{
	std::vector<uint32_t> keys(n);
	for (uint32_t i = 0; i < keys.size(); ++i)
		keys[i] = i;
	return keys;
}

} // namespace

bool place_flow(FlowTableImage &table, const tm_flow_entry &e, bool two_way)
{
	__u64 w[5];
	std::memcpy(w, &e.key, sizeof(w));
	const uint64_t h = tm_flow_hash(w);
	tm_flow_bucket &b = table.heads[tm_flow_bucket_index(h, uint32_t(table.heads.size()))];
	const int first = two_way ? 0 : TM_FLOW_WAYS, end = two_way ? TM_FLOW_WAYS : TM_FLOW_SLOTS;
	for (int k = first; k < end; ++k) {
		if (b.tag[k])
			continue;
		b.entry[k] = uint32_t(table.pool.size());
		b.tag[k] = tm_flow_tag(h);
		table.pool.push_back(e);
		return true;
	}
	return false;
}

void write_flow_table(const MapSet &maps, const FlowTableImage &table)
{
	if (table.pool.size() > MapSet::capacity(maps.flow_pool))
		fail_runtime("the flow table's pool is smaller than its flows");
	write_array(maps.flow_table, first_keys(table.heads.size()),
		    reinterpret_cast<const uint8_t *>(table.heads.data()), sizeof(tm_flow_bucket));
	write_array(maps.flow_pool, first_keys(table.pool.size()),
		    reinterpret_cast<const uint8_t *>(table.pool.data()), sizeof(tm_flow_entry));
	tm_flow_alloc alloc{};
	alloc.used = uint32_t(table.pool.size() - 1);
	uint32_t zero = 0;
	if (bpf_map_update_elem(maps.flow_alloc.get(), &zero, &alloc, BPF_ANY))
		fail_errno("cannot write tm_flow_alloc", errno);
	// Empty reserves: entries a CPU held may have been placed flows now.
	const std::vector<tm_flow_reserve> reserves(possible_cpus());
	if (bpf_map_update_elem(maps.flow_reserve.get(), &zero, reserves.data(), BPF_ANY))
		fail_errno("cannot write tm_flow_reserve", errno);
}

void for_each_flow(const MapSet &maps, const std::function<void(const tm_flow_entry &, bool)> &fn)
{
	// The heads first, then the entries they name, in pool order: the
	// pool is read once, in chunks, however the flows are spread.
	std::vector<std::pair<uint32_t, bool>> ways; // (entry, two-way)
	read_array_chunks(maps.flow_table, sizeof(tm_flow_bucket), kWholeArray,
			  [&](uint32_t, const uint8_t *values, uint32_t count) {
				  const auto *b = reinterpret_cast<const tm_flow_bucket *>(values);
				  for (uint32_t i = 0; i < count; ++i)
					  for (int j = 0; j < TM_FLOW_SLOTS; ++j)
						  if (b[i].tag[j] && b[i].entry[j])
							  ways.emplace_back(b[i].entry[j], j < TM_FLOW_WAYS);
			  });
	if (ways.empty())
		return;
	std::sort(ways.begin(), ways.end());
	size_t next = 0;
	read_array_chunks(maps.flow_pool, sizeof(tm_flow_entry), ways.back().first + 1,
			  [&](uint32_t first, const uint8_t *values, uint32_t count) {
				  const auto *e = reinterpret_cast<const tm_flow_entry *>(values);
				  for (; next < ways.size() && ways[next].first < first + count; ++next)
					  fn(e[ways[next].first - first], ways[next].second);
			  });
}

} // namespace tmeter

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

namespace {

// A way with a flow, as the first read of the heads saw it.
struct FlowWay {
	uint32_t entry;
	uint32_t bucket;
	bool two_way;
};

constexpr int kBucketReadAttempts = 100;

// Whether a way's entry index names an entry of the pool (0 is none; one
// past the pool is not ours either: the data plane treats it so).
bool has_entry(uint32_t idx, uint32_t pool) { return idx && idx < pool; }

// Bucket i alone, read until its sequence word is even and the same before
// and after its entries: then heads and entries are what the data plane
// last wrote, not a mix (a writer makes the word odd while it works, under
// the bucket's lock). fn gets its flows; false, and no call, if the
// bucket never read twice the same (a writer at work on every attempt).
bool read_bucket(const MapSet &maps, uint32_t i,
		 const std::function<void(const tm_flow_entry &, bool)> &fn)
{
	const uint32_t pool = MapSet::capacity(maps.flow_pool);
	for (int attempt = 0; attempt < kBucketReadAttempts; ++attempt) {
		tm_flow_bucket before{}, after{};
		if (bpf_map_lookup_elem(maps.flow_table.get(), &i, &before))
			fail_errno("cannot read the flow table", errno);
		if (before.seq & 1)
			continue;
		std::vector<std::pair<tm_flow_entry, bool>> flows;
		for (int j = 0; j < TM_FLOW_SLOTS; ++j) {
			if (!before.tag[j] || !has_entry(before.entry[j], pool))
				continue;
			tm_flow_entry e{};
			if (bpf_map_lookup_elem(maps.flow_pool.get(), &before.entry[j], &e))
				fail_errno("cannot read the flow table's pool", errno);
			flows.emplace_back(e, j < TM_FLOW_WAYS);
		}
		if (bpf_map_lookup_elem(maps.flow_table.get(), &i, &after))
			fail_errno("cannot read the flow table", errno);
		if (after.seq != before.seq)
			continue;
		for (const auto &[e, two_way] : flows)
			fn(e, two_way);
		return true;
	}
	return false;
}

} // namespace

uint64_t for_each_flow(const MapSet &maps,
		       const std::function<void(const tm_flow_entry &, bool)> &fn,
		       const std::function<void()> &after_first_read)
{
	// The table is live: the data plane may insert, move and evict flows
	// while it is read. A bulk read (the heads, then the entries they
	// name, in pool order, so the pool is read once in chunks however the
	// flows are spread) keeps the flows of each bucket whose sequence word
	// is even and unchanged in a second read of the heads; the others are
	// read again one by one (read_bucket). The entries wait for that check
	// in a copy: 64 bytes a flow, for the time of the read.
	const uint32_t pool = MapSet::capacity(maps.flow_pool);
	std::vector<uint32_t> seq;
	std::vector<FlowWay> ways;
	read_array_chunks(maps.flow_table, sizeof(tm_flow_bucket), kWholeArray,
			  [&](uint32_t first, const uint8_t *values, uint32_t count) {
				  const auto *b = reinterpret_cast<const tm_flow_bucket *>(values);
				  for (uint32_t i = 0; i < count; ++i) {
					  seq.push_back(b[i].seq);
					  for (int j = 0; j < TM_FLOW_SLOTS; ++j)
						  if (b[i].tag[j] && has_entry(b[i].entry[j], pool))
							  ways.push_back({b[i].entry[j], first + i,
									  j < TM_FLOW_WAYS});
				  }
			  });
	std::sort(ways.begin(), ways.end(),
		  [](const FlowWay &a, const FlowWay &b) { return a.entry < b.entry; });
	std::vector<tm_flow_entry> entries(ways.size());
	size_t next = 0;
	if (!ways.empty())
		read_array_chunks(maps.flow_pool, sizeof(tm_flow_entry), ways.back().entry + 1,
				  [&](uint32_t first, const uint8_t *values, uint32_t count) {
					  const auto *e = reinterpret_cast<const tm_flow_entry *>(values);
					  for (; next < ways.size() && ways[next].entry < first + count; ++next)
						  entries[next] = e[ways[next].entry - first];
				  });
	if (after_first_read)
		after_first_read();
	std::vector<bool> written(seq.size());
	read_array_chunks(maps.flow_table, sizeof(tm_flow_bucket), uint32_t(seq.size()),
			  [&](uint32_t first, const uint8_t *values, uint32_t count) {
				  const auto *b = reinterpret_cast<const tm_flow_bucket *>(values);
				  for (uint32_t i = 0; i < count; ++i)
					  written[first + i] = (seq[first + i] & 1) || b[i].seq != seq[first + i];
			  });
	for (size_t k = 0; k < ways.size(); ++k)
		if (!written[ways[k].bucket])
			fn(entries[k], ways[k].two_way);
	uint64_t missed = 0;
	for (uint32_t i = 0; i < written.size(); ++i)
		if (written[i] && !read_bucket(maps, i, fn))
			++missed;
	return missed;
}

} // namespace tmeter

#include "bpf/flow_table.h"

#include <cstring>
#include <vector>

#include "bpf/map_io.h"

namespace tmeter {

bool place_flow(std::span<tm_flow_bucket> table, const tm_flow_entry &e, bool two_way)
{
	__u64 w[5];
	std::memcpy(w, &e.key, sizeof(w));
	const uint64_t h = tm_flow_hash(w);
	tm_flow_bucket &b = table[tm_flow_bucket_index(h, uint32_t(table.size()))];
	const int first = two_way ? 0 : TM_FLOW_WAYS, end = two_way ? TM_FLOW_WAYS : TM_FLOW_SLOTS;
	for (int k = first; k < end; ++k) {
		if (b.tag[k])
			continue;
		b.slot[k] = e;
		b.tag[k] = tm_flow_tag(h);
		return true;
	}
	return false;
}

void write_flow_table(const Fd &map, std::span<const tm_flow_bucket> table)
{
	std::vector<uint32_t> keys(table.size());
	for (uint32_t i = 0; i < keys.size(); ++i)
		keys[i] = i;
	write_array(map, keys, reinterpret_cast<const uint8_t *>(table.data()), sizeof(tm_flow_bucket));
}

} // namespace tmeter

#include "bpf/map_io.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <vector>

#include "bpf/map_set.h"
#include "util/error.h"

namespace tmeter {
namespace {

constexpr uint32_t kChunk = 16384;

// 524: the kernel's internal ENOTSUPP, which some kernels (5.10) let out.
bool batch_unsupported(int err)
{
	return err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP || err == 524;
}

} // namespace

void read_array_chunks(const Fd &map, size_t value_size, uint32_t limit,
		       const std::function<void(uint32_t, const uint8_t *, uint32_t)> &fn,
		       uint64_t elem_flags)
{
	const uint32_t total = std::min(limit, MapSet::capacity(map));
	std::vector<uint32_t> keys(kChunk);
	std::vector<uint8_t> values(static_cast<size_t>(kChunk) * value_size);
	uint32_t out_batch = 0, first = 0;
	bool use_batch = true;
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = elem_flags);

	while (first < total) {
		uint32_t count = std::min(kChunk, total - first);
		if (use_batch) {
			int err = bpf_map_lookup_batch(map.get(), first ? &out_batch : nullptr, &out_batch,
						       keys.data(), values.data(), &count, &opts);
			if (err && errno == ENOENT) {
				if (count)
					fn(first, values.data(), count);
				return; // end of map
			}
			if (err && batch_unsupported(errno) && first == 0) {
				use_batch = false;
				continue;
			}
			if (err)
				fail_errno("cannot read map", errno);
		} else {
			for (uint32_t i = 0; i < count; ++i) {
				uint32_t key = first + i;
				if (bpf_map_lookup_elem_flags(map.get(), &key, values.data() + i * value_size,
							      elem_flags))
					fail_errno("cannot read map", errno);
			}
		}
		fn(first, values.data(), count);
		first += count;
	}
}

void read_array_range(const Fd &map, size_t value_size, uint32_t first, uint32_t count,
		      uint8_t *values)
{
	std::vector<uint32_t> keys(std::min(kChunk, count));
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	uint32_t done = 0;
	while (done < count) {
		// An array's batch cursor is the key read last: start after first - 1.
		uint32_t n = std::min(kChunk, count - done), in_batch = first + done - 1, out_batch = 0;
		int err = bpf_map_lookup_batch(map.get(), first + done ? &in_batch : nullptr, &out_batch,
					       keys.data(), values + done * value_size, &n, &opts);
		if (err && batch_unsupported(errno))
			break;
		if (err && errno != ENOENT)
			fail_errno("cannot read map", errno);
		done += n;
		if (err || n == 0)
			break; // end of map
	}
	for (; done < count; ++done) {
		uint32_t key = first + done;
		if (bpf_map_lookup_elem(map.get(), &key, values + done * value_size))
			fail_errno("cannot read map", errno);
	}
}

void write_array(const Fd &map, std::span<const uint32_t> keys, const uint8_t *values,
		 size_t value_size)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	size_t done = 0;
	while (done < keys.size()) {
		uint32_t count = static_cast<uint32_t>(std::min<size_t>(kChunk, keys.size() - done));
		int err = bpf_map_update_batch(map.get(), keys.data() + done, values + done * value_size,
					       &count, &opts);
		if (err && batch_unsupported(errno))
			break;
		if (err)
			fail_errno("cannot update map", errno);
		done += count;
	}
	for (; done < keys.size(); ++done) {
		if (bpf_map_update_elem(map.get(), &keys[done], values + done * value_size, BPF_ANY))
			fail_errno("cannot update map", errno);
	}
}

} // namespace tmeter

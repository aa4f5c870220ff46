// Bulk reads and writes of array maps: batched syscalls where the kernel
// has them (5.6+), one element at a time where it does not.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "util/fd.h"

namespace tmeter {

// Calls fn(first_index, values, count) for consecutive chunks of an array
// map, keys 0..min(limit, max_entries)-1; values hold count * value_size
// bytes. elem_flags BPF_F_LOCK copies each value under its bpf_spin_lock.
constexpr uint32_t kWholeArray = UINT32_MAX;
void read_array_chunks(const Fd &map, size_t value_size, uint32_t limit,
		       const std::function<void(uint32_t, const uint8_t *, uint32_t)> &fn,
		       uint64_t elem_flags = 0);

// Reads keys first..first+count-1 of an array map into values (count *
// value_size bytes).
void read_array_range(const Fd &map, size_t value_size, uint32_t first, uint32_t count,
		      uint8_t *values);

// Writes values[i] (value_size bytes each) at keys[i].
void write_array(const Fd &map, std::span<const uint32_t> keys, const uint8_t *values,
		 size_t value_size);

} // namespace tmeter

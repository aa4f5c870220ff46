// for_each_slot, a template (slot_table.h).
#pragma once

#include "bpf/map_io.h"

namespace tmeter {

template <typename Fn> void for_each_slot(const MapSet &maps, uint32_t used, Fn fn)
{
	read_array_chunks(maps.rule_slots, sizeof(tm_rule_slot), used,
			  [&](uint32_t first, const uint8_t *values, uint32_t count) {
				  auto *v = reinterpret_cast<const tm_rule_slot *>(values);
				  for (uint32_t i = 0; i < count; ++i)
					  fn(first + i, v[i]);
			  });
}

} // namespace tmeter

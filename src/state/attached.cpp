#include "state/attached.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <ctime>

#include "util/error.h"

namespace tmeter {

std::map<int, tm_attached_iface> read_attached(const Fd &attached_map)
{
	std::map<int, tm_attached_iface> out;
	uint32_t key = 0, next = 0;
	uint32_t *prev = nullptr;
	while (bpf_map_get_next_key(attached_map.get(), prev, &next) == 0) {
		tm_attached_iface value{};
		if (bpf_map_lookup_elem(attached_map.get(), &next, &value) == 0)
			out.emplace(static_cast<int>(next), value);
		key = next;
		prev = &key;
	}
	return out;
}

void mark_attached(const MapSet &maps, int ifindex, uint32_t link_kind)
{
	uint32_t key = static_cast<uint32_t>(ifindex);
	tm_attached_iface value{};
	// A re-load keeps the time of the first attach.
	if (bpf_map_lookup_elem(maps.attached.get(), &key, &value) || value.link_kind != link_kind)
		value.attached_at = static_cast<uint64_t>(time(nullptr));
	value.link_kind = link_kind;
	if (bpf_map_update_elem(maps.attached.get(), &key, &value, BPF_ANY))
		fail_errno("cannot record the attached interface", errno);
}

void mark_detached(const MapSet &maps, int ifindex)
{
	uint32_t key = static_cast<uint32_t>(ifindex);
	if (bpf_map_delete_elem(maps.attached.get(), &key) && errno != ENOENT)
		fail_errno("cannot forget the detached interface", errno);
}

} // namespace tmeter

#include "state/attach.h"

#include <fmt/format.h>

#include "net/device.h"
#include "state/ifaces.h"
#include "util/error.h"

namespace tmeter {

void attach_interface(const State &state, const BpfObject &obj, const LinkInfo &link,
		      AttachMode mode, uint32_t maps_gen)
{
	const uint32_t kind = link_kind_of(link);
	const bool l3 = kind == TM_LINK_NONE;
	auto records = read_ifaces(state.maps().ifaces);
	auto it = records.find(link.ifindex);
	AttachRequest req;
	req.ifindex = link.ifindex;
	req.name = link.name;
	req.ingress_fd = obj.prog_fd(false, l3);
	req.egress_fd = kind == TM_LINK_LOOPBACK ? -1 : obj.prog_fd(true, l3);
	req.mode = mode;
	req.links_dir = state.links_dir();
	if (it != records.end() && it->second.role == TM_ROLE_ATTACHED)
		req.previous = hook_record_of(it->second);
	// Recorded first, as attached, so that an egress hook elsewhere does not
	// count again what this ingress is about to count.
	HookRecord pending = req.previous.value_or(HookRecord{});
	record_attached(state.maps(), link, kind, pending, it != records.end() ? it->second.maps_gen : maps_gen);
	try {
		record_attached(state.maps(), link, kind, attach_hooks(req), maps_gen);
	} catch (const Error &) {
		if (!req.previous)
			forget_iface(state.maps(), link.ifindex);
		throw;
	}
}

void reattach_all(const State &state, const BpfObject &obj, uint32_t maps_gen)
{
	auto links = list_links();
	for (const auto &[ifindex, rec] : attached_ifaces(state.maps())) {
		for (const auto &link : links)
			if (link.ifindex == ifindex)
				attach_interface(state, obj, link, AttachMode::kAuto, maps_gen);
	}
}

bool detach_interface(const State &state, int ifindex, const std::string &name)
{
	auto records = read_ifaces(state.maps().ifaces);
	auto it = records.find(ifindex);
	bool found = false;
	if (it != records.end() && it->second.role == TM_ROLE_ATTACHED && !name.empty())
		found = detach_hooks(ifindex, name, hook_record_of(it->second), state.links_dir());
	forget_iface(state.maps(), ifindex);
	return found;
}

} // namespace tmeter

// Putting a loaded object's programs on interfaces and taking them off,
// with the records in tm_ifaces kept to match.
#pragma once

#include <string>

#include "bpf/bpf_object.h"
#include "net/hooks.h"
#include "net/netlink.h"
#include "state/state.h"

namespace tmeter {

// Attaches the entry points fit for the device (no link-layer header or
// Ethernet; loopback at ingress only: its egress comes straight back in),
// replacing ours in place if there, and records it.
void attach_interface(const State &state, const BpfObject &obj, const LinkInfo &link,
		      AttachMode mode, uint32_t maps_gen);

// Moves every recorded interface that still exists onto obj (resize);
// records of interfaces that are gone stay for `status` to report.
void reattach_all(const State &state, const BpfObject &obj, uint32_t maps_gen);

// Takes our hooks off and forgets the record. Returns false if no hook of
// ours was there any more.
bool detach_interface(const State &state, int ifindex, const std::string &name);

} // namespace tmeter

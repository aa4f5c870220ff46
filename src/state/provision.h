// Getting a state to change the hooks of (load, apply, serve): the existing
// one, after recovering what a killed command left, or a new one made by
// the first load (pin directory, mount, maps, pins), or one migrated from
// the previous ABI.
#pragma once

#include <optional>

#include "bpf/bpf_object.h"
#include "state/resize.h"
#include "state/state.h"

namespace tmeter {

struct Provisioned {
	State state;
	std::optional<BpfObject> obj; // loaded on the state's maps, when provisioning loaded one
	bool created = false;	      // a failure after this should purge it again
	uint32_t migrated_from = 0; // the ABI of the state carried over, if any
};

// With the lock held. `caps` size a new state's maps.
Provisioned provision_state(const std::filesystem::path &pin_dir, const Capacities &caps,
			    const ObjectOptions &opts, StateLock lock);

// The object loaded on the state's current maps.
BpfObject load_object_on(const State &state, const ObjectOptions &opts);

} // namespace tmeter

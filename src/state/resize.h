// Changing --max-rules / --max-flows of live state without losing a rule
// or a counter, as one transaction that a SIGKILL at any moment leaves
// either undone or completed by the next writer (docs/DESIGN.md, "Resize").
#pragma once

#include <filesystem>
#include <optional>

#include "bpf/bpf_object.h"
#include "state/state.h"

namespace tmeter {

struct ObjectOptions {
	std::optional<std::filesystem::path> file;
	bool verbose = false;
};

// Builds maps<N+1>/ with the new capacities beside maps<N>/, copies the
// rules and flows, moves every attached interface onto a program that uses
// the new maps, carries the old counters into the new rules, commits with
// one write of tm_config and removes maps<N>/. Returns the object loaded
// on the new maps (what `load` attaches its interface with).
BpfObject resize_state(State &state, const Capacities &target, const ObjectOptions &obj);

// The upgrade of ABI 2 to 5 state (opened with State::open_older): a
// resize to the same capacities that builds this ABI's flow table from the
// old one (ABI 2, 3), new rule maps with CPU-major counters (the old
// per-CPU counts carried) and tm_roles from tm_ifaces (every resize does), and
// commits abi_version with maps_gen, so a kill at any moment
// leaves the old state (upgraded again by the next load) or this ABI's.
// Returns the object loaded on the new maps, if it loaded one (none when
// it only completed an interrupted upgrade).
std::optional<BpfObject> upgrade_older_abi(State &state, const ObjectOptions &opts);

// A resize killed part way (tm_config.resize_gen): discarded if no
// interface was moved yet, otherwise completed. Completing needs what
// attaching needs (CAP_NET_ADMIN): can_attach false makes it a runtime
// Error that says to run `load`.
void recover_resize(State &state, const ObjectOptions &obj, bool can_attach);

} // namespace tmeter

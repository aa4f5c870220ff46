// One instance's state under its pin path (SPEC §5): how a command opens it
// (readers without a lock, writers under StateLock after recovering what a
// killed writer left), how the first `load` creates it and `purge` removes
// it. Only this instance's own pins are ever touched.
#pragma once

#include <filesystem>
#include <optional>

#include "bpf/bpf_object.h"
#include "bpf/map_set.h"
#include "state/pin_dir.h"

namespace tmeter {

// What tm_config under a pin path says.
enum class StateKind {
	kNone,	  // no tm_config: no state (or leftovers of a failed first load)
	kCurrent, // this ABI
	kV1,	  // ABI 1: `load` migrates it (its tm_config has another layout)
	kOlder,	  // ABI 2 up to this one's: `load` upgrades it with a resize to the same
		  // capacities (src/state/resize.h says what each ABI's upgrade carries)
};

// The oldest ABI an upgrade (kOlder) reads.
constexpr uint32_t kOldestUpgradableAbi = 2;

struct StateProbe {
	StateKind kind = StateKind::kNone;
	uint32_t abi = 0; // the state's: 1 for kV1, 0 for kNone
};
StateProbe probe_state(const std::filesystem::path &pin_dir);

enum class Access { kRead, kWrite };

class State {
public:
	// Throws the runtime Error that says what to do when there is no
	// state, a previous ABI's state, or state of another network namespace
	// (unless any_netns). Writers wait for the lock (or bring it: `held`)
	// and roll back an interrupted rule change.
	static State open(const std::filesystem::path &pin_dir, Access access,
			  std::optional<StateLock> held = std::nullopt, bool any_netns = false);

	// The first load: pins the loaded object's maps (tm_config last: its pin
	// makes the state exist) and records identity, namespace and `setup`.
	// Call with the lock held; a failure unpins everything again.
	static State create(const std::filesystem::path &pin_dir, const BpfObject &obj,
			    const PinDirSetup &setup, StateLock lock);

	// Older state (StateKind::kOlder), for its upgrade or purge: its flows
	// are in maps of its own layout (MapSet::open_pinned says which it
	// opens). Under the lock, checked and recovered like open().
	static State open_older(const std::filesystem::path &pin_dir, uint32_t abi, StateLock lock,
				bool any_netns = false);

	// State being built under the lock (migration): no checks, no recovery.
	static State adopt(const std::filesystem::path &pin_dir, StateLock lock, MapSet maps);

	const MapSet &maps() const { return maps_; }
	tm_config config() const { return maps_.read_config(); }
	const std::filesystem::path &pin_dir() const { return pin_dir_; }
	std::filesystem::path links_dir() const { return pin_dir_ / "links"; }
	bool writer() const { return lock_.has_value(); }

	// Reopens the sized maps after a resize committed.
	void reopen();
	// Readers refresh the upper-device records only if no writer is busy.
	void refresh_bookkeeping() const;

	// purge: detaches every hook of ours, unpins every pin of ours, and
	// removes the directory and mount only if `load` made them and nothing
	// else is left there. With detach false (another namespace's state
	// whose namespace is gone), only the pins go.
	void purge(bool detach);

private:
	State(std::filesystem::path pin_dir, std::optional<StateLock> lock, MapSet maps);

	std::filesystem::path pin_dir_;
	std::optional<StateLock> lock_;
	MapSet maps_;
};

// Every pin of ours under pin_dir that no tm_config accounts for (a first
// load killed before it pinned tm_config): removed before a new first load.
void remove_leftover_pins(const std::filesystem::path &pin_dir);

// The network namespace check every command makes on open.
void check_netns(const std::filesystem::path &pin_dir, const tm_config &cfg);

} // namespace tmeter

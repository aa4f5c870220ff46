#include "state/provision.h"

#include "state/capacity.h"
#include "state/migrate_v1.h"
#include "util/error.h"

namespace tmeter {

Provisioned provision_state(const std::filesystem::path &pin_dir, const Capacities &caps,
			    const ObjectOptions &opts, StateLock lock)
{
	refuse_throwaway_mount(pin_dir);
	const StateProbe probe = probe_state(pin_dir);
	switch (probe.kind) {
	case StateKind::kNone: {
		check_capacities_fit(caps);
		PinDirSetup setup = prepare_pin_dir(pin_dir);
		try {
			remove_leftover_pins(pin_dir);
			BpfObject obj = BpfObject::open(opts.file);
			obj.set_capacities(caps);
			obj.load(opts.verbose);
			State state = State::create(pin_dir, obj, setup, std::move(lock));
			return {std::move(state), std::move(obj), true, false};
		} catch (const Error &) {
			release_pin_dir(pin_dir, setup.flags());
			throw;
		}
	}
	case StateKind::kV1:
		return {migrate_v1(pin_dir, opts, std::move(lock)), std::nullopt, false, 1};
	case StateKind::kOlder: {
		State state = State::open_older(pin_dir, probe.abi, std::move(lock));
		std::optional<BpfObject> obj = upgrade_older_abi(state, opts);
		return {std::move(state), std::move(obj), false, probe.abi};
	}
	case StateKind::kCurrent:
		break;
	}
	State state = State::open(pin_dir, Access::kWrite, std::move(lock));
	recover_resize(state, opts, true);
	return {std::move(state), std::nullopt, false, false};
}

BpfObject load_object_on(const State &state, const ObjectOptions &opts)
{
	BpfObject obj = BpfObject::open(opts.file);
	obj.reuse_if(state.maps(), [](std::string_view) { return true; });
	obj.load(opts.verbose);
	return obj;
}

} // namespace tmeter

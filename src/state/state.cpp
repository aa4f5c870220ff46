#include "state/state.h"

#include <bpf/bpf.h>
#include <net/if.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include <fmt/format.h>

#include "bpf/pin_errors.h"
#include "net/hooks.h"
#include "rules/rule_store.h"
#include "state/ifaces.h"
#include "state/netns.h"
#include "util/error.h"

namespace tmeter {
namespace {

constexpr uint32_t kV1ConfigSize = 32; // struct tm_config of ABI 1

uint64_t random_id()
{
	uint64_t id = 0;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = uint64_t(time(nullptr)) ^ uint64_t(getpid()) << 32;
	return id;
}

void unpin(const std::filesystem::path &p)
{
	if (unlink(p.c_str()) && errno != ENOENT)
		fail_errno(fmt::format("cannot remove {}", p.string()), errno);
}

// Removes our pins in one maps<N>/ directory, and the directory if empty.
void remove_sized_dir(const std::filesystem::path &dir)
{
	for (const auto &e : MapSet::kSized)
		unpin(dir / e.name);
	for (const auto name : MapSet::kAbi2Flows)
		unpin(dir / name);
	rmdir(dir.c_str());
}

bool is_sized_dir_name(const std::string &name)
{
	return name.size() > 4 && name.starts_with("maps") &&
	       name.find_first_not_of("0123456789", 4) == std::string::npos;
}

void remove_links_dir(const std::filesystem::path &dir)
{
	std::error_code ec;
	for (const auto &entry : std::filesystem::directory_iterator(dir, ec)) {
		const auto name = entry.path().filename().string();
		if (name.starts_with("if") && (name.ends_with("_ingress") || name.ends_with("_egress")))
			unpin(entry.path());
	}
	rmdir(dir.c_str());
}

} // namespace

StateProbe probe_state(const std::filesystem::path &pin_dir)
{
	const auto path = pin_dir / "tm_config";
	Fd fd(bpf_obj_get(path.c_str()));
	if (!fd) {
		if (errno == ENOENT)
			return {};
		fail_pin_errno(path, errno);
	}
	bpf_map_info info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd.get(), &info, &len))
		fail_errno(fmt::format("cannot query {}", path.string()), errno);
	if (info.type != BPF_MAP_TYPE_ARRAY)
		fail_runtime(fmt::format("{} is not a traffic_meter map; is --pin-path another tool's "
					 "directory?",
					 path.string()));
	if (info.value_size == kV1ConfigSize)
		return {StateKind::kV1, 1};
	tm_config cfg{};
	uint32_t zero = 0;
	if (info.value_size != sizeof(tm_config) || bpf_map_lookup_elem(fd.get(), &zero, &cfg) ||
	    cfg.magic != TM_CONFIG_MAGIC)
		fail_runtime(fmt::format("{} is not the state of this traffic_meter (ABI {}); use the "
					 "traffic_meter that made it, or a new --pin-path",
					 path.string(), TM_ABI_VERSION));
	if (cfg.abi_version >= kOldestUpgradableAbi && cfg.abi_version < TM_ABI_VERSION)
		return {StateKind::kOlder, cfg.abi_version};
	if (cfg.abi_version != TM_ABI_VERSION)
		fail_runtime(fmt::format("the state at {} was made by a newer traffic_meter (ABI {}; "
					 "this one has ABI {}): use that one, or `purge` with it first",
					 pin_dir.string(), cfg.abi_version, TM_ABI_VERSION));
	return {StateKind::kCurrent, TM_ABI_VERSION};
}

void check_netns(const std::filesystem::path &pin_dir, const tm_config &cfg)
{
	const NetnsId here = current_netns(), recorded{cfg.netns_dev, cfg.netns_ino};
	if (here == recorded)
		return;
	fail_runtime(fmt::format("the state at {} belongs to network namespace {}, not this one "
				 "({}): interface indexes mean nothing here; run the command there "
				 "(nsenter --net=/run/netns/NAME traffic_meter ...)",
				 pin_dir.string(), describe_netns(recorded), describe_netns(here)));
}

State::State(std::filesystem::path pin_dir, std::optional<StateLock> lock, MapSet maps)
    : pin_dir_(std::move(pin_dir)), lock_(std::move(lock)), maps_(std::move(maps))
{
}

State State::open(const std::filesystem::path &pin_dir, Access access,
		   std::optional<StateLock> held, bool any_netns)
{
	std::optional<StateLock> lock = std::move(held);
	if (access == Access::kWrite && !lock)
		lock.emplace(pin_dir);
	require_pin_dir(pin_dir);
	const StateProbe probe = probe_state(pin_dir);
	switch (probe.kind) {
	case StateKind::kNone:
		fail_runtime(fmt::format("no traffic_meter state at {}; run `traffic_meter load --dev "
					 "IF` first (or pass the --pin-path it was loaded with)",
					 pin_dir.string()));
	case StateKind::kV1:
	case StateKind::kOlder:
		fail_runtime(fmt::format("the state at {} was made by an older traffic_meter (ABI {}); "
					 "run `traffic_meter load --dev IF` once to carry its rules and "
					 "counters over",
					 pin_dir.string(), probe.abi));
	case StateKind::kCurrent:
		break;
	}
	MapSet maps = MapSet::open_pinned(pin_dir);
	if (!any_netns)
		check_netns(pin_dir, maps.read_config());
	State state(pin_dir, std::move(lock), std::move(maps));
	if (state.writer())
		RuleStore(state.maps_).recover();
	return state;
}

State State::open_older(const std::filesystem::path &pin_dir, uint32_t abi, StateLock lock,
			 bool any_netns)
{
	MapSet maps = MapSet::open_pinned(pin_dir, 0, abi);
	if (!any_netns)
		check_netns(pin_dir, maps.read_config());
	State state(pin_dir, std::move(lock), std::move(maps));
	RuleStore(state.maps_).recover();
	return state;
}

State State::create(const std::filesystem::path &pin_dir, const BpfObject &obj,
		    const PinDirSetup &setup, StateLock lock)
{
	MapSet maps = obj.maps();
	tm_config cfg{};
	cfg.magic = TM_CONFIG_MAGIC;
	cfg.abi_version = TM_ABI_VERSION;
	cfg.rules_gen = 1;
	cfg.max_rules = MapSet::capacity(maps.rule_slots);
	cfg.max_flows = flow_capacity(MapSet::capacity(maps.flow_table));
	cfg.maps_gen = 1;
	cfg.flags = setup.flags();
	const NetnsId ns = current_netns();
	cfg.netns_dev = ns.dev;
	cfg.netns_ino = ns.ino;
	cfg.instance_id = random_id();
	cfg.created_at = uint64_t(time(nullptr));
	maps.write_config(cfg);

	const auto sized = MapSet::sized_dir(pin_dir, cfg.maps_gen);
	try {
		if (mkdir(sized.c_str(), 0700) && errno != EEXIST)
			fail_errno(fmt::format("cannot create {}", sized.string()), errno);
		for (const auto &e : MapSet::kSized)
			if (bpf_obj_pin((maps.*(e.member)).get(), (sized / e.name).c_str()))
				fail_errno(fmt::format("cannot pin {}", (sized / e.name).string()), errno);
		for (const auto &e : MapSet::kFixed)
			if (e.name != "tm_config" &&
			    bpf_obj_pin((maps.*(e.member)).get(), (pin_dir / e.name).c_str()))
				fail_errno(fmt::format("cannot pin {}", (pin_dir / e.name).string()), errno);
		if (bpf_obj_pin(maps.config.get(), (pin_dir / "tm_config").c_str()))
			fail_errno(fmt::format("cannot pin {}", (pin_dir / "tm_config").string()), errno);
	} catch (const Error &) {
		remove_leftover_pins(pin_dir);
		release_pin_dir(pin_dir, setup.flags());
		throw;
	}
	return State(pin_dir, std::move(lock), std::move(maps));
}

State State::adopt(const std::filesystem::path &pin_dir, StateLock lock, MapSet maps)
{
	return State(pin_dir, std::move(lock), std::move(maps));
}

void remove_leftover_pins(const std::filesystem::path &pin_dir)
{
	std::error_code ec;
	for (const auto &e : MapSet::kFixed)
		if (e.name != "tm_config")
			unpin(pin_dir / e.name);
	for (const auto &entry : std::filesystem::directory_iterator(pin_dir, ec))
		if (entry.is_directory() && is_sized_dir_name(entry.path().filename().string()))
			remove_sized_dir(entry.path());
	remove_links_dir(pin_dir / "links");
	unpin(pin_dir / "tm_config");
}

void State::reopen() { maps_ = MapSet::open_pinned(pin_dir_); }

void State::refresh_bookkeeping() const
{
	if (writer()) {
		refresh_uppers(maps_);
		return;
	}
	if (auto lock = StateLock::try_lock(pin_dir_)) {
		try {
			refresh_uppers(maps_);
		} catch (const Error &) {
			// A reader without write access to the maps: status says it is stale.
		}
	}
}

void State::purge(bool detach)
{
	const tm_config cfg = config();
	if (detach) {
		for (const auto &[ifindex, rec] : attached_ifaces(maps_)) {
			char name[IF_NAMESIZE] = {};
			if (if_indextoname(unsigned(ifindex), name))
				detach_hooks(ifindex, name, hook_record_of(rec), links_dir());
		}
	}
	// tm_config first: from here on there is no state, only leftovers.
	unpin(pin_dir_ / "tm_config");
	remove_leftover_pins(pin_dir_);
	release_pin_dir(pin_dir_, cfg.flags);
}

} // namespace tmeter

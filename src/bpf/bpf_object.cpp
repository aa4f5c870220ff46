#include "bpf/bpf_object.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "bpf/libbpf_log.h"
#include "bpf/map_io.h"
#include "bpf/map_set.h"
#include "traffic_meter.skel.h"
#include "util/error.h"

namespace tmeter {
namespace {

std::vector<char> read_file(const std::filesystem::path &path)
{
	std::ifstream in(path, std::ios::binary);
	if (!in)
		fail_usage(fmt::format("cannot read --object {}: {}", path.string(), std::strerror(errno)));
	return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bpf_map *map_named(const traffic_meter_bpf *skel, std::string_view name)
{
	bpf_map *map = bpf_object__find_map_by_name(skel->obj, std::string(name).c_str());
	if (!map)
		fail_runtime(fmt::format("BPF object has no map {}: not a traffic_meter object of "
					 "this version",
					 name));
	return map;
}

// libbpf's reuse silently adopts the pinned map's shape; check it first so
// an incompatible object is refused instead of misreading the maps.
void check_compatible(bpf_map *map, std::string_view name, const Fd &pinned)
{
	bpf_map_info info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(pinned.get(), &info, &len))
		fail_errno(fmt::format("cannot query pinned map {}", name), errno);
	if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
	    info.value_size != bpf_map__value_size(map))
		fail_runtime(fmt::format("the BPF object's map {} does not match the pinned one "
					 "(incompatible upgrade); use the matching traffic_meter, or "
					 "`purge` to start over (loses rules and counters)",
					 name));
}

void unpin_all(traffic_meter_bpf *skel)
{
	for (const auto &entry : MapSet::kMaps)
		if (bpf_map *map = bpf_object__find_map_by_name(skel->obj, std::string(entry.name).c_str()))
			bpf_map__unpin(map, nullptr);
}

} // namespace

void BpfObject::SkelDeleter::operator()(traffic_meter_bpf *skel) const
{
	traffic_meter_bpf__destroy(skel);
}

BpfObject::BpfObject(BpfObject &&) noexcept = default;
BpfObject &BpfObject::operator=(BpfObject &&) noexcept = default;
BpfObject::~BpfObject() = default;

int BpfObject::prog_fd(bool egress, bool l3_device) const
{
	auto &p = skel_->progs;
	bpf_program *prog = l3_device ? (egress ? p.tm_egress_l3 : p.tm_ingress_l3)
				      : (egress ? p.tm_egress_eth : p.tm_ingress_eth);
	return bpf_program__fd(prog);
}

MapSet map_set_of(const traffic_meter_bpf *skel)
{
	MapSet maps;
	for (const auto &entry : MapSet::kMaps) {
		int fd = bpf_map__fd(map_named(skel, entry.name));
		maps.*(entry.member) = Fd(fcntl(fd, F_DUPFD_CLOEXEC, 0));
		if (!(maps.*(entry.member)))
			fail_errno("cannot duplicate a map descriptor", errno);
	}
	return maps;
}

void empty_flow_cache(const traffic_meter_bpf *skel)
{
	const size_t value_size = possible_cpus() * sizeof(tm_flow_cache_entry);
	std::vector<uint32_t> slots(TM_FLOW_CACHE_SLOTS);
	for (uint32_t i = 0; i < slots.size(); ++i)
		slots[i] = i;
	std::vector<uint8_t> zeros(slots.size() * value_size);
	Fd cache(fcntl(bpf_map__fd(skel->maps.tm_flow_cache), F_DUPFD_CLOEXEC, 0));
	if (!cache)
		fail_errno("cannot duplicate a map descriptor", errno);
	write_array(cache, slots, zeros.data(), value_size);
}

MapSet BpfObject::loaded_maps() const { return map_set_of(skel_.get()); }

void BpfObject::discard_state(const std::filesystem::path &pin_dir)
{
	std::error_code ec;
	std::filesystem::remove(pin_dir / "tm_config", ec);
	unpin_all(skel_.get());
	created_state_ = false;
}

BpfObject BpfObject::load(const LoadSettings &settings)
{
	LibbpfLogCapture log;
	BpfObject obj;

	// The skeleton gives typed access to maps and programs; --object swaps
	// in another ELF with the same maps and programs before it is opened.
	auto *raw = static_cast<traffic_meter_bpf *>(calloc(1, sizeof(traffic_meter_bpf)));
	if (!raw)
		fail_errno("cannot allocate skeleton", ENOMEM);
	obj.skel_.reset(raw);
	if (int err = traffic_meter_bpf__create_skeleton(raw))
		fail_errno("cannot create skeleton", err);
	if (settings.object_file) {
		obj.file_bytes_ = read_file(*settings.object_file);
		raw->skeleton->data = obj.file_bytes_.data();
		raw->skeleton->data_sz = obj.file_bytes_.size();
	}
	if (int err = bpf_object__open_skeleton(raw->skeleton, nullptr)) {
		// libbpf says ESRCH when a map or program the skeleton names is missing.
		if (std::abs(err) == ESRCH)
			fail_runtime(fmt::format("cannot open BPF object{}: not a traffic_meter object of "
						 "this version (maps or programs missing)",
						 settings.object_file ? " " + settings.object_file->string() : ""));
		fail_runtime(fmt::format("cannot open BPF object{}: {}",
					 settings.object_file ? " " + settings.object_file->string() : "",
					 explain_errno("", err).substr(2)));
	}

	const bool reuse = MapSet::exists(settings.pin_dir);
	if (reuse) {
		obj.pinned_ = MapSet::open_pinned(settings.pin_dir);
		auto cfg = obj.pinned_.read_config();
		const bool resize_rules = settings.max_rules && *settings.max_rules != cfg.max_rules;
		const bool resize_flows = settings.max_flows && *settings.max_flows != cfg.max_flows;
		auto &m = raw->maps;
		for (const auto &entry : MapSet::kMaps) {
			bpf_map *map = map_named(raw, entry.name);
			check_compatible(map, entry.name, obj.pinned_.*(entry.member));
			bool rule_map = map == m.tm_rules_v4 || map == m.tm_rules_v6 ||
					map == m.tm_rule_slots || map == m.tm_counters;
			if (resize_rules && rule_map) {
				bpf_map__set_max_entries(map, *settings.max_rules);
				continue;
			}
			if (resize_flows && map == m.tm_flows) {
				bpf_map__set_max_entries(map, *settings.max_flows);
				continue;
			}
			if (int err = bpf_map__reuse_fd(map, (obj.pinned_.*(entry.member)).get()))
				fail_errno(fmt::format("cannot reuse pinned map {}", entry.name), err);
		}
		obj.resizing_ = resize_rules || resize_flows;
	} else {
		uint32_t rules = settings.max_rules.value_or(TM_DEFAULT_MAX_RULES);
		uint32_t flows = settings.max_flows.value_or(TM_DEFAULT_MAX_FLOWS);
		auto &m = raw->maps;
		for (bpf_map *map : {m.tm_rules_v4, m.tm_rules_v6, m.tm_rule_slots, m.tm_counters})
			bpf_map__set_max_entries(map, rules);
		bpf_map__set_max_entries(m.tm_flows, flows);
	}

	if (int err = traffic_meter_bpf__load(raw)) {
		if (settings.verbose)
			fail_runtime(fmt::format("the kernel rejected the BPF program ({}); verifier log "
						 "ends:\n{}",
						 std::strerror(-err), log.tail(20)));
		// Privileges were checked up front: EACCES and E2BIG here come from
		// the verifier, not from a permission or a full table.
		if (err == -E2BIG)
			fail_runtime("the BPF program is too large or too complex for this kernel's "
				     "verifier (run with -v for the verifier log)");
		if (err == -EACCES || err == -EINVAL)
			fail_runtime("the kernel's verifier rejected the BPF program (run with -v for the "
				     "verifier log, and report it with `uname -r`)");
		fail_runtime(explain_errno("the kernel rejected the BPF program", err));
	}

	if (!reuse) {
		// Pin every map, tm_config last: its pin marks the state complete.
		tm_config cfg{};
		cfg.generation = 1;
		cfg.abi_version = TM_ABI_VERSION;
		cfg.max_rules = bpf_map__max_entries(raw->maps.tm_rules_v4);
		cfg.max_flows = bpf_map__max_entries(raw->maps.tm_flows);
		uint32_t zero = 0;
		if (bpf_map_update_elem(bpf_map__fd(raw->maps.tm_config), &zero, &cfg, BPF_ANY))
			fail_errno("cannot initialize tm_config", errno);
		for (const auto &entry : MapSet::kMaps) {
			if (entry.name == "tm_config")
				continue;
			bpf_map *map = map_named(raw, entry.name);
			auto path = settings.pin_dir / entry.name;
			if (int err = bpf_map__pin(map, path.c_str())) {
				unpin_all(raw);
				fail_errno(fmt::format("cannot pin {}", path.string()), err);
			}
		}
		auto path = settings.pin_dir / "tm_config";
		if (int err = bpf_map__pin(raw->maps.tm_config, path.c_str())) {
			unpin_all(raw);
			fail_errno(fmt::format("cannot pin {}", path.string()), err);
		}
		obj.created_state_ = true;
	}
	return obj;
}

} // namespace tmeter

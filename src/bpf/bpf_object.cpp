#include "bpf/bpf_object.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <fcntl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include <fmt/format.h>

#include "bpf/counter_table.h"
#include "bpf/kernel_features.h"
#include "bpf/libbpf_log.h"
#include "traffic_meter.skel.h"
#include "util/error.h"

namespace tmeter {
namespace {

std::vector<char> read_object_file(const std::filesystem::path &path)
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

Fd dup_fd(int fd)
{
	Fd out(fcntl(fd, F_DUPFD_CLOEXEC, 0));
	if (!out)
		fail_errno("cannot duplicate a map descriptor", errno);
	return out;
}

// The program's bucket and pool entry counts and its counters' stride
// (constants in .rodata), from the maps it will use: created at their set
// sizes, or reused (libbpf then takes the pinned maps' sizes). A bucket
// index past the table's end finds no bucket, and every packet would look
// new; a stride that is not the counters' row would add to another rule.
void match_map_sizes(traffic_meter_bpf *skel)
{
	skel->rodata->tm_flow_buckets = bpf_map__max_entries(skel->maps.tm_flow_table);
	skel->rodata->tm_flow_pool_entries = bpf_map__max_entries(skel->maps.tm_flow_pool);
	skel->rodata->tm_flow_bucket_shift_by = tm_flow_bucket_shift(skel->rodata->tm_flow_buckets);
	skel->rodata->tm_counter_stride =
		CounterTable::rules_of(bpf_map__max_entries(skel->maps.tm_counters), possible_cpus());
}

} // namespace

uint32_t flow_buckets(uint32_t max_flows)
{
	return std::max<uint32_t>(1, (max_flows + TM_FLOW_WAYS - 1) / TM_FLOW_WAYS);
}

uint32_t flow_capacity(uint32_t buckets) { return buckets * TM_FLOW_WAYS; }

uint32_t flow_pool_entries(uint32_t buckets, unsigned cpus)
{
	return buckets * TM_FLOW_SLOTS + 1 + TM_FLOW_RESERVE * cpus;
}

CapacityChange capacity_change(const tm_config &cfg, const Capacities &want)
{
	return {want.rules != cfg.max_rules, flow_buckets(want.flows) != flow_buckets(cfg.max_flows)};
}

void BpfObject::SkelDeleter::operator()(traffic_meter_bpf *skel) const
{
	traffic_meter_bpf__destroy(skel);
}

BpfObject::BpfObject(BpfObject &&) noexcept = default;
BpfObject &BpfObject::operator=(BpfObject &&) noexcept = default;
BpfObject::~BpfObject() = default;

MapSet map_set_of(const traffic_meter_bpf *skel)
{
	MapSet maps;
	for (const auto &e : MapSet::all())
		maps.*(e.member) = dup_fd(bpf_map__fd(map_named(skel, e.name)));
	return maps;
}

BpfObject BpfObject::open(const std::optional<std::filesystem::path> &object_file)
{
	BpfObject obj;
	obj.file_ = object_file;
	// The skeleton gives typed access to maps and programs; --object swaps
	// in another ELF with the same maps and programs before it is opened.
	auto *raw = static_cast<traffic_meter_bpf *>(calloc(1, sizeof(traffic_meter_bpf)));
	if (!raw)
		fail_errno("cannot allocate skeleton", ENOMEM);
	obj.skel_.reset(raw);
	if (int err = traffic_meter_bpf__create_skeleton(raw))
		fail_errno("cannot create skeleton", err);
	if (object_file) {
		obj.file_bytes_ = read_object_file(*object_file);
		raw->skeleton->data = obj.file_bytes_.data();
		raw->skeleton->data_sz = obj.file_bytes_.size();
	}
	LibbpfLogCapture log;
	if (int err = bpf_object__open_skeleton(raw->skeleton, nullptr)) {
		const std::string what = object_file ? " " + object_file->string() : "";
		// libbpf says ESRCH when a map or program the skeleton names is missing.
		if (std::abs(err) == ESRCH)
			fail_runtime(fmt::format("cannot open BPF object{}: not a traffic_meter object of "
						 "this version (maps or programs missing)",
						 what));
		fail_runtime(fmt::format("cannot open BPF object{}: {}", what,
					 explain_errno("", err).substr(2)));
	}
	return obj;
}

void BpfObject::reuse(std::string_view name, const Fd &map)
{
	bpf_map *m = map_named(skel_.get(), name);
	check_compatible(m, name, map);
	if (int err = bpf_map__reuse_fd(m, map.get()))
		fail_errno(fmt::format("cannot reuse pinned map {}", name), err);
}

void size_skeleton(traffic_meter_bpf *skel, const Capacities &c)
{
	auto &m = skel->maps;
	for (bpf_map *map : {m.tm_rules_v4, m.tm_rules_v6, m.tm_rule_slots})
		bpf_map__set_max_entries(map, c.rules);
	bpf_map__set_max_entries(m.tm_counters, CounterTable::entries_for(c.rules, possible_cpus()));
	bpf_map__set_max_entries(m.tm_flow_table, flow_buckets(c.flows));
	bpf_map__set_max_entries(m.tm_flow_pool,
				 flow_pool_entries(flow_buckets(c.flows), possible_cpus()));
	match_map_sizes(skel); // for callers that load the skeleton themselves
}

void BpfObject::set_capacities(const Capacities &c) { size_skeleton(skel_.get(), c); }

void BpfObject::load(bool verbose)
{
	LibbpfLogCapture log;
	build_ = entry_build_for_this_kernel();
	// After every reuse: reused maps bring their own sizes.
	match_map_sizes(skel_.get());
	for (EntryBuild b : {EntryBuild::kFast, EntryBuild::kSlow, EntryBuild::kCompat})
		for (bool egress : {false, true})
			for (bool l3 : {false, true})
				bpf_program__set_autoload(entry_program(skel_.get(), b, egress, l3),
							  b == build_);

	int err = traffic_meter_bpf__load(skel_.get());
	if (!err)
		return;
	if (verbose)
		fail_runtime(fmt::format("the kernel rejected the BPF program ({}); verifier log "
					 "ends:\n{}",
					 std::strerror(-err), log.verifier_tail(25)));
	// Privileges were checked up front: EACCES and E2BIG here come from the
	// verifier, not from a permission or a full table.
	if (err == -E2BIG)
		fail_runtime("the BPF program is too large or too complex for this kernel's verifier "
			     "(run with -v for the verifier log)");
	if (err == -EACCES || err == -EINVAL)
		fail_runtime("the kernel's verifier rejected the BPF program (run with -v for the "
			     "verifier log, and report it with `uname -r`)");
	if (err == -EPERM)
		fail_runtime("the kernel refused to create the maps or load the program: permission "
			     "denied; run as root or grant CAP_BPF and CAP_NET_ADMIN (kernels before "
			     "5.11 also need a large enough RLIMIT_MEMLOCK: LimitMEMLOCK=infinity)");
	fail_runtime(explain_errno("the kernel rejected the BPF program", err));
}

bpf_program *entry_program(const traffic_meter_bpf *skel, EntryBuild build, bool egress, bool l3)
{
	const auto &p = skel->progs;
	switch (build) {
	case EntryBuild::kFast:
		return l3 ? (egress ? p.tm_egress_l3 : p.tm_ingress_l3)
			  : (egress ? p.tm_egress_eth : p.tm_ingress_eth);
	case EntryBuild::kSlow:
		return l3 ? (egress ? p.tm_egress_l3_slow : p.tm_ingress_l3_slow)
			  : (egress ? p.tm_egress_eth_slow : p.tm_ingress_eth_slow);
	case EntryBuild::kCompat:
		break;
	}
	return l3 ? (egress ? p.tm_egress_l3_compat : p.tm_ingress_l3_compat)
		  : (egress ? p.tm_egress_eth_compat : p.tm_ingress_eth_compat);
}

int BpfObject::prog_fd(bool egress, bool l3_device) const
{
	return bpf_program__fd(entry_program(skel_.get(), build_, egress, l3_device));
}

MapSet BpfObject::maps() const { return map_set_of(skel_.get()); }

} // namespace tmeter

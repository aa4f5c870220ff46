#include "state/migrate_v1.h"

#include <bpf/bpf.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "bpf/map_io.h"
#include "net/device.h"
#include "net/hooks.h"
#include "net/netlink.h"
#include "rules/rule_store.h"
#include "rules/slot_table.h"
#include "state/attach.h"
#include "state/ifaces.h"
#include "state/netns.h"
#include "util/error.h"

namespace tmeter {
namespace {

// The ABI 1 structures this reads (include/traffic_meter_kern_user.h of
// that release).
struct V1Config {
	uint64_t generation;
	uint32_t abi_version, max_rules, max_flows, next_serial, next_slot, pad;
};
struct V1Slot {
	uint32_t serial;
	uint8_t family, prefixlen;
	uint16_t pad;
	uint8_t addr[16];
};
struct V1Attached {
	uint64_t attached_at;
	uint32_t link_kind, pad;
};
static_assert(sizeof(V1Config) == 32 && sizeof(V1Slot) == 24 && sizeof(V1Attached) == 16);

constexpr uint32_t kV1TcPriority = 0x544d, kV1TcHandle = 0x544d;
// Pins ABI 1 kept at the top of the pin path (tm_config and tm_frags are
// names this ABI uses too; they are handled apart).
constexpr const char *kV1Only[] = {"tm_rules_v4", "tm_rules_v6", "tm_rule_slots", "tm_counters",
				   "tm_flows",	  "tm_attached", "tm_stats",	  "tm_flow_epochs"};
constexpr const char *kNewConfig = "tm_config_new";

Fd open_v1(const std::filesystem::path &pin_dir, const char *name)
{
	Fd fd(bpf_obj_get((pin_dir / name).c_str()));
	if (!fd)
		fail_errno(fmt::format("cannot open {} of the ABI 1 state", (pin_dir / name).string()),
			   errno);
	return fd;
}

struct V1Rule {
	Cidr cidr;
	uint32_t serial;
	Totals counted;
};

std::vector<V1Rule> read_v1_rules(const std::filesystem::path &pin_dir)
{
	Fd slots = open_v1(pin_dir, "tm_rule_slots"), counters = open_v1(pin_dir, "tm_counters");
	const unsigned cpus = possible_cpus();
	std::vector<V1Rule> out;
	std::vector<tm_counters> per_cpu(cpus);
	read_array_chunks(slots, sizeof(V1Slot), kWholeArray, [&](uint32_t first, const uint8_t *values, uint32_t n) {
		auto *v = reinterpret_cast<const V1Slot *>(values);
		for (uint32_t i = 0; i < n; ++i) {
			if (v[i].family == TM_FAMILY_NONE)
				continue;
			V1Rule r;
			r.cidr.family = v[i].family;
			r.cidr.prefixlen = v[i].prefixlen;
			std::memcpy(r.cidr.addr.data(), v[i].addr, 16);
			r.serial = v[i].serial;
			uint32_t slot = first + i;
			if (bpf_map_lookup_elem(counters.get(), &slot, per_cpu.data()))
				fail_errno("cannot read the ABI 1 counters", errno);
			for (const auto &c : per_cpu) {
				if (c.serial != r.serial)
					continue;
				r.counted.up_packets += c.up_packets;
				r.counted.up_bytes += c.up_bytes;
				r.counted.down_packets += c.down_packets;
				r.counted.down_bytes += c.down_bytes;
			}
			out.push_back(r);
		}
	});
	return out;
}

std::map<int, V1Attached> read_v1_attached(const std::filesystem::path &pin_dir)
{
	Fd map = open_v1(pin_dir, "tm_attached");
	std::map<int, V1Attached> out;
	uint32_t key = 0, next = 0, *prev = nullptr;
	while (bpf_map_get_next_key(map.get(), prev, &next) == 0) {
		V1Attached v{};
		if (bpf_map_lookup_elem(map.get(), &next, &v) == 0)
			out.emplace(int(next), v);
		key = next;
		prev = &key;
	}
	return out;
}

// The ABI 1 filter on a hook, as the record attach_hooks() replaces in place.
HookRecord v1_hooks(int ifindex)
{
	HookRecord rec;
	rec.mode = TM_ATTACH_NETLINK;
	rec.tc_priority = kV1TcPriority;
	rec.tc_handle = kV1TcHandle;
	for (bool ingress : {true, false})
		for (const auto &f : list_filters(ifindex, ingress))
			if (f.priority == kV1TcPriority && f.handle == kV1TcHandle)
				rec.prog_id[ingress ? 0 : 1] = f.prog_id;
	return rec;
}

// What a migration killed before its commit left: this ABI's pins beside
// ABI 1's (tm_frags is refilled by the data plane: not worth keeping).
void remove_partial(const std::filesystem::path &pin_dir)
{
	const auto sized = MapSet::sized_dir(pin_dir, 1);
	for (const auto &e : MapSet::kSized)
		unlink((sized / e.name).c_str());
	rmdir(sized.c_str());
	for (const char *name : {"tm_ifaces", "tm_percpu", "tm_frags", kNewConfig})
		unlink((pin_dir / name).c_str());
}

} // namespace

State migrate_v1(const std::filesystem::path &pin_dir, const ObjectOptions &opts, StateLock lock)
{
	Fd old_config = open_v1(pin_dir, "tm_config");
	V1Config v1{};
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(old_config.get(), &zero, &v1) || v1.abi_version != 1)
		fail_runtime(fmt::format("{}/tm_config is not ABI 1 state", pin_dir.string()));
	auto rules = read_v1_rules(pin_dir);
	auto attached = read_v1_attached(pin_dir);
	remove_partial(pin_dir);

	BpfObject obj = BpfObject::open(opts.file);
	obj.set_capacities({v1.max_rules, v1.max_flows});
	obj.load(opts.verbose);
	MapSet maps = obj.maps();

	tm_config cfg{};
	cfg.magic = TM_CONFIG_MAGIC;
	cfg.abi_version = TM_ABI_VERSION;
	cfg.rules_gen = 1;
	cfg.committed = 1;
	cfg.max_rules = v1.max_rules;
	cfg.max_flows = v1.max_flows;
	cfg.next_serial = v1.next_serial;
	cfg.next_slot = uint32_t(rules.size()) % v1.max_rules;
	cfg.slots_used = uint32_t(rules.size()); // written below to slots 0..n-1
	cfg.maps_gen = 1;
	const NetnsId ns = current_netns(); // ABI 1 did not record it: the one load runs in
	cfg.netns_dev = ns.dev;
	cfg.netns_ino = ns.ino;
	cfg.instance_id = uint64_t(time(nullptr)) << 16 ^ uint64_t(getpid());
	cfg.created_at = uint64_t(time(nullptr));
	maps.write_config(cfg);

	// Rules in SPEC order from slot 0, serials kept (a packet racing the
	// switch-over never lands in another rule).
	std::vector<uint32_t> slots, serials;
	std::vector<tm_rule_slot> values;
	std::vector<tm_rule_ref> refs;
	for (uint32_t i = 0; i < rules.size(); ++i) {
		slots.push_back(i);
		serials.push_back(rules[i].serial);
		values.push_back(slot_of(rules[i].cidr, rules[i].serial, 1));
	}
	claim_counters(maps, slots, serials, 0); // new maps
	write_slots(maps, slots, values);
	for (uint32_t i = 0; i < rules.size(); ++i) {
		tm_rule_ref ref{i, rules[i].serial};
		if (bpf_map_update_elem(trie_for(maps, rules[i].cidr).get(),
					lpm_key(rules[i].cidr).data(), &ref, BPF_ANY))
			fail_errno(fmt::format("cannot copy rule {}", rules[i].cidr.str()), errno);
	}

	// Pins of this ABI, beside ABI 1's; tm_config under another name.
	const auto sized = MapSet::sized_dir(pin_dir, 1);
	if (mkdir(sized.c_str(), 0700) && errno != EEXIST)
		fail_errno(fmt::format("cannot create {}", sized.string()), errno);
	for (const auto &e : MapSet::kSized)
		if (bpf_obj_pin((maps.*(e.member)).get(), (sized / e.name).c_str()))
			fail_errno(fmt::format("cannot pin {}", (sized / e.name).string()), errno);
	for (const auto &e : MapSet::kFixed) {
		const std::string name = e.name == "tm_config" ? kNewConfig : std::string(e.name);
		if (bpf_obj_pin((maps.*(e.member)).get(), (pin_dir / name).c_str()))
			fail_errno(fmt::format("cannot pin {}", (pin_dir / name).string()), errno);
	}

	// Interfaces move in place: ABI 1's filter is replaced by ours.
	State state = State::adopt(pin_dir, std::move(lock), std::move(maps));
	auto links = list_links();
	for (const auto &[ifindex, v] : attached) {
		for (const auto &link : links) {
			if (link.ifindex != ifindex)
				continue;
			HookRecord prev = v1_hooks(ifindex);
			tm_iface rec{};
			rec.role = TM_ROLE_ATTACHED;
			rec.link_kind = v.link_kind;
			rec.attach_mode = prev.mode;
			rec.tc_priority = prev.tc_priority;
			rec.tc_handle = prev.tc_handle;
			rec.prog_id[0] = prev.prog_id[0];
			rec.prog_id[1] = prev.prog_id[1];
			write_iface(state.maps(), ifindex, rec);
			attach_interface(state, obj, link, AttachMode::kNetlink, 1);
		}
	}

	// Nothing counts into ABI 1's maps now: carry their counters over.
	std::vector<tm_rule_slot> carried = values;
	auto final_rules = read_v1_rules(pin_dir); // the same rules, in the same order
	for (uint32_t i = 0; i < rules.size() && i < final_rules.size(); ++i) {
		const Totals &t = final_rules[i].counted;
		const uint64_t add[4] = {t.up_packets, t.up_bytes, t.down_packets, t.down_bytes};
		for (int k = 0; k < 4; ++k)
			carried[i].carried[k] = add[k];
	}
	write_slots(state.maps(), slots, carried);

	// The commit: rename() over the old pin is atomic on bpffs.
	if (std::rename((pin_dir / kNewConfig).c_str(), (pin_dir / "tm_config").c_str()))
		fail_errno(fmt::format("cannot replace {}/tm_config", pin_dir.string()), errno);
	for (const char *name : kV1Only)
		unlink((pin_dir / name).c_str());
	return state;
}

void purge_v1(const std::filesystem::path &pin_dir)
{
	for (const auto &[ifindex, v] : read_v1_attached(pin_dir)) {
		char name[IF_NAMESIZE] = {};
		if (if_indextoname(unsigned(ifindex), name))
			detach_hooks(ifindex, name, v1_hooks(ifindex), pin_dir / "links");
	}
	for (const char *name : kV1Only)
		unlink((pin_dir / name).c_str());
	unlink((pin_dir / "tm_frags").c_str());
	unlink((pin_dir / "tm_config").c_str());
}

} // namespace tmeter

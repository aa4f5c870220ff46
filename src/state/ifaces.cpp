#include "state/ifaces.h"

#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <numeric>

#include <fmt/format.h>

#include "bpf/map_io.h"
#include "util/error.h"

namespace tmeter {
namespace {

// Whether tm_roles has a place for ifindex (tm_ifaces answers for others).
bool in_roles(int ifindex) { return ifindex > 0 && uint32_t(ifindex) < TM_ROLE_IFINDEXES; }

// role in its place of a tm_roles word (the shared header's tm_role_*).
uint64_t role_bits(int ifindex, uint32_t role)
{
	return uint64_t(role & TM_ROLE_MASK) << tm_role_shift(uint32_t(ifindex));
}

// One role in its word; the word's other roles stay (every writer holds
// the state's lock, and the data plane only reads).
void write_role(const MapSet &maps, int ifindex, uint32_t role)
{
	if (!maps.roles || !in_roles(ifindex))
		return;
	uint32_t key = tm_role_word(uint32_t(ifindex));
	uint64_t word = 0;
	if (bpf_map_lookup_elem(maps.roles.get(), &key, &word))
		fail_errno("cannot read tm_roles", errno);
	word = (word & ~role_bits(ifindex, TM_ROLE_MASK)) | role_bits(ifindex, role);
	if (bpf_map_update_elem(maps.roles.get(), &key, &word, BPF_ANY))
		fail_errno("cannot record the interface's role", errno);
}

UpperSync diff_uppers(const MapSet &maps, bool apply)
{
	auto records = read_ifaces(maps.ifaces);
	auto links = list_links();
	auto wanted = wanted_uppers(records, links);
	std::map<int, std::string> names;
	for (const auto &l : links)
		names[l.ifindex] = l.name;
	UpperSync sync;
	for (const auto &[ifindex, v] : records) {
		if (v.role == TM_ROLE_ATTACHED)
			continue;
		auto it = wanted.find(ifindex);
		const std::string name = names.contains(ifindex) ? names[ifindex] : std::string(v.name);
		if (it == wanted.end()) {
			sync.removed.push_back(name);
			if (apply)
				forget_iface(maps, ifindex);
		} else if (it->second != v.role) {
			sync.changed.push_back(name);
		}
	}
	for (const auto &[ifindex, role] : wanted) {
		auto rec = records.find(ifindex);
		if (rec == records.end())
			sync.added.push_back(names[ifindex]);
		if (!apply || (rec != records.end() && rec->second.role == role))
			continue;
		tm_iface v{};
		v.role = role;
		v.since = uint64_t(time(nullptr));
		std::strncpy(v.name, names[ifindex].c_str(), sizeof(v.name) - 1);
		write_iface(maps, ifindex, v);
	}
	return sync;
}

} // namespace

void write_iface(const MapSet &maps, int ifindex, const tm_iface &v)
{
	uint32_t key = uint32_t(ifindex);
	if (bpf_map_update_elem(maps.ifaces.get(), &key, &v, BPF_ANY))
		fail_errno("cannot record the interface", errno);
	write_role(maps, ifindex, v.role);
}

void sync_roles(const MapSet &maps)
{
	if (!maps.roles)
		return;
	std::vector<uint64_t> words(TM_ROLE_WORDS);
	for (const auto &[ifindex, v] : read_ifaces(maps.ifaces))
		if (in_roles(ifindex))
			words[tm_role_word(uint32_t(ifindex))] |= role_bits(ifindex, v.role);
	std::vector<uint32_t> keys(TM_ROLE_WORDS);
	std::iota(keys.begin(), keys.end(), 0u);
	write_array(maps.roles, keys, reinterpret_cast<const uint8_t *>(words.data()),
		    sizeof(words[0]));
}

std::string hex_tag(const uint8_t (&tag)[8])
{
	std::string out;
	for (uint8_t b : tag)
		out += fmt::format("{:02x}", b);
	return out;
}

std::map<int, tm_iface> read_ifaces(const Fd &map)
{
	std::map<int, tm_iface> out;
	uint32_t key = 0, next = 0;
	uint32_t *prev = nullptr;
	while (bpf_map_get_next_key(map.get(), prev, &next) == 0) {
		tm_iface value{};
		if (bpf_map_lookup_elem(map.get(), &next, &value) == 0)
			out.emplace(static_cast<int>(next), value);
		key = next;
		prev = &key;
	}
	return out;
}

std::map<int, tm_iface> attached_ifaces(const MapSet &maps)
{
	auto all = read_ifaces(maps.ifaces);
	std::erase_if(all, [](const auto &kv) { return kv.second.role != TM_ROLE_ATTACHED; });
	return all;
}

HookRecord hook_record_of(const tm_iface &v)
{
	HookRecord r;
	r.mode = v.attach_mode;
	r.tc_priority = v.tc_priority;
	r.tc_handle = v.tc_handle;
	r.prog_id[0] = v.prog_id[0];
	r.prog_id[1] = v.prog_id[1];
	r.created_clsact = v.flags & TM_IFACE_CREATED_CLSACT;
	std::memcpy(r.prog_tag, v.prog_tag, sizeof(r.prog_tag));
	return r;
}

void record_attached(const MapSet &maps, const LinkInfo &link, uint32_t link_kind,
		     const HookRecord &hooks, uint32_t maps_gen)
{
	uint32_t key = uint32_t(link.ifindex);
	tm_iface v{};
	// A re-load keeps the time of the first attach.
	if (bpf_map_lookup_elem(maps.ifaces.get(), &key, &v) || v.role != TM_ROLE_ATTACHED ||
	    v.link_kind != link_kind)
		v.since = uint64_t(time(nullptr));
	v.role = TM_ROLE_ATTACHED;
	v.link_kind = link_kind;
	v.attach_mode = hooks.mode;
	v.tc_priority = hooks.tc_priority;
	v.tc_handle = hooks.tc_handle;
	v.prog_id[0] = hooks.prog_id[0];
	v.prog_id[1] = hooks.prog_id[1];
	v.flags = hooks.created_clsact ? TM_IFACE_CREATED_CLSACT : 0;
	v.maps_gen = maps_gen;
	std::memcpy(v.prog_tag, hooks.prog_tag, sizeof(v.prog_tag));
	std::memset(v.name, 0, sizeof(v.name));
	std::strncpy(v.name, link.name.c_str(), sizeof(v.name) - 1);
	write_iface(maps, link.ifindex, v);
}

void forget_iface(const MapSet &maps, int ifindex)
{
	uint32_t key = uint32_t(ifindex);
	if (bpf_map_delete_elem(maps.ifaces.get(), &key) && errno != ENOENT)
		fail_errno("cannot forget the interface", errno);
	write_role(maps, ifindex, 0);
}

std::map<int, uint32_t> wanted_uppers(const std::map<int, tm_iface> &records,
				      const std::vector<LinkInfo> &links)
{
	std::map<int, std::vector<int>> lowers; // device -> its lower devices
	for (const auto &l : links) {
		if (l.master)
			lowers[l.master].push_back(l.ifindex); // bridge, bond, VRF port
		if (l.lower)
			lowers[l.ifindex].push_back(l.lower); // VLAN, macvlan parent
	}
	// 2: covered (counted at an attached ingress), 1: partly, 0: not.
	std::map<int, int> memo;
	std::function<int(int, int)> cover = [&](int ifindex, int depth) -> int {
		auto rec = records.find(ifindex);
		if (rec != records.end() && rec->second.role == TM_ROLE_ATTACHED)
			return 2;
		if (auto m = memo.find(ifindex); m != memo.end())
			return m->second;
		auto lw = lowers.find(ifindex);
		int result = 0;
		if (lw != lowers.end() && depth < 8) {
			int covered = 0, any = 0;
			for (int low : lw->second) {
				int c = cover(low, depth + 1);
				covered += c == 2;
				any += c > 0;
			}
			result = covered == int(lw->second.size()) ? 2 : any ? 1 : 0;
		}
		memo[ifindex] = result;
		return result;
	};
	std::map<int, uint32_t> out;
	for (const auto &l : links) {
		auto rec = records.find(l.ifindex);
		if (rec != records.end() && rec->second.role == TM_ROLE_ATTACHED)
			continue;
		int c = cover(l.ifindex, 0);
		if (c)
			out[l.ifindex] = c == 2 ? TM_ROLE_UPPER : TM_ROLE_UPPER_PARTIAL;
	}
	return out;
}

UpperSync refresh_uppers(const MapSet &maps) { return diff_uppers(maps, true); }

UpperSync stale_uppers(const MapSet &maps) { return diff_uppers(maps, false); }

} // namespace tmeter

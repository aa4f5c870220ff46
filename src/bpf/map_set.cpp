#include "bpf/map_set.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "bpf/pin_errors.h"
#include "bpf/map_io.h"
#include "util/error.h"

namespace tmeter {
namespace {

Fd open_pin(const std::filesystem::path &path)
{
	Fd fd(bpf_obj_get(path.c_str()));
	if (!fd)
		fail_pin_errno(path, errno);
	return fd;
}

} // namespace

std::array<MapSet::Entry, 13> MapSet::all()
{
	std::array<Entry, 13> out{};
	size_t i = 0;
	for (const auto &e : kFixed)
		out[i++] = e;
	for (const auto &e : kSized)
		out[i++] = e;
	return out;
}

bool MapSet::in_abi(const Entry &e, uint32_t abi)
{
	if (e.member == &MapSet::roles)
		return abi >= kRolesAbi;
	if (is_flow_map(e.name)) // ABI 3: tm_flow_table alone (entries inside); ABI 2: none
		return abi >= kPooledFlowsAbi || (abi == 3 && e.member == &MapSet::flow_table);
	return true;
}

std::filesystem::path MapSet::sized_dir(const std::filesystem::path &pin_dir, uint32_t gen)
{
	return pin_dir / fmt::format("maps{}", gen);
}

MapSet MapSet::open_pinned(const std::filesystem::path &pin_dir, uint32_t gen, uint32_t abi)
{
	MapSet maps;
	for (const auto &e : kFixed)
		maps.*(e.member) = open_pin(pin_dir / e.name);
	if (!gen)
		gen = maps.read_config().maps_gen;
	const auto dir = sized_dir(pin_dir, gen);
	for (const auto &e : kSized)
		if (in_abi(e, abi))
			maps.*(e.member) = open_pin(dir / e.name);
	return maps;
}

tm_config MapSet::read_config() const
{
	tm_config cfg{};
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(config.get(), &zero, &cfg))
		fail_errno("cannot read tm_config", errno);
	return cfg;
}

void MapSet::write_config(const tm_config &cfg) const
{
	uint32_t zero = 0;
	if (bpf_map_update_elem(config.get(), &zero, &cfg, BPF_ANY))
		fail_errno("cannot write tm_config", errno);
}

tm_stats MapSet::read_stats() const
{
	std::vector<tm_percpu> per_cpu(possible_cpus());
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(percpu.get(), &zero, per_cpu.data()))
		fail_errno("cannot read tm_percpu", errno);
	tm_stats total{};
	for (const auto &c : per_cpu) {
		const tm_stats &s = c.stats;
		total.packets += s.packets;
		total.bytes += s.bytes;
		total.egress_skipped += s.egress_skipped;
		total.not_ip += s.not_ip;
		total.malformed += s.malformed;
		total.no_rule += s.no_rule;
		total.counted += s.counted;
		total.flow_insert_failed += s.flow_insert_failed;
		total.paged += s.paged;
		total.gso_from_size += s.gso_from_size;
	}
	return total;
}

uint32_t MapSet::capacity(const Fd &map)
{
	bpf_map_info info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(map.get(), &info, &len))
		fail_errno("cannot query map", errno);
	return info.max_entries;
}

uint32_t MapSet::id(const Fd &map)
{
	bpf_map_info info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(map.get(), &info, &len))
		fail_errno("cannot query map", errno);
	return info.id;
}

uint64_t MapSet::count_flows(bool two_way_only) const
{
	uint64_t n = 0;
	const int slots = two_way_only ? TM_FLOW_WAYS : TM_FLOW_SLOTS;
	read_array_chunks(flow_table, sizeof(tm_flow_bucket), kWholeArray,
			  [&](uint32_t, const uint8_t *values, uint32_t count) {
				  auto *b = reinterpret_cast<const tm_flow_bucket *>(values);
				  for (uint32_t i = 0; i < count; ++i)
					  for (int j = 0; j < slots; ++j)
						  n += b[i].tag[j] != 0;
			  });
	return n;
}

unsigned possible_cpus()
{
	int n = libbpf_num_possible_cpus();
	if (n <= 0)
		fail_errno("cannot count possible CPUs", n);
	return static_cast<unsigned>(n);
}

} // namespace tmeter

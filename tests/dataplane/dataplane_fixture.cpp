#include "dataplane_fixture.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "bpf/bpf_object.h"
#include "bpf/counter_table.h"
#include "bpf/flow_table.h"
#include "traffic_meter_kern_user.h"
#include "rules/rule_store.h"
#include "state/ifaces.h"
#include "traffic_meter.skel.h"

namespace tmeter::dptest {
namespace {

int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

Cidr cidr_of(const Prefix &p)
{
	Cidr c;
	c.family = p.addr.family == 4 ? TM_FAMILY_IPV4 : TM_FAMILY_IPV6;
	c.prefixlen = p.len;
	c.addr = p.addr.bytes;
	return c;
}

Prefix prefix_of(const Cidr &c)
{
	Prefix p;
	p.addr.family = c.family == TM_FAMILY_IPV4 ? 4 : 6;
	p.addr.bytes = c.addr;
	p.len = c.prefixlen;
	return p;
}

[[noreturn]] void fail(const std::string &what, int err)
{
	throw std::runtime_error(what + ": " + std::strerror(err < 0 ? -err : err));
}

// Deletes every key; restarts the walk after each delete, which any map type
// (LPM trie included) supports.
void clear_hash(const Fd &map)
{
	std::vector<uint8_t> key(64);
	while (bpf_map_get_next_key(map.get(), nullptr, key.data()) == 0)
		if (bpf_map_delete_elem(map.get(), key.data()))
			fail("clear map", errno);
}

} // namespace

void Dataplane::SkelDeleter::operator()(traffic_meter_bpf *s) const
{
	traffic_meter_bpf__destroy(s);
}

Dataplane::Dataplane(const Options &o) : options_(o)
{
	libbpf_set_print(quiet_libbpf);
	skel_.reset(traffic_meter_bpf__open());
	if (!skel_)
		fail("open skeleton", errno);
	tmeter::size_skeleton(skel_.get(), {o.max_rules, o.max_flows});
	// Both builds of every entry point are loaded: the _compat ones must
	// pass the verifier too (they are what kernels before 5.7 get).
	if (int err = traffic_meter_bpf__load(skel_.get()))
		fail("load (verifier)", err);

	maps_ = tmeter::map_set_of(skel_.get());
	reset();
}

Dataplane &Dataplane::shared()
{
	static Dataplane instance;
	return instance;
}

void Dataplane::reset()
{
	for (const Fd *map : {&maps_.rules_v4, &maps_.rules_v6, &maps_.frags, &maps_.ifaces})
		clear_hash(*map);
	tmeter::sync_roles(maps_); // no interface: tm_roles all 0
	// An empty flow table: no heads in use, no entry handed out.
	const tmeter::FlowTableImage empty(tmeter::flow_buckets(options_.max_flows));
	tmeter::write_flow_table(maps_, empty);
	const unsigned cpus = possible_cpus();
	tm_rule_slot free_slot{};
	std::vector<uint32_t> slots(options_.max_rules);
	for (uint32_t slot = 0; slot < options_.max_rules; ++slot) {
		slots[slot] = slot;
		if (bpf_map_update_elem(maps_.rule_slots.get(), &slot, &free_slot, BPF_ANY))
			fail("clear rule slot", errno);
	}
	const std::vector<tm_counters> zero_counters(slots.size() * cpus);
	tmeter::CounterTable(maps_.counters).write(slots, zero_counters.data());
	std::vector<tm_percpu> zero_cpu(cpus);
	uint32_t zero = 0;
	if (bpf_map_update_elem(maps_.percpu.get(), &zero, zero_cpu.data(), BPF_ANY))
		fail("clear tm_percpu", errno);

	// What the first `load` writes (src/state/state.cpp).
	tm_config cfg{};
	cfg.magic = TM_CONFIG_MAGIC;
	cfg.abi_version = TM_ABI_VERSION;
	cfg.rules_gen = 1;
	cfg.max_rules = options_.max_rules;
	cfg.max_flows = options_.max_flows;
	cfg.maps_gen = 1;
	maps_.write_config(cfg);
}

Dataplane::~Dataplane() = default;

int Dataplane::run(const PacketEvent &ev, uint32_t repeat)
{
	const bpf_program *prog =
		tmeter::entry_program(skel_.get(), build_, ev.hook == Hook::kEgress, ev.l3);
	__sk_buff ctx{};
	ctx.ingress_ifindex = ev.ingress_ifindex;
	ctx.gso_segs = ev.gso_segs;
	ctx.gso_size = ev.gso_size;
	bpf_test_run_opts opts{};
	opts.sz = sizeof(opts);
	opts.data_in = ev.frame.data();
	opts.data_size_in = ev.frame.size();
	opts.ctx_in = &ctx;
	opts.ctx_size_in = sizeof(ctx);
	opts.repeat = repeat;
	if (int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts))
		fail("BPF_PROG_TEST_RUN (frame of " + std::to_string(ev.frame.size()) + " bytes)", err);
	return int(opts.retval);
}

void Dataplane::add(const std::vector<Prefix> &rules)
{
	RuleChange change;
	for (const auto &p : rules)
		change.add.push_back(cidr_of(p));
	RuleStore(maps_).apply(change);
}

void Dataplane::del(const std::vector<Prefix> &rules)
{
	RuleChange change;
	for (const auto &p : rules)
		change.del.push_back(cidr_of(p));
	RuleStore(maps_).apply(change);
}

void Dataplane::attach(uint32_t ifindex, uint32_t role)
{
	if (!role) {
		forget_iface(maps_, int(ifindex)); // as unload does
		return;
	}
	tm_iface v{};
	v.role = role;
	v.link_kind = TM_LINK_ETHERNET;
	write_iface(maps_, int(ifindex), v); // tm_ifaces and tm_roles, as load does
}

std::map<Prefix, Counters> Dataplane::counters() const
{
	std::map<Prefix, Counters> out;
	for (const auto &rc : RuleStore(maps_).counters())
		out[prefix_of(rc.cidr)] = {rc.up_packets, rc.up_bytes, rc.down_packets, rc.down_bytes};
	return out;
}

Counters Dataplane::counters(const Prefix &rule) const
{
	auto all = counters();
	auto it = all.find(rule);
	if (it == all.end())
		throw std::runtime_error("no such rule in the maps");
	return it->second;
}

tm_stats Dataplane::raw_stats() const { return maps_.read_stats(); }

Stats Dataplane::stats() const
{
	tm_stats s = raw_stats();
	return {s.packets,   s.bytes,   s.egress_skipped, s.not_ip,
		s.malformed, s.no_rule, s.counted,        s.gso_from_size};
}

size_t Dataplane::flow_count() const { return maps_.count_flows(); }

size_t Dataplane::two_way_flow_count() const { return maps_.count_flows(true); }

std::vector<int> allowed_cpus(size_t at_most)
{
	cpu_set_t set;
	std::vector<int> cpus;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < at_most; ++cpu)
			if (CPU_ISSET(cpu, &set))
				cpus.push_back(cpu);
	return cpus;
}

CpuPin::CpuPin()
{
	if (sched_getaffinity(0, sizeof(saved_), &saved_))
		fail("read this thread's CPUs", errno);
}

CpuPin::~CpuPin() { sched_setaffinity(0, sizeof(saved_), &saved_); }

void CpuPin::pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fail("run on CPU " + std::to_string(cpu), errno);
}

} // namespace tmeter::dptest

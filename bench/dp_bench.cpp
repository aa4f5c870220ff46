// Data plane microbenchmark: ns per packet of an established flow, run by
// the kernel with BPF_PROG_TEST_RUN in repeat mode (it reruns one packet, so
// only the established-flow path is measured) and timed by the wall clock
// around it, against the empty TC program as the floor. Rules go in
// through RuleStore, as `add` and `import` do.
//
// usage: dp_bench EMPTY_BPF_O [--repeat N] [--trials N] [--quick] [--family 4|6]
//        [--max-rules N] [--object TRAFFIC_METER_BPF_O] [--base-object TRAFFIC_METER_BPF_O]
//        [--spin SECONDS] [--one-way] [--new-flows N] [--egress-skip] [--vlan | --qinq | --pppoe]
//        [--build fast|slow|compat]
// --base-object: the 2-rule twin runs that build instead, so that "vs 2 rules" is an A/B of
// two builds in the same trials (an established flow never walks the tries).
// --new-flows N: instead, the first packet of N new flows, one run each (repeat mode cannot
// time a first packet: it reruns one packet), into a table with room and into one whose
// ways for new flows are all taken, where each new flow evicts another (churn).
// --egress-skip: instead, the egress program on a packet that came in through an attached
// interface (a router's forwarded packet, counted at its ingress): the skip alone.
// --vlan: the established flow's frames carry an 802.1Q tag in the packet; --qinq: an
// 802.1ad and an 802.1Q tag; --pppoe: a PPPoE session header. The fast parse takes all
// three (before stop 24, two tags and PPPoE took the general parser, bpf_skb_load_bytes).
// --build slow: the entry points without direct packet access, which read the packet through
// bpf_skb_load_bytes, the common packets' headers in one copy (what `load` picks on kernels
// that refuse packet-pointer compares without CAP_PERFMON, such as 5.10; the fast build's
// packets with headers beyond the linear part take the same parse); --build compat: that,
// without gso_size (before Linux 5.7). Default: fast.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bpf/bpf_object.h"
#include "bpf/flow_table.h"
#include "bpf/map_set.h"
#include "object_file.h"
#include "rules/rule_store.h"
#include "state/ifaces.h"
#include "traffic_meter.skel.h"
#include "traffic_meter_kern_user.h"

namespace tmeter::bench {
namespace {

constexpr uint32_t kMaxRules = 1'000'000;
constexpr uint32_t kMaxFlows = 524'288; // room for 200,000 flows: few buckets overflow
constexpr uint32_t kManyFlows = 200'000;
constexpr uint32_t kRuleCounts[] = {2, 1'000, 100'000, 1'000'000};

[[noreturn]] void fail(const std::string &what, int err)
{
	throw std::runtime_error(what + ": " + std::strerror(err < 0 ? -err : err));
}

int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

double seconds_since(std::chrono::steady_clock::time_point t0)
{
	return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Ethernet + IP + TCP (ACK only: an established flow) + 32 bytes payload.
std::vector<uint8_t> tcp_frame(uint8_t family, const uint8_t *saddr, const uint8_t *daddr,
			       uint16_t sport = 50000, uint16_t dport = 443)
{
	std::vector<uint8_t> f(ETH_HLEN, 0);
	f[6] = 0x02; // locally administered source MAC
	const uint16_t payload = 32, tcp_len = 20;
	if (family == TM_FAMILY_IPV4) {
		f[12] = 0x08, f[13] = 0x00;
		uint16_t tot = 20 + tcp_len + payload;
		uint8_t ip[20] = {0x45, 0, uint8_t(tot >> 8), uint8_t(tot), 0, 1, 0x40, 0, 64, 6};
		std::memcpy(ip + 12, saddr, 4);
		std::memcpy(ip + 16, daddr, 4);
		f.insert(f.end(), ip, ip + 20);
	} else {
		f[12] = 0x86, f[13] = 0xdd;
		uint16_t plen = tcp_len + payload;
		uint8_t ip[40] = {0x60, 0, 0, 0, uint8_t(plen >> 8), uint8_t(plen), 6, 64};
		std::memcpy(ip + 8, saddr, 16);
		std::memcpy(ip + 24, daddr, 16);
		f.insert(f.end(), ip, ip + 40);
	}
	uint8_t tcp[20] = {uint8_t(sport >> 8), uint8_t(sport), uint8_t(dport >> 8), uint8_t(dport),
			   0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff};
	f.insert(f.end(), tcp, tcp + 20);
	f.insert(f.end(), payload, 0xab);
	return f;
}

// The frame with a VLAN tag (VLAN 10, TPID tpid) after its MAC addresses, before any
// tag it has.
std::vector<uint8_t> with_vlan(std::vector<uint8_t> f, uint16_t tpid)
{
	const uint8_t tag[4] = {uint8_t(tpid >> 8), uint8_t(tpid), 0x00, 0x0a};
	f.insert(f.begin() + 12, tag, tag + 4);
	return f;
}

// The frame as a PPPoE session frame (session 1): the PPPoE header and the PPP protocol of
// its IP version in place of its ethertype.
std::vector<uint8_t> with_pppoe(std::vector<uint8_t> f)
{
	const bool v6 = f[12] == 0x86 && f[13] == 0xdd;
	const uint16_t len = uint16_t(f.size() - 14 + 2); // the PPP payload and its protocol
	const uint8_t hdr[8] = {0x11, 0x00, 0x00, 0x01, uint8_t(len >> 8), uint8_t(len), 0x00,
				uint8_t(v6 ? 0x57 : 0x21)};
	f[12] = 0x88, f[13] = 0x64;
	f.insert(f.begin() + 14, hdr, hdr + 8);
	return f;
}

// N distinct rules: two that the benchmark packet matches (source and
// destination), the rest random prefixes elsewhere in the family's space.
std::vector<Cidr> make_rules(uint8_t family, uint32_t n, std::mt19937_64 &rng)
{
	std::set<Cidr> seen;
	std::vector<Cidr> out;
	Cidr src{}, dst{};
	src.family = dst.family = family;
	if (family == TM_FAMILY_IPV4) {
		src.prefixlen = 24, src.addr = {198, 18, 0, 0};
		dst.prefixlen = 16, dst.addr = {198, 19, 0, 0};
	} else {
		src.prefixlen = 48, src.addr = {0x20, 0x01, 0x0d, 0xb8, 0, 1};
		dst.prefixlen = 48, dst.addr = {0x20, 0x01, 0x0d, 0xb8, 0, 2};
	}
	for (const Cidr &c : {src, dst}) {
		seen.insert(c);
		out.push_back(c);
	}
	while (out.size() < n) {
		Cidr c{};
		c.family = family;
		uint64_t r = rng();
		if (family == TM_FAMILY_IPV4) {
			// within 10.0.0.0/8, /9 to /32
			c.prefixlen = uint8_t(9 + r % 24);
			uint32_t a = (10u << 24) | uint32_t(r >> 32 & 0xffffff);
			a &= c.prefixlen == 32 ? ~0u : ~(~0u >> c.prefixlen);
			for (int i = 0; i < 4; ++i)
				c.addr[i] = uint8_t(a >> (24 - 8 * i));
		} else {
			// within 2001:db8:8000::/33, /40 to /128
			c.prefixlen = uint8_t(40 + r % 89);
			c.addr = {0x20, 0x01, 0x0d, 0xb8};
			uint64_t hi = rng(), lo = rng();
			for (int i = 4; i < 16; ++i)
				c.addr[i] = uint8_t(i < 8 ? hi >> (8 * i) : lo >> (8 * (i - 8)));
			c.addr[4] |= 0x80;
			for (unsigned bit = c.prefixlen; bit < 128; ++bit)
				c.addr[bit / 8] &= uint8_t(~(0x80 >> (bit % 8)));
		}
		if (seen.insert(c).second)
			out.push_back(c);
	}
	return out;
}

// ns a run, to a tenth: see Runner::time_once.
struct Timing {
	double min, median, floor_min, floor_median, base_min, base_median;
};

// One BPF_PROG_TEST_RUN call: `repeat` runs of the program on frame f,
// with ctx's __sk_buff fields if given. Returns the call's results
// (duration, retval).
bpf_test_run_opts test_run(int prog_fd, const std::vector<uint8_t> &f, int repeat,
			   const __sk_buff *ctx = nullptr)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.data(), .data_size_in = uint32_t(f.size()),
		    .ctx_in = ctx, .ctx_size_in = ctx ? uint32_t(sizeof(*ctx)) : 0u,
		    .repeat = repeat);
	if (int err = bpf_prog_test_run_opts(prog_fd, &opts))
		fail("BPF_PROG_TEST_RUN", err);
	return opts;
}

// One run of the program on frame f; the kernel's ns for it (its clock
// reads included).
uint32_t run_one(int prog_fd, const std::vector<uint8_t> &f)
{
	return test_run(prog_fd, f, 1).duration;
}

struct Runner {
	std::vector<uint8_t> frame;
	int repeat = 2'000'000;
	int trials = 7;
	// With ctx: the __sk_buff fields the kernel takes from the caller
	// (ingress_ifindex for --egress-skip).
	const __sk_buff *ctx = nullptr;

	// The average ns per run over `repeat` runs, by the wall clock around
	// the call: the kernel's own figure (opts.duration) is rounded down to
	// a whole ns, 3% of an established flow, which made an A/B of a few
	// instructions read 0 (docs/BENCHMARKS.md, "Stop 31"). The call's
	// set-up (the frame copied in, one skb) is about a microsecond, a
	// thousandth of a ns a run over a million runs. Time the kernel stops
	// its clock for (a reschedule) is counted here: the minimum over the
	// trials, which the tables report, leaves such a trial out.
	double time_once(int prog_fd) const
	{
		const auto t0 = std::chrono::steady_clock::now();
		const auto opts = test_run(prog_fd, frame, repeat, ctx);
		const double ns = std::chrono::duration<double, std::nano>(
					  std::chrono::steady_clock::now() - t0)
					  .count();
		if (opts.retval != uint32_t(-1))
			throw std::runtime_error("program returned something other than TC_ACT_UNSPEC");
		return ns / repeat;
	}

	// Floor, baseline (the same program with 2 rules) and program alternate
	// trial by trial, so all three see the same machine (others may be busy
	// on it). Interference only adds time, so the minimum is the steadiest
	// estimate; the median is reported too. Baseline and program swap
	// places every other trial: with --base-object, the one run second
	// came out up to 1-2 ns faster in some runs.
	Timing measure(int floor_fd, int base_fd, int prog_fd) const
	{
		std::vector<double> f, b, p;
		for (int t = 0; t < trials; ++t) {
			f.push_back(time_once(floor_fd));
			if (t % 2) {
				p.push_back(time_once(prog_fd));
				b.push_back(time_once(base_fd));
			} else {
				b.push_back(time_once(base_fd));
				p.push_back(time_once(prog_fd));
			}
		}
		for (auto *v : {&f, &b, &p})
			std::sort(v->begin(), v->end());
		const size_t mid = p.size() / 2;
		return {p.front(), p[mid], f.front(), f[mid], b.front(), b[mid]};
	}

	// The reply direction of the benchmark flow: run once after the frame
	// itself, it makes the flow two-way (an established flow, in a two-way way).
	std::vector<uint8_t> reply;
};

struct Row {
	const char *family;
	uint32_t rules, flows;
	Timing t;
};

// Which program a Dataplane runs. object_file: another build of
// bpf/traffic_meter.bpf.c (A/B comparisons); empty: the embedded one.
// build: which build of its entry points (--build).
struct ProgramChoice {
	std::string object_file;
	EntryBuild build = EntryBuild::kFast;
};

class Dataplane {
public:
	explicit Dataplane(const ProgramChoice &choice) : build_(choice.build)
	{
		const std::string &object_file = choice.object_file;
		skel_ = static_cast<traffic_meter_bpf *>(calloc(1, sizeof(traffic_meter_bpf)));
		if (!skel_)
			fail("calloc", ENOMEM);
		if (int err = traffic_meter_bpf__create_skeleton(skel_))
			fail("create skeleton", err);
		if (!object_file.empty()) {
			FILE *f = std::fopen(object_file.c_str(), "rb");
			if (!f)
				fail("open " + object_file, errno);
			int c;
			while ((c = std::fgetc(f)) != EOF)
				object_bytes_.push_back(char(c));
			std::fclose(f);
			skel_->skeleton->data = object_bytes_.data();
			skel_->skeleton->data_sz = object_bytes_.size();
		}
		if (int err = bpf_object__open_skeleton(skel_->skeleton, nullptr))
			fail("open skeleton", err);
		tmeter::size_skeleton(skel_, {kMaxRules, kMaxFlows});
		// Only the measured entry points: the build's Ethernet ones.
		for (EntryBuild b : {EntryBuild::kFast, EntryBuild::kSlow, EntryBuild::kCompat})
			for (bool egress : {false, true})
				for (bool l3 : {false, true})
					bpf_program__set_autoload(
						tmeter::entry_program(skel_, b, egress, l3),
						b == build_ && !l3);
		if (int err = traffic_meter_bpf__load(skel_))
			fail("load traffic_meter (verifier)", err);
		maps_ = tmeter::map_set_of(skel_);
		// What the first `load` writes.
		tm_config cfg{};
		cfg.magic = TM_CONFIG_MAGIC;
		cfg.rules_gen = 1;
		cfg.abi_version = TM_ABI_VERSION;
		cfg.max_rules = kMaxRules;
		cfg.max_flows = kMaxFlows;
		maps_.write_config(cfg);
	}
	~Dataplane()
	{
		maps_ = MapSet{};
		traffic_meter_bpf__destroy(skel_);
	}
	Dataplane(const Dataplane &) = delete;
	Dataplane &operator=(const Dataplane &) = delete;

	int prog_fd() const { return bpf_program__fd(tmeter::entry_program(skel_, build_, false, false)); }
	int egress_fd() const { return bpf_program__fd(tmeter::entry_program(skel_, build_, true, false)); }
	const MapSet &maps() const { return maps_; }

	void add_rules(std::vector<Cidr> rules)
	{
		RuleChange change;
		change.add = std::move(rules);
		RuleStore(maps_).apply(change);
	}

	// The table with only the benchmark flow (key given) as a two-way
	// flow, whose rules its first packet resolves (rules_gen 0).
	void reset_flows(const tm_flow_key &bench_flow)
	{
		table_ = tmeter::FlowTableImage(tmeter::flow_buckets(kMaxFlows));
		tm_flow_entry bench{};
		bench.key = bench_flow;
		tmeter::place_flow(table_, bench, true);
		tmeter::write_flow_table(maps_, table_);
	}

	// Filler flows that the benchmark packet never hits, two-way, or
	// one-way where their bucket's two-way ways are full; one whose bucket
	// is full is left out (flow_count() tells).
	void fill_flows(uint8_t family, uint32_t n)
	{
		const uint32_t generation = maps_.read_config().rules_gen;
		for (uint32_t i = 0; i < n; ++i) {
			tm_flow_entry e{};
			tm_flow_key &k = e.key;
			k.family = family;
			k.proto = 6;
			k.addr[0][0] = 10, k.addr[1][0] = 10;
			std::memcpy(&k.addr[0][1], &i, 3);
			k.addr[1][3] = 1;
			k.port[0] = uint16_t(i), k.port[1] = 443;
			e.value.rules_gen = generation;
			if (!tmeter::place_flow(table_, e, true))
				tmeter::place_flow(table_, e, false);
		}
		tmeter::write_flow_table(maps_, table_);
	}

	size_t flow_count() const { return maps_.count_flows(); }

private:
	std::vector<char> object_bytes_; // outlives the skeleton that points at it
	EntryBuild build_;
	traffic_meter_bpf *skel_ = nullptr;
	MapSet maps_;
	tmeter::FlowTableImage table_{1}; // what reset_flows and fill_flows wrote
};

// The first packet of a flow, in runs of one packet: each sample is the
// empty program, the new flow's first packet and the same packet again (the
// flow now known), on the same frame, one after the other. A run of one
// includes the kernel's clock reads and its caches are cold, so the figures
// are read against the others of the same sample: the medians of the
// per-sample differences are steadier than the differences of medians.
struct NewFlowTiming {
	uint32_t first, again, floor; // medians, ns a run
	int first_over_again;	      // median of per-sample differences
	int again_over_floor;
	size_t flows; // in the table afterwards
};

class NewFlows {
public:
	NewFlows(uint8_t family, const uint8_t *saddr, const uint8_t *daddr)
	    : family_(family), frame_(tcp_frame(family, saddr, daddr))
	{
	}

	// The i-th new flow: source port and the source address's last bytes
	// vary, within the rule the source matches (a /24 or a /48). The last
	// byte starts at 2: the benchmark flow's source ends in 1, and its port
	// (50000) is among those cycled.
	const std::vector<uint8_t> &frame(uint32_t i)
	{
		const size_t saddr_at = ETH_HLEN + (family_ == TM_FAMILY_IPV4 ? 12 : 8);
		const size_t saddr_last = saddr_at + (family_ == TM_FAMILY_IPV4 ? 3 : 15);
		const size_t sport_at = ETH_HLEN + (family_ == TM_FAMILY_IPV4 ? 20 : 40);
		const uint32_t port = 1024 + i % 60000, host = i / 60000;
		frame_[sport_at] = uint8_t(port >> 8), frame_[sport_at + 1] = uint8_t(port);
		frame_[saddr_last] = uint8_t(2 + host % 253);
		if (family_ == TM_FAMILY_IPV6)
			frame_[saddr_last - 1] = uint8_t(host / 253);
		return frame_;
	}

	// Flows [next, next + n) sent once each, untimed.
	void warm(int prog_fd, uint32_t n)
	{
		for (uint32_t end = next_ + n; next_ < end; ++next_)
			run_one(prog_fd, frame(next_));
	}

	NewFlowTiming measure(int floor_fd, const Dataplane &dp, uint32_t n)
	{
		std::vector<int> first, again, floor, first_over_again, again_over_floor;
		for (uint32_t end = next_ + n; next_ < end; ++next_) {
			const auto &f = frame(next_);
			floor.push_back(int(run_one(floor_fd, f)));
			first.push_back(int(run_one(dp.prog_fd(), f)));
			again.push_back(int(run_one(dp.prog_fd(), f)));
			first_over_again.push_back(first.back() - again.back());
			again_over_floor.push_back(again.back() - floor.back());
		}
		auto median = [](std::vector<int> &v) {
			std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
			return v[v.size() / 2];
		};
		return {uint32_t(median(first)), uint32_t(median(again)), uint32_t(median(floor)),
			median(first_over_again), median(again_over_floor), dp.flow_count()};
	}

private:
	uint8_t family_;
	std::vector<uint8_t> frame_;
	uint32_t next_ = 0;
};

struct NewFlowRow {
	const char *family;
	uint32_t rules;
	const char *table;
	NewFlowTiming t;
};

// Per family and rule count: n new flows into the table with only the
// benchmark flow, then, after enough more that every bucket's ways for new
// flows are taken (three times their number), n flows that each evict one.
std::vector<NewFlowRow> new_flow_rows(const ProgramChoice &program, int empty_fd, uint8_t family,
				      const uint8_t *s, const uint8_t *d, const tm_flow_key &bench_key,
				      const std::vector<Cidr> &rules, uint32_t n)
{
	const char *fname = family == TM_FAMILY_IPV4 ? "IPv4" : "IPv6";
	const uint32_t new_ways = tmeter::flow_buckets(kMaxFlows) * TM_FLOW_NEW_WAYS;
	std::vector<NewFlowRow> rows;
	for (size_t count : {size_t(2), rules.size()}) {
		Dataplane dp(program);
		dp.add_rules({rules.begin(), rules.begin() + count});
		dp.reset_flows(bench_key);
		NewFlows flows(family, s, d);
		NewFlowTiming room = flows.measure(empty_fd, dp, n);
		flows.warm(dp.prog_fd(), 3 * new_ways);
		NewFlowTiming churn = flows.measure(empty_fd, dp, n);
		for (const auto &[table, t] : {std::pair{"room", room}, std::pair{"churn", churn}}) {
			rows.push_back({fname, uint32_t(count), table, t});
			std::fprintf(stderr,
				     "%s, %zu rules, %s: first packet %u ns, again %u, empty %u; first - again "
				     "%+d (%zu flows)\n",
				     fname, count, table, t.first, t.again, t.floor, t.first_over_again, t.flows);
		}
	}
	return rows;
}

void print_new_flow_rows(const std::vector<NewFlowRow> &rows)
{
	std::printf("First packet of a new flow, runs of one packet (ns a run, clock reads included; "
		    "medians, and medians of per-sample differences)\n\n");
	std::printf("| family | rules | table | first packet | same packet again | empty | first - "
		    "again | again - empty | flows after |\n");
	std::printf("|---|---:|---|---:|---:|---:|---:|---:|---:|\n");
	for (const auto &r : rows)
		std::printf("| %s | %u | %s | %u | %u | %u | %+d | %+d | %zu |\n", r.family, r.rules,
			    r.table, r.t.first, r.t.again, r.t.floor, r.t.first_over_again,
			    r.t.again_over_floor, r.t.flows);
}

// The egress program on a packet that came in through an attached interface
// (ingress_ifindex names it): what a router pays a second time for each
// forwarded packet. Timed beside the ingress program on the same packet, as
// an established flow, and the empty program.
Timing time_egress_skip(Runner runner, const ProgramChoice &program, int empty_fd,
			const tm_flow_key &bench_key, const std::vector<Cidr> &rules)
{
	constexpr uint32_t kAttachedIfindex = 7;
	Dataplane dp(program);
	dp.add_rules(rules);
	dp.reset_flows(bench_key);
	tm_iface attached{};
	attached.role = TM_ROLE_ATTACHED;
	write_iface(dp.maps(), kAttachedIfindex, attached); // tm_ifaces and tm_roles
	__sk_buff ctx{};
	ctx.ingress_ifindex = kAttachedIfindex;
	runner.ctx = &ctx; // this function's copy of the runner only
	run_one(dp.prog_fd(), runner.frame);
	run_one(dp.prog_fd(), runner.reply);
	const tm_stats before = dp.maps().read_stats();
	Timing t = runner.measure(empty_fd, dp.prog_fd(), dp.egress_fd());
	const tm_stats after = dp.maps().read_stats();
	// Every egress run must have been a skip, or this timed something else.
	const uint64_t egress_runs = uint64_t(runner.trials) * uint64_t(runner.repeat);
	if (after.egress_skipped - before.egress_skipped != egress_runs)
		throw std::runtime_error(fmt::format("egress skipped {} of {} runs",
						     after.egress_skipped - before.egress_skipped,
						     egress_runs));
	return t;
}

void print_egress_rows(const std::vector<std::pair<const char *, Timing>> &rows)
{
	std::printf("Egress of a packet an attached ingress counted (the skip), ns a packet\n\n");
	std::printf("| family | egress skip (min) | median | ingress, established (min) | "
		    "median | empty (min) | skip - empty |\n");
	std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
	for (const auto &[family, t] : rows)
		std::printf("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %+.1f |\n", family, t.min,
			    t.median, t.base_min, t.base_median, t.floor_min, t.min - t.floor_min);
}

int load_empty(const char *path, ObjectFile &obj)
{
	obj.reset(bpf_object__open_file(path, nullptr));
	if (!obj)
		fail(std::string("open ") + path, errno);
	if (int err = bpf_object__load(obj.get()))
		fail(std::string("load ") + path, err);
	bpf_program *prog = bpf_object__find_program_by_name(obj.get(), "tm_empty");
	if (!prog)
		throw std::runtime_error("no tm_empty in the empty object");
	return bpf_program__fd(prog);
}

// --build's argument: the entry points' build (bpf/traffic_meter.bpf.c).
EntryBuild entry_build_named(const std::string &name)
{
	if (name == "fast")
		return EntryBuild::kFast;
	if (name == "slow")
		return EntryBuild::kSlow;
	if (name == "compat")
		return EntryBuild::kCompat;
	throw std::runtime_error("--build must be fast, slow or compat, not " + name);
}

int run(int argc, char **argv)
{
	if (argc < 2) {
		std::fprintf(stderr, "usage: %s EMPTY_BPF_O [--repeat N] [--trials N] [--quick] [--family 4|6] "
			     "[--max-rules N] [--object FILE] [--base-object FILE] [--spin SECONDS] [--one-way] "
			     "[--new-flows N] [--egress-skip] [--vlan | --qinq | --pppoe] [--build fast|slow|compat]\n",
			     argv[0]);
		return 2;
	}
	Runner runner;
	bool quick = false;
	double spin_seconds = 0;
	ProgramChoice program;
	std::string base_object_file;
	bool one_way = false;
	uint32_t new_flows = 0;
	bool egress_skip = false;
	int tags = 0;
	bool pppoe = false;
	int only_family = 0;
	uint32_t max_rules_case = kMaxRules;
	for (int i = 2; i < argc; ++i) {
		std::string a = argv[i];
		if (a == "--repeat" && i + 1 < argc)
			runner.repeat = std::stoi(argv[++i]);
		else if (a == "--trials" && i + 1 < argc)
			runner.trials = std::stoi(argv[++i]);
		else if (a == "--spin" && i + 1 < argc)
			spin_seconds = std::stod(argv[++i]); // for perf: run the first case only
		else if (a == "--object" && i + 1 < argc)
			program.object_file = argv[++i];
		else if (a == "--base-object" && i + 1 < argc)
			base_object_file = argv[++i];
		else if (a == "--build" && i + 1 < argc)
			program.build = entry_build_named(argv[++i]);
		else if (a == "--family" && i + 1 < argc)
			only_family = std::stoi(argv[++i]);
		else if (a == "--max-rules" && i + 1 < argc)
			max_rules_case = uint32_t(std::stoul(argv[++i]));
		else if (a == "--one-way")
			one_way = true; // time a flow only one side has sent on (a one-way way)
		else if (a == "--new-flows" && i + 1 < argc)
			new_flows = uint32_t(std::stoul(argv[++i]));
		else if (a == "--egress-skip")
			egress_skip = true;
		else if (a == "--quick")
			quick = true;
		else if (a == "--vlan")
			tags = 1;
		else if (a == "--qinq")
			tags = 2;
		else if (a == "--pppoe")
			pppoe = true;
		else
			throw std::runtime_error("unknown argument " + a);
	}
	if (pppoe && tags)
		throw std::runtime_error("--pppoe goes with neither --vlan nor --qinq");
	// The 2-rule twin: the same build, of --base-object's object if given.
	const ProgramChoice base_program{
		base_object_file.empty() ? program.object_file : base_object_file, program.build};
	libbpf_set_print(quiet_libbpf);
	ObjectFile empty_obj;
	const int empty_fd = load_empty(argv[1], empty_obj);

	std::vector<Row> rows;
	std::vector<NewFlowRow> new_flow_table;
	std::vector<std::pair<const char *, Timing>> egress_rows;
	std::mt19937_64 rng(20261127);
	for (uint8_t family : {TM_FAMILY_IPV4, TM_FAMILY_IPV6}) {
		if (only_family && only_family != family)
			continue;
		const char *fname = family == TM_FAMILY_IPV4 ? "IPv4" : "IPv6";
		uint8_t s[16] = {}, d[16] = {};
		if (family == TM_FAMILY_IPV4) {
			uint8_t s4[4] = {198, 18, 0, 1}, d4[4] = {198, 19, 1, 1};
			std::memcpy(s, s4, 4), std::memcpy(d, d4, 4);
		} else {
			uint8_t s6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
			uint8_t d6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
			std::memcpy(s, s6, 16), std::memcpy(d, d6, 16);
		}
		runner.frame = tcp_frame(family, s, d);
		runner.reply = tcp_frame(family, d, s, 443, 50000);
		for (int t = 0; t < tags; ++t) { // the inner tag first
			const uint16_t tpid = t == 0 ? 0x8100 : 0x88a8;
			runner.frame = with_vlan(runner.frame, tpid);
			runner.reply = with_vlan(runner.reply, tpid);
		}
		if (pppoe) {
			runner.frame = with_pppoe(runner.frame);
			runner.reply = with_pppoe(runner.reply);
		}
		// The benchmark flow's key as the data plane normalizes it (s < d here).
		tm_flow_key bench_key{};
		std::memcpy(bench_key.addr[0], s, 16);
		std::memcpy(bench_key.addr[1], d, 16);
		bench_key.port[0] = htons(50000), bench_key.port[1] = htons(443);
		bench_key.proto = 6, bench_key.family = family;
		if (egress_skip) {
			egress_rows.push_back({fname, time_egress_skip(runner, program, empty_fd,
								       bench_key, make_rules(family, 2, rng))});
			continue;
		}
		if (new_flows) {
			const auto rules = make_rules(family, quick ? 1000 : max_rules_case, rng);
			for (auto &r : new_flow_rows(program, empty_fd, family, s, d, bench_key, rules,
						     new_flows))
				new_flow_table.push_back(r);
			continue;
		}

		// dp grows from 2 to 1,000,000 rules; base keeps the 2 the packet
		// matches, and is timed alongside for the "rules do not matter" target.
		Dataplane dp(program), base(base_program);
		const auto all_rules = make_rules(family, quick ? 1000 : max_rules_case, rng);
		base.add_rules({all_rules.begin(), all_rules.begin() + 2});
		uint32_t have = 0;
		for (uint32_t n : kRuleCounts) {
			if (n > all_rules.size())
				break;
			auto t0 = std::chrono::steady_clock::now();
			dp.add_rules({all_rules.begin() + have, all_rules.begin() + n});
			std::fprintf(stderr, "%s: %u rules in place (+%u in %.2f s)\n", fname, n, n - have,
				     seconds_since(t0));
			have = n;
			for (uint32_t flows : {1u, kManyFlows}) {
				for (Dataplane *d : {&dp, &base}) {
					d->reset_flows(bench_key);
					if (flows > 1)
						d->fill_flows(family, flows - 1);
					run_one(d->prog_fd(), runner.frame); // resolves the flow's rules
					if (!one_way)
						run_one(d->prog_fd(), runner.reply); // now two-way
					// Filler flows are placed by the control plane's
					// rules (no eviction): a few hash to buckets whose
					// ways are all taken and are left out. The measured
					// flow went in through the program, which evicts.
					if (size_t have_flows = d->flow_count(); have_flows < flows)
						std::fprintf(stderr,
							     "note: %zu of %u flows in the table, the others "
							     "hashed to full buckets\n",
							     have_flows, flows);
					else if (have_flows > flows)
						std::fprintf(stderr, "warning: expected %u flows, found %zu\n",
							     flows, have_flows);
				}
				Timing t = runner.measure(empty_fd, base.prog_fd(), dp.prog_fd());
				rows.push_back({fname, n, flows, t});
				std::fprintf(stderr,
					     "  %u flows: min %.1f / median %.1f ns (2 rules %.1f / %.1f, empty %.1f / %.1f)\n",
					     flows, t.min, t.median, t.base_min, t.base_median, t.floor_min,
					     t.floor_median);
				if (spin_seconds > 0) {
					auto t1 = std::chrono::steady_clock::now();
					while (seconds_since(t1) < spin_seconds)
						runner.time_once(dp.prog_fd());
					return 0;
				}
			}
		}
	}
	if (new_flows) {
		print_new_flow_rows(new_flow_table);
		return 0;
	}
	if (egress_skip) {
		print_egress_rows(egress_rows);
		return 0;
	}

	std::vector<double> floors;
	for (const auto &r : rows)
		floors.push_back(r.t.floor_min);
	std::sort(floors.begin(), floors.end());
	const double floor = floors[floors.size() / 2];

	std::printf("Empty TC program (floor): %.1f ns/packet (median over the cases of the per-case "
		    "minimum)\n\n",
		    floor);
	std::printf("| family | rules | flows | ns/packet (min) | median | empty (min) | x empty | "
		    "2 rules, same trials (min) | vs 2 rules |\n");
	std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (const auto &r : rows)
		std::printf("| %s | %u | %u | %.1f | %.1f | %.1f | %.2f | %.1f | %+.1f%% |\n", r.family,
			    r.rules, r.flows, r.t.min, r.t.median, r.t.floor_min, r.t.min / r.t.floor_min,
			    r.t.base_min, 100.0 * (r.t.min - r.t.base_min) / r.t.base_min);
	return 0;
}

} // namespace
} // namespace tmeter::bench

int main(int argc, char **argv)
{
	try {
		return tmeter::bench::run(argc, argv);
	} catch (const std::exception &e) {
		std::fprintf(stderr, "dp_bench: %s\n", e.what());
		return 1;
	}
}

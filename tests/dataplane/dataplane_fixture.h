// The real compiled program, loaded from the embedded skeleton with small
// maps and nothing pinned, driven by BPF_PROG_TEST_RUN. Rules go in through
// the control plane's own RuleStore, so the tests also prove that what
// `add`/`del` write is what the data plane reads.
#pragma once

#include <sched.h>

#include <map>
#include <memory>
#include <vector>

#include "bpf/kernel_features.h"
#include "bpf/map_set.h"
#include "reference_model.h"
#include "traffic_meter_kern_user.h"

struct traffic_meter_bpf;

namespace tmeter::dptest {

inline constexpr int kTcActUnspec = -1;

class Dataplane {
public:
	struct Options {
		uint32_t max_rules = 64;
		uint32_t max_flows = 8192;
	};
	Dataplane() : Dataplane(Options{}) {}
	explicit Dataplane(const Options &o);
	~Dataplane();
	Dataplane(const Dataplane &) = delete;
	Dataplane &operator=(const Dataplane &) = delete;

	// Test cases share one loaded instance and reset() it to a pristine
	// first-load state: the differential test runs thousands of cases.
	static Dataplane &shared();
	void reset();

	// Runs the entry point the event names, of the build set_build() chose
	// (default kFast), `repeat` times in one BPF_PROG_TEST_RUN; returns the
	// program's verdict. Throws if the kernel refuses the run itself. Safe
	// to call from several threads at once (each on its own CPU).
	int run(const PacketEvent &ev, uint32_t repeat = 1);
	void set_build(EntryBuild b) { build_ = b; }

	void add(const std::vector<Prefix> &rules);
	void del(const std::vector<Prefix> &rules);
	// Records ifindex in tm_ifaces as load would (role TM_ROLE_*), or
	// forgets it as unload would (role 0).
	void attach(uint32_t ifindex, uint32_t role = TM_ROLE_ATTACHED);

	// Counters of every rule, summed over the CPUs.
	std::map<Prefix, Counters> counters() const;
	Counters counters(const Prefix &rule) const;
	Stats stats() const;
	tm_stats raw_stats() const;
	size_t flow_count() const;	   // both tables
	size_t two_way_flow_count() const; // the two-way ways only

	const MapSet &maps() const { return maps_; }

private:
	struct SkelDeleter {
		void operator()(traffic_meter_bpf *s) const;
	};
	std::unique_ptr<traffic_meter_bpf, SkelDeleter> skel_;
	MapSet maps_; // dups of the skeleton's map fds, for RuleStore
	Options options_;
	EntryBuild build_ = EntryBuild::kFast;
};

// The first at_most CPUs this thread may run on, in order: BPF_PROG_TEST_RUN
// runs the program on the caller's CPU, so a test pins itself to each.
std::vector<int> allowed_cpus(size_t at_most = SIZE_MAX);

// Pins the calling thread to one CPU (pin_to) and gives it back the CPUs it
// had when the guard was made, on every way out of the test: a test that
// failed pinned would leave the next ones one CPU.
class CpuPin {
public:
	CpuPin();
	~CpuPin();
	CpuPin(const CpuPin &) = delete;
	CpuPin &operator=(const CpuPin &) = delete;

	// Throws if the thread may not run on cpu.
	static void pin_to(int cpu);

private:
	cpu_set_t saved_{};
};

} // namespace tmeter::dptest

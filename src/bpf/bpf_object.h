// The BPF object (embedded skeleton, or --object FILE with the same maps
// and programs) on its way into the kernel: which maps it reuses, how large
// the ones it creates are, and the entry points fit for this kernel.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "bpf/kernel_features.h"
#include "bpf/map_set.h"

struct traffic_meter_bpf;
struct bpf_program;

namespace tmeter {

// The maps of a loaded skeleton as a MapSet (descriptors duplicated): what
// `load` pins, and what tests and benchmarks drive RuleStore with.
MapSet map_set_of(const traffic_meter_bpf *skel);

// Capacities of the sized maps a load creates.
struct Capacities {
	uint32_t rules = TM_DEFAULT_MAX_RULES;
	uint32_t flows = TM_DEFAULT_MAX_FLOWS;
};

// Buckets of the flow table for --max-flows (TM_FLOW_WAYS two-way flows
// each, rounded up), and the capacity they give.
uint32_t flow_buckets(uint32_t max_flows);
uint32_t flow_capacity(uint32_t buckets);
// Entries of the flow table's pool: one per way, entry 0 (never handed
// out), and what the CPUs may hold in their reserves.
uint32_t flow_pool_entries(uint32_t buckets, unsigned cpus);

// The entry point of one build for a hook and a link layer (the names of
// bpf/traffic_meter.bpf.c): what `load` attaches, and what the data-plane
// tests and dp_bench run.
bpf_program *entry_program(const traffic_meter_bpf *skel, EntryBuild build, bool egress,
			   bool l3_device);

// Sizes the maps an opened skeleton will create, and sets the program's
// bucket and pool entry counts to match the flow table's size. BpfObject, the data-plane
// tests and dp_bench all open the skeleton, and all size it here.
void size_skeleton(traffic_meter_bpf *skel, const Capacities &c);

// What sizing the state's maps (tm_config) for `want` would change. Flows
// count in whole buckets: --max-flows 1,001 and 1,004 are one table.
struct CapacityChange {
	bool rules = false, flows = false;
	bool any() const { return rules || flows; }
};
CapacityChange capacity_change(const tm_config &cfg, const Capacities &want);

class BpfObject {
public:
	// Opens the object; nothing is in the kernel yet.
	static BpfObject open(const std::optional<std::filesystem::path> &object_file);

	BpfObject(BpfObject &&) noexcept;
	BpfObject &operator=(BpfObject &&) noexcept;
	~BpfObject();

	// The loaded programs use this existing map instead of a new one.
	// Refuses (runtime Error) a pinned map whose shape is not the object's:
	// an incompatible upgrade must never misread state.
	void reuse(std::string_view name, const Fd &map);
	// Every map of `maps` for which keep(name) holds.
	template <typename Pred> void reuse_if(const MapSet &maps, Pred keep)
	{
		for (const auto &e : MapSet::all())
			if (keep(e.name))
				reuse(e.name, maps.*(e.member));
	}
	void set_capacities(const Capacities &c);

	// Loads the entry points fit for this kernel (verifier errors become
	// one line, the log's tail with verbose).
	void load(bool verbose);

	int prog_fd(bool egress, bool l3_device) const;
	// The maps the loaded programs use (descriptors duplicated).
	MapSet maps() const;

private:
	struct SkelDeleter {
		void operator()(traffic_meter_bpf *skel) const;
	};
	BpfObject() = default;

	std::optional<std::filesystem::path> file_;
	std::vector<char> file_bytes_; // must outlive the skeleton that points at it

	std::unique_ptr<traffic_meter_bpf, SkelDeleter> skel_;
	EntryBuild build_ = EntryBuild::kFast;
};

} // namespace tmeter

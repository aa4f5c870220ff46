// The BPF object (embedded skeleton, or --object FILE with the same maps
// and programs), loaded against the pinned maps: the heart of `load`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpf/map_set.h"

struct traffic_meter_bpf;

namespace tmeter {

struct LoadSettings {
	std::filesystem::path pin_dir;
	std::optional<std::filesystem::path> object_file;
	std::optional<uint32_t> max_rules;
	std::optional<uint32_t> max_flows;
	bool verbose = false;
};

// The maps of a loaded skeleton as a MapSet (descriptors duplicated): what
// `load` pins, and what tests and benchmarks drive RuleStore with.
MapSet map_set_of(const traffic_meter_bpf *skel);

// Empties a loaded skeleton's per-CPU flow cache (tm_flow_cache), for tests
// and benchmarks that change tm_flows behind the data plane's back.
void empty_flow_cache(const traffic_meter_bpf *skel);

class BpfObject {
public:
	// Opens the object and loads it into the kernel, reusing the pinned
	// maps, or creating and pinning them on the first load. Call with the
	// pin lock held.
	static BpfObject load(const LoadSettings &settings);

	BpfObject(BpfObject &&) noexcept;
	BpfObject &operator=(BpfObject &&) noexcept;
	~BpfObject();

	int prog_fd(bool egress, bool l3_device) const;
	bool created_state() const { return created_state_; }
	// Unpins the maps this load created (a failed first load leaves nothing).
	void discard_state(const std::filesystem::path &pin_dir);

	// --max-rules/--max-flows changed the capacity of pinned state: the
	// object runs on new maps, which bpf/map_resize.h fills and re-pins.
	bool resizing() const { return resizing_; }
	const MapSet &pinned_maps() const { return pinned_; }
	// The maps the loaded programs use (descriptors duplicated).
	MapSet loaded_maps() const;

private:
	struct SkelDeleter {
		void operator()(traffic_meter_bpf *skel) const;
	};
	BpfObject() = default;

	std::vector<char> file_bytes_; // must outlive the skeleton that points at it
	std::unique_ptr<traffic_meter_bpf, SkelDeleter> skel_;
	bool created_state_ = false;
	bool resizing_ = false;
	MapSet pinned_;
};

} // namespace tmeter

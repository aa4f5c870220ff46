// `status`: one model, rendered as text or JSON (SPEC §2). Pure functions of
// their input, so unit tests cover them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "traffic_meter_kern_user.h"

namespace tmeter {

struct InterfaceStatus {
	int ifindex = 0;
	std::string name;
	bool present = false;
	std::string link_layer;
	std::string since;
	std::string attach_mode;
	bool ingress = false;
	bool egress = false;
	bool egress_expected = true; // loopback: ingress only
	uint32_t program_id = 0;
	std::string program_tag;
	uint32_t maps_gen = 0;
};

struct UpperStatus {
	std::string name;
	bool partial = false; // some lower devices are not attached
};

struct StatusModel {
	std::string pin_path;
	uint32_t abi_version = 0;
	std::string network_namespace;
	std::vector<InterfaceStatus> interfaces;
	std::vector<UpperStatus> upper_devices;
	std::vector<std::string> uppers_stale; // differences from the live links
	uint64_t rules = 0, rules_capacity = 0, flows = 0, flows_capacity = 0;
	uint32_t rule_set_generation = 0;
	tm_stats dataplane{};

	// Problems that make `status` exit 1: an interface gone, a hook missing.
	std::vector<std::string> problems() const;
};

std::string render_status_text(const StatusModel &m);
std::string render_status_json(const StatusModel &m);

} // namespace tmeter

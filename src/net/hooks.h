// This instance's programs on an interface's ingress and egress hooks.
// TCX links where the kernel has them (6.6+, found by trying), pinned under
// the pin path; a tc filter on clsact elsewhere. Either way the instance
// touches only hooks it made: a TCX link is its own, a tc filter is ours
// only while it runs the program id we recorded when we attached it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace tmeter {

enum class AttachMode { kAuto, kTcx, kNetlink };

// What we made on one interface (kept in tm_ifaces).
struct HookRecord {
	uint32_t mode = 0;	   // TM_ATTACH_*
	uint32_t tc_priority = 0; // netlink
	uint32_t tc_handle = 0;
	uint32_t prog_id[2] = {}; // ingress, egress; 0: none
	bool created_clsact = false; // netlink: removed again when we leave it empty
	uint8_t prog_tag[2][8] = {};
};

struct AttachRequest {
	int ifindex = 0;
	std::string name;
	int ingress_fd = -1;
	int egress_fd = -1; // < 0: ingress only (loopback)
	AttachMode mode = AttachMode::kAuto;
	std::optional<HookRecord> previous; // ours there already: replaced in place
	std::filesystem::path links_dir;    // where TCX links are pinned
};

// Attaches both hooks (the egress one removed if egress_fd < 0), replacing
// our own earlier programs in place, so no packet goes uncounted. On a
// failure leaves the interface as it found it.
HookRecord attach_hooks(const AttachRequest &req);

// Removes our hooks. A tc filter that no longer runs the recorded program is
// someone else's now and stays. Removes the clsact qdisc too if we created
// it and leave nothing on it.
// Returns false if nothing of ours was there.
bool detach_hooks(int ifindex, const std::string &name, const HookRecord &rec,
		  const std::filesystem::path &links_dir);

// Which of our hooks are in place (CAP_BPF is enough: TCX links are read
// through their pins, tc filters through an unprivileged netlink dump).
struct HookState {
	bool ingress = false;
	bool egress = false;
	uint32_t prog_id[2] = {};
};
HookState query_hooks(int ifindex, const HookRecord &rec, const std::filesystem::path &links_dir);

const char *attach_mode_name(uint32_t mode);

} // namespace tmeter

#include "net/hooks.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "net/netlink.h"
#include "traffic_meter_kern_user.h"
#include "util/error.h"
#include "util/fd.h"

namespace tmeter {
namespace {

// Linux 6.6 (uapi bpf.h); Debian 12's headers predate them.
constexpr auto kTcxIngress = static_cast<bpf_attach_type>(46);
constexpr auto kTcxEgress = static_cast<bpf_attach_type>(47);
constexpr int kEnotsupp = 524; // the kernel's internal ENOTSUPP

// struct bpf_link_info with its tcx member (6.6), which the old headers lack.
struct TcxLinkInfo {
	__u32 type;
	__u32 id;
	__u32 prog_id;
	__u32 pad;
	__u32 ifindex; // 0 once the device is gone
	__u32 attach_type;
	__u8 rest[64];
};

constexpr uint32_t kTcHandle = 0x544d; // "TM"
constexpr uint32_t kTcPriorityBase = 0x544d;
constexpr uint32_t kTcPriorities = 256;

std::filesystem::path link_pin(const std::filesystem::path &dir, int ifindex, bool egress)
{
	return dir / fmt::format("if{}_{}", ifindex, egress ? "egress" : "ingress");
}

// Our pinned link for the hook if it still hooks that device; a pin left
// by a device that is gone (the link is defunct) is removed.
Fd open_link(const std::filesystem::path &pin, int ifindex, bool remove_defunct,
	     TcxLinkInfo *info_out = nullptr)
{
	Fd fd(bpf_obj_get(pin.c_str()));
	if (!fd)
		return fd;
	TcxLinkInfo info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0 && int(info.ifindex) == ifindex) {
		if (info_out)
			*info_out = info;
		return fd;
	}
	if (remove_defunct)
		unlink(pin.c_str());
	return Fd();
}

// The id and tag of a program we hold, recorded so that later commands
// can tell our hooks from others' with nothing but CAP_BPF.
void identify(int prog_fd, HookRecord &rec, int hook)
{
	bpf_prog_info info{};
	uint32_t len = sizeof(info);
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		fail_errno("cannot query the loaded program", errno);
	rec.prog_id[hook] = info.id;
	std::memcpy(rec.prog_tag[hook], info.tag, sizeof(rec.prog_tag[hook]));
}

// One TCX hook: updates our link in place or creates and pins a new one.
// Returns 0 or -errno; *created tells whether a new link was made.
int tcx_attach(const std::filesystem::path &dir, int ifindex, bool egress, int prog_fd,
	       bool *created)
{
	*created = false;
	const auto pin = link_pin(dir, ifindex, egress);
	if (Fd link = open_link(pin, ifindex, true))
		return bpf_link_update(link.get(), prog_fd, nullptr) ? -errno : 0;
	Fd link(bpf_link_create(prog_fd, ifindex, egress ? kTcxEgress : kTcxIngress, nullptr));
	if (!link)
		return -errno;
	mkdir(dir.c_str(), 0700);
	if (bpf_obj_pin(link.get(), pin.c_str()))
		return -errno; // closing the only descriptor detaches it again
	*created = true;
	return 0;
}

void tcx_detach(const std::filesystem::path &dir, int ifindex, bool egress)
{
	const auto pin = link_pin(dir, ifindex, egress);
	if (Fd link = open_link(pin, ifindex, true))
		bpf_link_detach(link.get());
	unlink(pin.c_str());
}

bpf_tc_attach_point point(bool egress) { return egress ? BPF_TC_EGRESS : BPF_TC_INGRESS; }

std::optional<TcFilter> filter_at(int ifindex, bool egress, uint32_t prio, uint32_t handle)
{
	for (auto &f : list_filters(ifindex, !egress))
		if (f.priority == prio && f.handle == handle)
			return f;
	return std::nullopt;
}

bool ours_at(int ifindex, bool egress, const HookRecord &rec)
{
	const uint32_t want = rec.prog_id[egress ? 1 : 0];
	auto f = filter_at(ifindex, egress, rec.tc_priority, rec.tc_handle);
	return want && f && f->prog_id == want;
}

int tc_attach(int ifindex, bool egress, int prog_fd, uint32_t prio, bool replace)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point(egress));
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = replace ? uint32_t(BPF_TC_F_REPLACE) : 0u,
		    .handle = kTcHandle, .priority = prio);
	return bpf_tc_attach(&hook, &opts);
}

void tc_detach(int ifindex, bool egress, uint32_t prio, uint32_t handle)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point(egress));
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = prio);
	bpf_tc_detach(&hook, &opts);
}

void destroy_clsact(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
	bpf_tc_hook_destroy(&hook);
}

bool clsact_empty(int ifindex)
{
	return list_filters(ifindex, true).empty() && list_filters(ifindex, false).empty();
}

// A priority no filter uses on either hook: other instances and other tools
// keep theirs, and both count.
uint32_t free_priority(int ifindex)
{
	auto in = list_filters(ifindex, true), out = list_filters(ifindex, false);
	for (uint32_t p = kTcPriorityBase; p < kTcPriorityBase + kTcPriorities; ++p) {
		auto used = [&](const std::vector<TcFilter> &fs) {
			for (const auto &f : fs)
				if (f.priority == p)
					return true;
			return false;
		};
		if (!used(in) && !used(out))
			return p;
	}
	fail_runtime(fmt::format("no free tc filter priority on ifindex {} ({:#x}-{:#x} all taken)",
				 ifindex, kTcPriorityBase, kTcPriorityBase + kTcPriorities - 1));
}

HookRecord attach_netlink(const AttachRequest &req)
{
	// clsact may exist already (another tool, or our earlier load): keep it,
	// and remember whether we made it so that only what we made is undone.
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = req.ifindex, .attach_point = BPF_TC_INGRESS);
	int err = bpf_tc_hook_create(&hook);
	const bool created = err == 0;
	if (err && err != -EEXIST)
		fail_errno(fmt::format("cannot create clsact qdisc on {}", req.name), err);

	HookRecord rec;
	rec.mode = TM_ATTACH_NETLINK;
	rec.tc_handle = kTcHandle;
	rec.created_clsact = created || (req.previous && req.previous->created_clsact);
	const bool in_place = req.previous && req.previous->mode == TM_ATTACH_NETLINK &&
			      ours_at(req.ifindex, false, *req.previous);
	rec.tc_priority = in_place ? req.previous->tc_priority : free_priority(req.ifindex);
	const bool had_egress = in_place && ours_at(req.ifindex, true, *req.previous);

	err = tc_attach(req.ifindex, false, req.ingress_fd, rec.tc_priority, in_place);
	if (!err && req.egress_fd >= 0)
		err = tc_attach(req.ifindex, true, req.egress_fd, rec.tc_priority, had_egress);
	if (err) {
		if (!in_place)
			tc_detach(req.ifindex, false, rec.tc_priority, kTcHandle);
		if (created)
			destroy_clsact(req.ifindex);
		fail_errno(fmt::format("cannot attach to {}", req.name), err);
	}
	if (req.egress_fd < 0 && had_egress)
		tc_detach(req.ifindex, true, rec.tc_priority, kTcHandle);
	identify(req.ingress_fd, rec, 0);
	if (req.egress_fd >= 0)
		identify(req.egress_fd, rec, 1);
	return rec;
}

// Returns nullopt when this kernel has no TCX.
std::optional<HookRecord> attach_tcx(const AttachRequest &req)
{
	bool new_in = false, new_out = false;
	int err = tcx_attach(req.links_dir, req.ifindex, false, req.ingress_fd, &new_in);
	if (err == -EINVAL || err == -EOPNOTSUPP || err == -kEnotsupp)
		return std::nullopt; // an attach type this kernel does not know
	if (!err && req.egress_fd >= 0)
		err = tcx_attach(req.links_dir, req.ifindex, true, req.egress_fd, &new_out);
	if (err) {
		if (new_in)
			tcx_detach(req.links_dir, req.ifindex, false);
		fail_errno(fmt::format("cannot attach to {}", req.name), err);
	}
	if (req.egress_fd < 0)
		tcx_detach(req.links_dir, req.ifindex, true);
	HookRecord rec;
	rec.mode = TM_ATTACH_TCX;
	identify(req.ingress_fd, rec, 0);
	if (req.egress_fd >= 0)
		identify(req.egress_fd, rec, 1);
	return rec;
}

} // namespace

const char *attach_mode_name(uint32_t mode)
{
	return mode == TM_ATTACH_TCX ? "tcx" : mode == TM_ATTACH_NETLINK ? "tc clsact (netlink)" : "none";
}

HookRecord attach_hooks(const AttachRequest &req)
{
	AttachMode mode = req.mode;
	if (mode == AttachMode::kAuto && req.previous)
		mode = req.previous->mode == TM_ATTACH_TCX ? AttachMode::kTcx : AttachMode::kNetlink;
	if (mode != AttachMode::kNetlink) {
		if (auto rec = attach_tcx(req)) {
			// Moving from a tc filter to TCX: the filter of ours goes.
			if (req.previous && req.previous->mode == TM_ATTACH_NETLINK)
				detach_hooks(req.ifindex, req.name, *req.previous, req.links_dir);
			return *rec;
		}
		if (mode == AttachMode::kTcx)
			fail_runtime(fmt::format("cannot attach to {} with TCX: this kernel has no TCX "
						 "(Linux 6.6 or newer); use --attach-mode netlink",
						 req.name));
	}
	HookRecord rec = attach_netlink(req);
	if (req.previous && req.previous->mode == TM_ATTACH_TCX) {
		tcx_detach(req.links_dir, req.ifindex, false);
		tcx_detach(req.links_dir, req.ifindex, true);
	}
	return rec;
}

bool detach_hooks(int ifindex, const std::string &name, const HookRecord &rec,
		  const std::filesystem::path &links_dir)
{
	(void)name;
	if (rec.mode == TM_ATTACH_TCX) {
		auto state = query_hooks(ifindex, rec, links_dir);
		tcx_detach(links_dir, ifindex, false);
		tcx_detach(links_dir, ifindex, true);
		return state.ingress || state.egress;
	}
	bool found = false;
	for (bool egress : {false, true}) {
		if (ours_at(ifindex, egress, rec)) {
			tc_detach(ifindex, egress, rec.tc_priority, rec.tc_handle);
			found = true;
		}
	}
	if (found && rec.created_clsact && clsact_empty(ifindex))
		destroy_clsact(ifindex);
	return found;
}

HookState query_hooks(int ifindex, const HookRecord &rec, const std::filesystem::path &links_dir)
{
	HookState st;
	if (rec.mode == TM_ATTACH_TCX) {
		for (bool egress : {false, true}) {
			TcxLinkInfo info{};
			if (Fd link = open_link(link_pin(links_dir, ifindex, egress), ifindex, false, &info)) {
				(egress ? st.egress : st.ingress) = true;
				st.prog_id[egress ? 1 : 0] = info.prog_id;
			}
		}
		return st;
	}
	for (bool egress : {false, true}) {
		auto f = filter_at(ifindex, egress, rec.tc_priority, rec.tc_handle);
		if (f && f->prog_id == rec.prog_id[egress ? 1 : 0] && f->prog_id) {
			(egress ? st.egress : st.ingress) = true;
			st.prog_id[egress ? 1 : 0] = f->prog_id;
		}
	}
	return st;
}

} // namespace tmeter

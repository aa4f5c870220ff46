#include "net/tc_filter.h"

#include <bpf/libbpf.h>

#include <cerrno>

#include <fmt/format.h>

#include "net/netlink.h"
#include "util/error.h"

namespace tmeter {
namespace {

bpf_tc_attach_point attach_point(TcHook hook)
{
	return hook == TcHook::kIngress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
}

int attach_one(int ifindex, TcHook hook, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, tc_hook, .ifindex = ifindex, .attach_point = attach_point(hook));
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE,
		    .handle = kTcHandle, .priority = kTcPriority);
	return bpf_tc_attach(&tc_hook, &opts);
}

int detach_one(int ifindex, TcHook hook)
{
	LIBBPF_OPTS(bpf_tc_hook, tc_hook, .ifindex = ifindex, .attach_point = attach_point(hook));
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
	return bpf_tc_detach(&tc_hook, &opts);
}

bool only_ours_left(int ifindex)
{
	for (bool ingress : {true, false})
		for (const auto &f : list_filters(ifindex, ingress))
			if (f.priority != kTcPriority || (f.handle != 0 && f.handle != kTcHandle))
				return false;
	return true;
}

} // namespace

std::optional<uint32_t> attached_prog_id(int ifindex, TcHook hook)
{
	LIBBPF_OPTS(bpf_tc_hook, tc_hook, .ifindex = ifindex, .attach_point = attach_point(hook));
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = kTcHandle, .priority = kTcPriority);
	if (bpf_tc_query(&tc_hook, &opts))
		return std::nullopt;
	return opts.prog_id;
}

void attach_filters(int ifindex, const char *ifname, int ingress_prog_fd, int egress_prog_fd)
{
	// clsact may exist already (another tool, or our earlier load): keep it,
	// and remember whether we made it so a failure removes only what we made.
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	int err = bpf_tc_hook_create(&hook);
	bool created = err == 0;
	if (err && err != -EEXIST)
		fail_errno(fmt::format("cannot create clsact qdisc on {}", ifname), err);

	bool had_ingress = attached_prog_id(ifindex, TcHook::kIngress).has_value();
	err = attach_one(ifindex, TcHook::kIngress, ingress_prog_fd);
	if (!err && egress_prog_fd < 0) {
		detach_one(ifindex, TcHook::kEgress);
	} else if (!err) {
		err = attach_one(ifindex, TcHook::kEgress, egress_prog_fd);
		if (err && !had_ingress)
			detach_one(ifindex, TcHook::kIngress);
	}
	if (err) {
		if (created) {
			hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
			bpf_tc_hook_destroy(&hook);
		}
		fail_errno(fmt::format("cannot attach to {}", ifname), err);
	}
}

bool detach_filters(int ifindex, const char *ifname)
{
	bool found = false;
	for (TcHook h : {TcHook::kIngress, TcHook::kEgress}) {
		int err = detach_one(ifindex, h);
		if (err == 0)
			found = true;
		else if (err != -ENOENT && err != -EINVAL)
			fail_errno(fmt::format("cannot detach from {}", ifname), err);
	}
	if (found && only_ours_left(ifindex)) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
		bpf_tc_hook_destroy(&hook);
	}
	return found;
}

} // namespace tmeter

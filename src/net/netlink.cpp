#include "net/netlink.h"

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <functional>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "util/error.h"

namespace tmeter {
namespace {

struct MnlSocketClose {
	void operator()(mnl_socket *s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlSocketClose>;

// Sends one dump request and calls on_msg for every reply message.
void dump(nlmsghdr *req, const std::function<void(const nlmsghdr *)> &on_msg)
{
	MnlSocket sock(mnl_socket_open(NETLINK_ROUTE));
	if (!sock || mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0)
		fail_errno("cannot open netlink socket", errno);
	req->nlmsg_seq = static_cast<uint32_t>(time(nullptr));
	if (mnl_socket_sendto(sock.get(), req, req->nlmsg_len) < 0)
		fail_errno("netlink request failed", errno);
	std::vector<char> buf(32768);
	const unsigned portid = mnl_socket_get_portid(sock.get());
	auto trampoline = [](const nlmsghdr *nlh, void *data) -> int {
		(*static_cast<const std::function<void(const nlmsghdr *)> *>(data))(nlh);
		return MNL_CB_OK;
	};
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(sock.get(), buf.data(), buf.size());
		if (n < 0)
			fail_errno("netlink receive failed", errno);
		int ret = mnl_cb_run(buf.data(), n, req->nlmsg_seq, portid, trampoline,
				     const_cast<std::function<void(const nlmsghdr *)> *>(&on_msg));
		if (ret == MNL_CB_STOP)
			return;
		if (ret < 0) {
			if (errno == EINVAL || errno == ENOENT)
				return; // no such hook: nothing to list
			fail_errno("netlink dump failed", errno);
		}
	}
}

// libmnl's attribute loop macros do arithmetic on void *, which C++ rejects.
template <typename Fn> void for_each_attr(const void *begin, const void *end, Fn fn)
{
	const auto *attr = static_cast<const nlattr *>(begin);
	while (mnl_attr_ok(attr, static_cast<int>(static_cast<const char *>(end) -
						  reinterpret_cast<const char *>(attr)))) {
		fn(attr);
		attr = mnl_attr_next(attr);
	}
}

} // namespace

std::vector<LinkInfo> list_links()
{
	std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
	nlmsghdr *nlh = mnl_nlmsg_put_header(buf.data());
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	auto *ifm = static_cast<ifinfomsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
	ifm->ifi_family = AF_UNSPEC;

	std::vector<LinkInfo> links;
	dump(nlh, [&](const nlmsghdr *msg) {
		if (msg->nlmsg_type != RTM_NEWLINK)
			return;
		const auto *info = static_cast<const ifinfomsg *>(mnl_nlmsg_get_payload(msg));
		LinkInfo link;
		link.ifindex = info->ifi_index;
		link.type = info->ifi_type;
		for_each_attr(mnl_nlmsg_get_payload_offset(msg, sizeof(*info)),
			      mnl_nlmsg_get_payload_tail(msg), [&](const nlattr *attr) {
			switch (mnl_attr_get_type(attr)) {
			case IFLA_IFNAME:
				link.name = mnl_attr_get_str(attr);
				break;
			case IFLA_MASTER:
				link.master = static_cast<int>(mnl_attr_get_u32(attr));
				break;
			case IFLA_LINK:
				link.lower = static_cast<int>(mnl_attr_get_u32(attr));
				break;
			case IFLA_LINK_NETNSID:
				link.lower_elsewhere = true;
				break;
			case IFLA_LINKINFO: {
				const char *start = static_cast<const char *>(mnl_attr_get_payload(attr));
				for_each_attr(start, start + mnl_attr_get_payload_len(attr),
					      [&](const nlattr *nested) {
						      if (mnl_attr_get_type(nested) == IFLA_INFO_KIND)
							      link.kind = mnl_attr_get_str(nested);
					      });
				break;
			}
			default:
				break;
			}
		});
		// A veth's IFLA_LINK is its peer, and an index in another namespace
		// names some unrelated device here: neither is a lower device.
		if (link.lower_elsewhere || link.kind == "veth")
			link.lower = 0;
		links.push_back(std::move(link));
	});
	return links;
}

std::vector<TcFilter> list_filters(int ifindex, bool ingress)
{
	std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
	nlmsghdr *nlh = mnl_nlmsg_put_header(buf.data());
	nlh->nlmsg_type = RTM_GETTFILTER;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	auto *tcm = static_cast<tcmsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(tcmsg)));
	tcm->tcm_family = AF_UNSPEC;
	tcm->tcm_ifindex = ifindex;
	tcm->tcm_parent = TC_H_MAKE(TC_H_CLSACT, ingress ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);

	std::vector<TcFilter> filters;
	dump(nlh, [&](const nlmsghdr *msg) {
		if (msg->nlmsg_type != RTM_NEWTFILTER)
			return;
		const auto *t = static_cast<const tcmsg *>(mnl_nlmsg_get_payload(msg));
		TcFilter f;
		f.priority = TC_H_MAJ(t->tcm_info) >> 16;
		f.handle = t->tcm_handle;
		for_each_attr(mnl_nlmsg_get_payload_offset(msg, sizeof(*t)), mnl_nlmsg_get_payload_tail(msg),
			      [&](const nlattr *attr) {
			if (mnl_attr_get_type(attr) == TCA_KIND) {
				f.kind = mnl_attr_get_str(attr);
			} else if (mnl_attr_get_type(attr) == TCA_OPTIONS) {
				const char *start = static_cast<const char *>(mnl_attr_get_payload(attr));
				for_each_attr(start, start + mnl_attr_get_payload_len(attr),
					      [&](const nlattr *opt) {
					if (mnl_attr_get_type(opt) == TCA_BPF_ID)
						f.prog_id = mnl_attr_get_u32(opt);
					if (mnl_attr_get_type(opt) == TCA_BPF_TAG) {
						const auto *b = static_cast<const uint8_t *>(
							mnl_attr_get_payload(opt));
						for (uint16_t i = 0; i < mnl_attr_get_payload_len(opt); ++i)
							f.prog_tag += fmt::format("{:02x}", b[i]);
					}
				});
			}
		});
		filters.push_back(std::move(f));
	});
	return filters;
}

} // namespace tmeter

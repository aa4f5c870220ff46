// frame_flood: a bounded traffic generator for bench/veth_bench.sh. Writes
// 64-byte Ethernet + IPv4 + UDP frames (18 bytes of payload) straight onto
// an interface through an AF_PACKET socket, cycling the UDP source port
// over --flows values, in sendmmsg batches, until --seconds pass or
// --max-packets are sent. Raw frames keep the sender's own UDP/IP stack
// out of the figures: what is measured is the receiving side, where the
// hooks are. Prints "SENT <frames> <seconds>". With --write-frame FILE it
// sends nothing and writes the first frame it would send to FILE instead
// (bench/loop_cost.sh runs the program on it).
//
// usage: frame_flood --dev IF --src IPv4 --dst IPv4 --dst-mac MAC --dport N
//                    [--flows N] [--seconds S] [--max-packets N] [--write-frame FILE]
// (Why not pktgen or trafgen: neither is a Debian package that works in a
// network namespace without a kernel module or netsniff-ng's setup; this
// is 150 lines.)
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

// Flow i's UDP source port is kFirstPort + i.
constexpr uint16_t kFirstPort = 1024;

struct Options {
	std::string dev, src, dst, dst_mac, write_frame;
	uint16_t dport = 9;
	uint32_t flows = 1;
	double seconds = 1;
	uint64_t max_packets = UINT64_MAX;
};

[[noreturn]] void die(const std::string &what)
{
	std::fprintf(stderr, "frame_flood: %s: %s\n", what.c_str(), std::strerror(errno));
	std::exit(1);
}

uint16_t ip_checksum(const void *data, size_t len)
{
	const auto *p = static_cast<const uint8_t *>(data);
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += uint32_t(p[i]) << 8 | p[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(uint16_t(~sum));
}

Options parse(int argc, char **argv)
{
	Options o;
	for (int i = 1; i + 1 < argc; i += 2) {
		std::string a = argv[i], v = argv[i + 1];
		if (a == "--dev")
			o.dev = v;
		else if (a == "--src")
			o.src = v;
		else if (a == "--dst")
			o.dst = v;
		else if (a == "--dst-mac")
			o.dst_mac = v;
		else if (a == "--dport")
			o.dport = uint16_t(std::stoul(v));
		else if (a == "--flows")
			o.flows = uint32_t(std::stoul(v));
		else if (a == "--seconds")
			o.seconds = std::stod(v);
		else if (a == "--max-packets")
			o.max_packets = std::stoull(v);
		else if (a == "--write-frame")
			o.write_frame = v;
		else {
			std::fprintf(stderr, "frame_flood: unknown option %s\n", a.c_str());
			std::exit(2);
		}
	}
	if (o.dev.empty() || o.src.empty() || o.dst.empty() || o.dst_mac.empty() || !o.flows ||
	    o.flows > 64000) {
		std::fprintf(stderr, "usage: frame_flood --dev IF --src IP --dst IP --dst-mac MAC --dport N "
				     "[--flows 1..64000] [--seconds S] [--max-packets N] "
				     "[--write-frame FILE]\n");
		std::exit(2);
	}
	return o;
}

// The socket, closed on every way out of main.
struct Socket {
	int fd;
	~Socket()
	{
		if (fd >= 0)
			close(fd);
	}
};

} // namespace

int main(int argc, char **argv)
{
	const Options o = parse(argc, argv);
	const Socket sock{socket(AF_PACKET, SOCK_RAW, 0)}; // protocol 0: send only, receive nothing
	const int fd = sock.fd;
	if (fd < 0)
		die("socket(AF_PACKET)");
	int one = 1;
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	struct ifreq ifr {};
	std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o.dev.c_str());
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		die("SIOCGIFHWADDR " + o.dev);
	sockaddr_ll ll{};
	ll.sll_family = AF_PACKET;
	ll.sll_ifindex = int(if_nametoindex(o.dev.c_str()));
	ll.sll_halen = ETH_ALEN;
	if (!ll.sll_ifindex)
		die("no interface " + o.dev);

	// One frame: Ethernet, IPv4 (46 bytes), UDP, 18 bytes of payload.
	uint8_t frame[60] = {};
	auto *eth = reinterpret_cast<ether_header *>(frame);
	unsigned mac[6];
	if (std::sscanf(o.dst_mac.c_str(), "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3],
			&mac[4], &mac[5]) != 6) {
		std::fprintf(stderr, "frame_flood: bad --dst-mac %s\n", o.dst_mac.c_str());
		return 2;
	}
	for (int i = 0; i < 6; ++i)
		eth->ether_dhost[i] = ll.sll_addr[i] = uint8_t(mac[i]);
	std::memcpy(eth->ether_shost, ifr.ifr_hwaddr.sa_data, 6);
	eth->ether_type = htons(ETHERTYPE_IP);
	auto *ip = reinterpret_cast<iphdr *>(frame + 14);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(46);
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	if (inet_pton(AF_INET, o.src.c_str(), &ip->saddr) != 1 ||
	    inet_pton(AF_INET, o.dst.c_str(), &ip->daddr) != 1) {
		std::fprintf(stderr, "frame_flood: bad --src or --dst\n");
		return 2;
	}
	ip->check = ip_checksum(ip, 20);
	auto *udp = reinterpret_cast<udphdr *>(frame + 34);
	udp->dest = htons(o.dport);
	udp->len = htons(26); // checksum 0: none (IPv4)
	udp->source = htons(kFirstPort); // the first flow's; the send loop sets each frame's

	if (!o.write_frame.empty()) {
		std::ofstream out(o.write_frame, std::ios::binary);
		if (!out.write(reinterpret_cast<const char *>(frame), sizeof(frame)).flush())
			die("writing " + o.write_frame);
		return 0;
	}

	constexpr unsigned kBatch = 64;
	std::vector<uint8_t> frames(kBatch * sizeof(frame));
	std::vector<iovec> iov(kBatch);
	std::vector<mmsghdr> msgs(kBatch);
	for (unsigned i = 0; i < kBatch; ++i) {
		std::memcpy(&frames[i * sizeof(frame)], frame, sizeof(frame));
		iov[i] = {&frames[i * sizeof(frame)], sizeof(frame)};
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &ll;
		msgs[i].msg_hdr.msg_namelen = sizeof(ll);
	}

	const auto start = std::chrono::steady_clock::now();
	const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
					 std::chrono::duration<double>(o.seconds));
	uint64_t sent = 0;
	uint32_t flow = 0;
	while (sent < o.max_packets) {
		const unsigned n = unsigned(std::min<uint64_t>(kBatch, o.max_packets - sent));
		for (unsigned i = 0; i < n; ++i) {
			auto *u = reinterpret_cast<udphdr *>(&frames[i * sizeof(frame) + 34]);
			u->source = htons(uint16_t(kFirstPort + flow));
			flow = flow + 1 == o.flows ? 0 : flow + 1;
		}
		int r = sendmmsg(fd, msgs.data(), n, 0);
		if (r < 0) {
			if (errno != ENOBUFS && errno != EAGAIN)
				die("sendmmsg");
			if (std::chrono::steady_clock::now() >= end) // bounded in time even then
				break;
			continue;
		}
		sent += unsigned(r);
		// Steps of at most kBatch land in each window of 1024 once.
		if ((sent & 1023) < kBatch && std::chrono::steady_clock::now() >= end)
			break;
	}
	const double secs =
		std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
	std::printf("SENT %llu %.6f\n", static_cast<unsigned long long>(sent), secs);
	return 0;
}

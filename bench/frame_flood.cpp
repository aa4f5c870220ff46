// frame_flood: a bounded traffic generator for bench/veth_bench.sh. Writes
// 64-byte Ethernet + IPv4 + UDP frames (18 bytes of payload, or --payload
// N) straight onto an interface through an AF_PACKET socket, cycling the
// UDP source port over --flows values, in sendmmsg batches, until
// --seconds pass or --max-packets are sent. Raw frames keep the sender's own UDP/IP stack
// out of the figures: what is measured is the receiving side, where the
// hooks are. Prints "SENT <frames> <seconds>". With --write-frame FILE it
// sends nothing and writes the first frame it would send to FILE instead
// (bench/loop_cost.sh runs the program on it).
//
// With --tap-split N, --dev is a tap device, and each frame is written into
// it as a guest or a NIC driver hands it to the kernel (IFF_NAPI |
// IFF_NAPI_FRAGS, one writev per frame): N = 0 makes the whole frame the
// skb's linear part, N > 0 only its first N bytes, the rest in a page
// fragment (bench/paged_bench.sh; tests/e2e/tap_inject.py does the same
// with hand-built frames). The source MAC is then --src-mac's, since the
// tap's own address is the destination's.
//
// usage: frame_flood --dev IF --src IPv4 --dst IPv4 --dst-mac MAC --dport N
//                    [--flows N] [--seconds S] [--max-packets N] [--write-frame FILE]
//                    [--payload N] [--tap-split N --src-mac MAC]
// (Why not pktgen or trafgen: neither is a Debian package that works in a
// network namespace without a kernel module or netsniff-ng's setup; this
// is 300 lines.)
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
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
constexpr size_t kHeaders = 14 + 20 + 8; // Ethernet, IPv4, UDP
constexpr size_t kSourcePortAt = 14 + 20;

struct Options {
	std::string dev, src, dst, dst_mac, src_mac, write_frame;
	int tap_split = -1; // -1: AF_PACKET, not a tap
	size_t payload = 18; // UDP payload bytes: a 60-byte frame
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
		else if (a == "--tap-split")
			o.tap_split = std::stoi(v);
		else if (a == "--src-mac")
			o.src_mac = v;
		else if (a == "--payload")
			o.payload = std::stoul(v);
		else {
			std::fprintf(stderr, "frame_flood: unknown option %s\n", a.c_str());
			std::exit(2);
		}
	}
	if (o.dev.empty() || o.src.empty() || o.dst.empty() || o.dst_mac.empty() || !o.flows ||
	    o.flows > 64000 || (o.tap_split >= 0) != !o.src_mac.empty() || o.payload < 18 ||
	    o.payload > 1472 || o.tap_split >= int(kHeaders + o.payload)) {
		std::fprintf(stderr, "usage: frame_flood --dev IF --src IP --dst IP --dst-mac MAC --dport N "
				     "[--flows 1..64000] [--seconds S] [--max-packets N] "
				     "[--write-frame FILE] [--payload 18..1472] "
				     "[--tap-split 0..FRAME_BYTES-1 --src-mac MAC]\n");
		std::exit(2);
	}
	return o;
}

// A file descriptor, closed on every way out of main.
struct Fd {
	int fd;
	~Fd()
	{
		if (fd >= 0)
			close(fd);
	}
};

bool parse_mac(const std::string &text, uint8_t out[6])
{
	unsigned mac[6];
	if (std::sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3],
			&mac[4], &mac[5]) != 6)
		return false;
	for (int i = 0; i < 6; ++i)
		out[i] = uint8_t(mac[i]);
	return true;
}

using Clock = std::chrono::steady_clock;

// Sends copies of FRAME (LEN bytes) through an AF_PACKET socket on o.dev, in sendmmsg
// batches, until o.max_packets or DEADLINE; returns the frames sent.
uint64_t send_packet_socket(const Options &o, const uint8_t *frame, size_t len,
			    Clock::time_point deadline)
{
	const Fd sock{socket(AF_PACKET, SOCK_RAW, 0)}; // protocol 0: send only, receive nothing
	if (sock.fd < 0)
		die("socket(AF_PACKET)");
	int one = 1;
	setsockopt(sock.fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	sockaddr_ll ll{};
	ll.sll_family = AF_PACKET;
	ll.sll_ifindex = int(if_nametoindex(o.dev.c_str()));
	ll.sll_halen = ETH_ALEN;
	std::memcpy(ll.sll_addr, frame, ETH_ALEN); // the destination
	if (!ll.sll_ifindex)
		die("no interface " + o.dev);

	constexpr unsigned kBatch = 64;
	std::vector<uint8_t> frames(kBatch * len);
	std::vector<iovec> iov(kBatch);
	std::vector<mmsghdr> msgs(kBatch);
	for (unsigned i = 0; i < kBatch; ++i) {
		std::memcpy(&frames[i * len], frame, len);
		iov[i] = {&frames[i * len], len};
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &ll;
		msgs[i].msg_hdr.msg_namelen = sizeof(ll);
	}
	uint64_t sent = 0;
	uint32_t flow = 0;
	while (sent < o.max_packets) {
		const unsigned n = unsigned(std::min<uint64_t>(kBatch, o.max_packets - sent));
		for (unsigned i = 0; i < n; ++i) {
			auto *u = reinterpret_cast<udphdr *>(&frames[i * len + kSourcePortAt]);
			u->source = htons(uint16_t(kFirstPort + flow));
			flow = flow + 1 == o.flows ? 0 : flow + 1;
		}
		int r = sendmmsg(sock.fd, msgs.data(), n, 0);
		if (r < 0) {
			if (errno != ENOBUFS && errno != EAGAIN)
				die("sendmmsg");
			if (Clock::now() >= deadline) // bounded in time even then
				break;
			continue;
		}
		sent += unsigned(r);
		// Steps of at most kBatch land in each window of 1024 once.
		if ((sent & 1023) < kBatch && Clock::now() >= deadline)
			break;
	}
	return sent;
}

// Writes FRAME (LEN bytes) into the tap o.dev, one writev of [first o.tap_split bytes,
// the rest] a frame (the whole frame when o.tap_split is 0), until
// o.max_packets or DEADLINE; returns the frames written. With
// IFF_NAPI_FRAGS the kernel makes each iovec but the first a page fragment
// and delivers the frame in this thread, through the tap's ingress hook.
uint64_t send_tap(const Options &o, uint8_t *frame, size_t len, Clock::time_point deadline)
{
	const Fd tap{open("/dev/net/tun", O_RDWR | O_CLOEXEC)};
	if (tap.fd < 0)
		die("open /dev/net/tun");
	struct ifreq ifr {};
	std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o.dev.c_str());
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_NAPI | IFF_NAPI_FRAGS;
	if (ioctl(tap.fd, TUNSETIFF, &ifr))
		die("TUNSETIFF " + o.dev);
	const size_t split = size_t(o.tap_split);
	iovec iov[2] = {{frame, split ? split : len}, {frame + split, len - split}};
	const int iovcnt = split ? 2 : 1;
	auto *udp = reinterpret_cast<udphdr *>(frame + kSourcePortAt);
	uint64_t sent = 0, writes = 0;
	uint32_t flow = 0;
	while (sent < o.max_packets) {
		udp->source = htons(uint16_t(kFirstPort + flow));
		flow = flow + 1 == o.flows ? 0 : flow + 1;
		const ssize_t r = writev(tap.fd, iov, iovcnt);
		if (r < 0 && errno != ENOBUFS && errno != EAGAIN)
			die("writev " + o.dev);
		sent += r == ssize_t(len);
		if ((++writes & 1023) == 0 && Clock::now() >= deadline) // failed writes count too
			break;
	}
	return sent;
}

} // namespace

int main(int argc, char **argv)
{
	const Options o = parse(argc, argv);

	// One frame: Ethernet, IPv4, UDP, o.payload bytes of zeros.
	const size_t len = kHeaders + o.payload;
	std::vector<uint8_t> frame_bytes(len);
	uint8_t *frame = frame_bytes.data();
	auto *eth = reinterpret_cast<ether_header *>(frame);
	if (!parse_mac(o.dst_mac, eth->ether_dhost)) {
		std::fprintf(stderr, "frame_flood: bad --dst-mac %s\n", o.dst_mac.c_str());
		return 2;
	}
	if (o.tap_split >= 0) {
		if (!parse_mac(o.src_mac, eth->ether_shost)) {
			std::fprintf(stderr, "frame_flood: bad --src-mac %s\n", o.src_mac.c_str());
			return 2;
		}
	} else {
		const Fd sock{socket(AF_INET, SOCK_DGRAM, 0)}; // for the ioctl only
		struct ifreq ifr {};
		std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o.dev.c_str());
		if (sock.fd < 0 || ioctl(sock.fd, SIOCGIFHWADDR, &ifr))
			die("SIOCGIFHWADDR " + o.dev);
		std::memcpy(eth->ether_shost, ifr.ifr_hwaddr.sa_data, 6);
	}
	eth->ether_type = htons(ETHERTYPE_IP);
	auto *ip = reinterpret_cast<iphdr *>(frame + 14);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(uint16_t(len - 14));
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	if (inet_pton(AF_INET, o.src.c_str(), &ip->saddr) != 1 ||
	    inet_pton(AF_INET, o.dst.c_str(), &ip->daddr) != 1) {
		std::fprintf(stderr, "frame_flood: bad --src or --dst\n");
		return 2;
	}
	ip->check = ip_checksum(ip, 20);
	auto *udp = reinterpret_cast<udphdr *>(frame + kSourcePortAt);
	udp->dest = htons(o.dport);
	udp->len = htons(uint16_t(8 + o.payload)); // checksum 0: none (IPv4)
	udp->source = htons(kFirstPort); // the first flow's; the send loop sets each frame's

	if (!o.write_frame.empty()) {
		std::ofstream out(o.write_frame, std::ios::binary);
		if (!out.write(reinterpret_cast<const char *>(frame), std::streamsize(len)).flush())
			die("writing " + o.write_frame);
		return 0;
	}

	const auto start = Clock::now();
	const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
					      std::chrono::duration<double>(o.seconds));
	const uint64_t sent = o.tap_split >= 0 ? send_tap(o, frame, len, deadline)
					       : send_packet_socket(o, frame, len, deadline);
	const double secs = std::chrono::duration<double>(Clock::now() - start).count();
	std::printf("SENT %llu %.6f\n", static_cast<unsigned long long>(sent), secs);
	return 0;
}

#!/usr/bin/python3
"""Write hand-built frames into a tap device the way a guest or a NIC driver
hands them to the kernel, inside network namespace NS.

  tso:   IFF_VNET_HDR: a virtio-net header before each frame, as a VM's
         virtio-net does; TCP and UDP aggregates (gso_type, gso_size), which
         the kernel leaves with gso_segs 0 until it segments them.
  paged: IFF_NAPI | IFF_NAPI_FRAGS and one writev of [first SPLIT bytes,
         the rest] per frame: the kernel builds a paged skb whose linear
         part is the first SPLIT bytes, as drivers that pull only the first
         headers do.

The frames and their IP lengths are documented with the tests that use
them (test_tap_tso.sh, test_paged.sh). Needs scapy.
"""
import argparse
import ctypes
import fcntl
import os
import struct
import sys

from netns import libc, setns

try:
    from scapy.all import (ICMP, IP, SCTP, SCTPChunkData, TCP, UDP, Ether, IPv6,
                           IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, Raw)
except ImportError:
    print("scapy missing", file=sys.stderr)
    sys.exit(77)

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NAPI = 0x0010
IFF_NAPI_FRAGS = 0x0020
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000

VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4 = 1, 4, 5


class Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def open_tap(name, flags):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI | flags))
    return fd


def vnet_hdr(gso_type, gso_size, hdr_len, csum_start, csum_offset):
    # struct virtio_net_hdr, little endian (x86): flags, gso_type, hdr_len,
    # gso_size, csum_start, csum_offset.
    return struct.pack("<BBHHHH", VIRTIO_NET_HDR_F_NEEDS_CSUM, gso_type, hdr_len, gso_size,
                       csum_start, csum_offset)


def tso_frames(a):
    mac = Ether(src="02:00:00:00:40:02", dst="02:00:00:00:40:01")
    out = []
    # TCP/IPv4: 10000 B payload in 1000 B segments.
    f = mac / IP(src=a.src4, dst=a.dst4) / TCP(sport=5000, dport=80, flags="A") / Raw(bytes(10000))
    out.append(vnet_hdr(GSO_TCPV4, 1000, 54, 34, 16) + bytes(f))
    # TCP/IPv6: 5000 B payload in 1400 B segments (the last one shorter).
    f = mac / IPv6(src=a.src6, dst=a.dst6) / TCP(sport=5001, dport=80, flags="A") / Raw(bytes(5000))
    out.append(vnet_hdr(GSO_TCPV6, 1400, 74, 54, 16) + bytes(f))
    # UDP/IPv4 (USO, VIRTIO_NET_HDR_GSO_UDP_L4): 6000 B in 1000 B segments.
    f = mac / IP(src=a.src4, dst=a.dst4) / UDP(sport=5002, dport=53) / Raw(bytes(6000))
    out.append(vnet_hdr(GSO_UDP_L4, 1000, 42, 34, 6) + bytes(f))
    return [(frame, None) for frame in out]


def paged_frames(a):
    mac = Ether(src="02:00:00:00:40:02", dst="02:00:00:00:40:01")
    rmac = Ether(src="02:00:00:00:40:03", dst="02:00:00:00:40:01")
    udp = IP(src=a.src4, dst=a.dst4) / UDP(sport=5000, dport=6000) / Raw(bytes(200))
    quoted = bytes(udp)[:20 + 8 + 32]
    return [
        # A -> B, UDP, 228 B: everything past Ethernet in page fragments.
        (bytes(mac / udp), 14),
        # A -> B, UDP, 46 B, the shortest frame (60 B, no padding): its IP
        # and UDP headers in page fragments.
        (bytes(mac / IP(src=a.src4, dst=a.dst4) / UDP(sport=5003, dport=6003) / Raw(bytes(18))), 14),
        # B -> A, port unreachable quoting it, 20 + 8 + 60 = 88 B: the
        # quoted packet in page fragments.
        (bytes(rmac / IP(src=a.dst4, dst=a.src4) / ICMP(type=3, code=3) / Raw(quoted)), 42),
        # B6 -> A6, UDP, 48 + 100 = 148 B: B6 originates the 5-tuple.
        (bytes(rmac / IPv6(src=a.dst6, dst=a.src6) / UDP(sport=6000, dport=5000) / Raw(bytes(100))), 14),
        # A6 -> B6, hop-by-hop and destination options before UDP,
        # 40 + 8 + 8 + 8 + 100 = 164 B: the chain in page fragments.
        (bytes(mac / IPv6(src=a.src6, dst=a.dst6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() /
               UDP(sport=5000, dport=6000) / Raw(bytes(100))), 54),
        # A -> B and B -> A, SCTP, 20 + 12 + 16 + 100 = 148 B each: the
        # SCTP common header in page fragments.
        (bytes(mac / IP(src=a.src4, dst=a.dst4) / SCTP(sport=7000, dport=8000) /
               SCTPChunkData(data=bytes(100))), 34),
        (bytes(rmac / IP(src=a.dst4, dst=a.src4) / SCTP(sport=8000, dport=7000) /
               SCTPChunkData(data=bytes(100))), 34),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ns")
    ap.add_argument("tap")
    ap.add_argument("scenario", choices=["tso", "paged"])
    ap.add_argument("--src4", required=True)
    ap.add_argument("--dst4", required=True)
    ap.add_argument("--src6", required=True)
    ap.add_argument("--dst6", required=True)
    a = ap.parse_args()
    setns(f"/run/netns/{a.ns}")
    if a.scenario == "tso":
        fd, frames = open_tap(a.tap, IFF_VNET_HDR), tso_frames(a)
    else:
        fd, frames = open_tap(a.tap, IFF_NAPI | IFF_NAPI_FRAGS), paged_frames(a)
    for frame, split in frames:
        if split is None:
            n = os.write(fd, frame)
        else:
            head, tail = ctypes.create_string_buffer(frame[:split]), ctypes.create_string_buffer(frame[split:])
            iov = (Iovec * 2)(Iovec(ctypes.addressof(head), split),
                              Iovec(ctypes.addressof(tail), len(frame) - split))
            n = libc.writev(fd, iov, 2)
            if n < 0:
                e = ctypes.get_errno()
                sys.exit(f"tap_inject: writev: {os.strerror(e)}")
        if n != len(frame):
            sys.exit(f"tap_inject: short write {n} of {len(frame)}")
    os.close(fd)
    print(f"wrote {len(frames)} frames")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""A point-to-point wire between two tun devices in two network namespaces.

Opens persistent tun device IF1 (created beforehand with `ip tuntap add
mode tun`) inside netns NS1 and IF2 inside NS2, then copies every packet
read from one to the other, unchanged. Bounded: exits after --timeout
seconds or --max-packets packets. Touches --ready-file once both are open.
"""
import argparse
import fcntl
import os
import select
import struct
import sys
import time

from netns import setns, setns_fd

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(ns, name):
    setns(f"/run/netns/{ns}")
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ns1")
    ap.add_argument("if1")
    ap.add_argument("ns2")
    ap.add_argument("if2")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--max-packets", type=int, default=100000)
    ap.add_argument("--ready-file")
    a = ap.parse_args()
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    a_fd = open_tun(a.ns1, a.if1)
    b_fd = open_tun(a.ns2, a.if2)
    setns_fd(home, "setns back")
    peer = {a_fd: b_fd, b_fd: a_fd}
    if a.ready_file:
        open(a.ready_file, "w").close()
    deadline = time.monotonic() + a.timeout
    moved = 0
    while moved < a.max_packets:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([a_fd, b_fd], [], [], left)
        for fd in r:
            try:
                pkt = os.read(fd, 65536)
            except BlockingIOError:
                continue
            try:
                os.write(peer[fd], pkt)
            except OSError:
                pass  # peer down: the packet is lost, as on a cut wire
            moved += 1
    print(f"moved {moved}", file=sys.stderr)


if __name__ == "__main__":
    main()

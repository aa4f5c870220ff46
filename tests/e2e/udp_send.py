#!/usr/bin/python3
"""Send exactly COUNT UDP datagrams of exactly SIZE payload bytes.

The wire size of each datagram is known to the caller: IPv4 20+8+SIZE,
IPv6 40+8+SIZE bytes (more when fragmented; see frag_bytes in lib.sh).
Optionally waits for one reply per datagram (--expect-replies), bounded by
--timeout. Exits 0 only if every datagram was sent (and every expected
reply arrived).
"""
import argparse
import socket
import sys
import time

IP_MTU_DISCOVER = 10
IP_PMTUDISC_DONT = 0
IPV6_MTU_DISCOVER = 23
IPV6_PMTUDISC_DONT = 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dst", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--size", type=int, required=True, help="UDP payload bytes")
    ap.add_argument("--src", help="local address to bind")
    ap.add_argument("--sport", type=int, default=0)
    ap.add_argument("--dport-span", type=int, default=1,
                    help="spread the datagrams over SPAN ports from --port (SPAN flows)")
    ap.add_argument("--per-port", type=int, default=1,
                    help="with --dport-span: this many datagrams in a row to each port")
    ap.add_argument("--expect-replies", action="store_true")
    ap.add_argument("--interval", type=float, default=0.0)
    ap.add_argument("--rate", type=float, default=0.0,
                    help="datagrams per second, paced on the clock (not on sleeps)")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--no-df", action="store_true",
                    help="never set DF: let the stack fragment datagrams above the MTU")
    a = ap.parse_args()
    if not 0 < a.count <= 100000 or not 0 <= a.size <= 65000:
        sys.exit("udp_send: count must be 1..100000 and size 0..65000")

    fam = socket.AF_INET6 if ":" in a.dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    if a.no_df:
        if fam == socket.AF_INET:
            s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
        else:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DONT)
    if a.src or a.sport:
        s.bind((a.src or ("::" if fam == socket.AF_INET6 else "0.0.0.0"), a.sport))
    s.settimeout(a.timeout)
    deadline = time.monotonic() + a.timeout
    payload = bytes((i & 0xFF for i in range(a.size)))
    replies = 0
    start = time.monotonic()
    for i in range(a.count):
        if time.monotonic() > deadline:
            sys.exit(f"udp_send: timeout after {i} datagrams")
        n = s.sendto(payload, (a.dst, a.port + (i // a.per_port) % a.dport_span))
        if n != a.size:
            sys.exit(f"udp_send: short send {n}")
        if a.expect_replies:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                s.recvfrom(65535)
                replies += 1
            except socket.timeout:
                sys.exit(f"udp_send: no reply to datagram {i}")
        if a.interval:
            time.sleep(a.interval)
        if a.rate:
            wait = start + (i + 1) / a.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
    print(f"sent {a.count} replies {replies}")


if __name__ == "__main__":
    main()

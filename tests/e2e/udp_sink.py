#!/usr/bin/python3
"""Bounded UDP listener: receives until COUNT datagrams or TIMEOUT seconds.

Binding the port keeps the kernel from answering with ICMP port
unreachable. With --reply-size R, answers every datagram with one datagram
of R payload bytes to its sender. Touches --ready-file once bound.
Prints the number of datagrams received; exits 1 if fewer than COUNT.
"""
import argparse
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--reply-size", type=int, default=-1)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--ready-file")
    a = ap.parse_args()

    fam = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    if a.ready_file:
        open(a.ready_file, "w").close()
    deadline = time.monotonic() + a.timeout
    reply = bytes(max(a.reply_size, 0))
    got = 0
    while got < a.count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            _, peer = s.recvfrom(65535)
        except socket.timeout:
            break
        got += 1
        if a.reply_size >= 0:
            s.sendto(reply, peer)
    print(got)
    sys.exit(0 if got >= a.count else 1)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Bounded TCP transfer of an exact number of payload bytes.

server: accepts one connection; --send N sends N bytes to the client
(a download for the client), --recv N reads N bytes (an upload).
client: connects; --recv N / --send N mirror the server. Both sides give
up after --timeout seconds. The server touches --ready-file once
listening. --stats-file F: the side that sent data writes
"RETRANSMITTED_SEGMENTS RETRANSMITTED_BYTES" of its connection (TCP_INFO)
to F, so a test can tell a lossy run from a clean one.
"""
import argparse
import socket
import struct
import sys
import time

CHUNK = 65536


def retrans(conn):
    """(tcpi_total_retrans, tcpi_bytes_retrans) from struct tcp_info."""
    info = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    segs = struct.unpack_from("I", info, 100)[0]
    nbytes = struct.unpack_from("Q", info, 208)[0] if len(info) >= 216 else 0
    return segs, nbytes


def xfer(conn, send, recv, deadline):
    if send:
        buf = bytes(CHUNK)
        left = send
        while left:
            conn.settimeout(max(0.01, deadline - time.monotonic()))
            n = conn.send(buf[:min(left, CHUNK)])
            left -= n
        conn.shutdown(socket.SHUT_WR)
    got = 0
    while True:
        conn.settimeout(max(0.01, deadline - time.monotonic()))
        data = conn.recv(CHUNK)
        if not data:
            break
        got += len(data)
    if recv and got != recv:
        sys.exit(f"tcp_xfer: received {got} bytes, expected {recv}")
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--addr", required=True, help="server address (bind or connect)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--send", type=int, default=0)
    ap.add_argument("--recv", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--ready-file")
    ap.add_argument("--stats-file")
    a = ap.parse_args()
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    deadline = time.monotonic() + a.timeout
    try:
        if a.role == "server":
            ls = socket.socket(fam, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((a.addr, a.port))
            ls.listen(1)
            if a.ready_file:
                open(a.ready_file, "w").close()
            ls.settimeout(a.timeout)
            conn, _ = ls.accept()
        else:
            conn = socket.create_connection((a.addr, a.port), timeout=a.timeout)
        got = xfer(conn, a.send, a.recv, deadline)
        if a.send and a.stats_file:
            with open(a.stats_file, "w") as f:
                f.write("%d %d\n" % retrans(conn))
        conn.close()
    except (socket.timeout, OSError) as e:
        sys.exit(f"tcp_xfer {a.role}: {e}")
    print(f"sent {a.send} received {got}")


if __name__ == "__main__":
    main()

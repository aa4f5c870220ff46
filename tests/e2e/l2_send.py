#!/usr/bin/python3
"""Send COUNT hand-built Ethernet frames carrying one UDP datagram each,
with the link layer under test: plain, vlan (802.1Q), qinq (802.1ad outer +
802.1Q inner) or pppoe (PPPoE session). Needs scapy (Debian python3-scapy).
The IP packet is SIZE payload bytes of UDP, so its IP length is 28+SIZE
(IPv4) or 48+SIZE (IPv6) whatever the link layer.
"""
import argparse
import sys

try:
    from scapy.all import IP, UDP, Dot1AD, Dot1Q, Ether, IPv6, PPPoE, Raw, conf, sendp
except ImportError:
    print("scapy missing", file=sys.stderr)
    sys.exit(77)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--kind", choices=["plain", "vlan", "qinq", "pppoe"], required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--dst-mac", default="ff:ff:ff:ff:ff:ff")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--sport", type=int, default=40000)
    ap.add_argument("--dport", type=int, default=40001)
    a = ap.parse_args()
    conf.verb = 0
    v6 = ":" in a.dst
    ip = (IPv6(src=a.src, dst=a.dst) if v6 else IP(src=a.src, dst=a.dst)) / \
        UDP(sport=a.sport, dport=a.dport) / Raw(bytes(a.size))
    eth = Ether(dst=a.dst_mac)
    if a.kind == "plain":
        frame = eth / ip
    elif a.kind == "vlan":
        frame = eth / Dot1Q(vlan=10) / ip
    elif a.kind == "qinq":
        frame = eth / Dot1AD(vlan=100) / Dot1Q(vlan=10) / ip
    else:
        # scapy's PPP layer compresses the protocol field to one byte
        # (RFC 1661 PFC), which PPPoE peers do not use: write both bytes.
        ppp = b"\x00\x57" if v6 else b"\x00\x21"
        frame = eth / PPPoE(sessionid=0x1234) / Raw(ppp) / ip
    sendp([frame] * a.count, iface=a.iface)


if __name__ == "__main__":
    main()

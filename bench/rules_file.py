#!/usr/bin/env python3
"""The rules of a veth_bench state with N rules, as an `import --file` JSON
file: the bench's two hosts (198.18.7.1/32 and 198.18.7.2/32) and N-2 other
prefixes of 10.0.0.0/8, the same for the same N (bench/veth_bench.sh,
bench/loop_cost.sh).

usage: bench/rules_file.py N FILE
"""
import json
import random
import sys

if len(sys.argv) != 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 2:
    print("usage: bench/rules_file.py N FILE (N >= 2)", file=sys.stderr)
    sys.exit(2)
n = int(sys.argv[1])
random.seed(n)
rules = {"198.18.7.1/32", "198.18.7.2/32"}
while len(rules) < n:
    a = random.getrandbits(24)
    p = random.choice([24, 28, 32])
    a &= (1 << 24) - (1 << (32 - p))
    rules.add("10.%d.%d.%d/%d" % (a >> 16 & 255, a >> 8 & 255, a & 255, p))
with open(sys.argv[2], "w") as f:
    json.dump({"rules": sorted(rules)}, f)

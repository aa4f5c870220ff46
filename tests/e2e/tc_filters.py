#!/usr/bin/python3
"""Read `tc -j filter show dev X HOOK` on stdin.

prefs:      print the sorted preferences of the filters on the hook
prog PREF:  print the BPF program id of the bpf filter at PREF ("none")
"""
import json
import sys


def main():
    filters = [f for f in json.load(sys.stdin) if "options" in f]
    if sys.argv[1] == "prefs":
        print(" ".join(str(p) for p in sorted({f["pref"] for f in filters})))
    elif sys.argv[1] == "prog":
        pref = int(sys.argv[2])
        ids = [f["options"]["prog"]["id"] for f in filters
               if f["pref"] == pref and f.get("kind") == "bpf" and "prog" in f["options"]]
        print(ids[0] if ids else "none")


if __name__ == "__main__":
    main()

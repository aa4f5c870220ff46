#!/usr/bin/python3
"""Poll `traffic_meter show --json` until per-rule counters meet expectations.

usage: tm_expect.py [--timeout S] [--baseline FILE] [--save FILE]
                    CHECK... -- COMMAND...

CHECK is RULE:FIELD<op>VALUE with op one of = >= <= > < and FIELD one of
up_bytes up_packets down_bytes down_packets; or RULE:absent. VALUE may be
VALUE~PCT% (within PCT percent). With --baseline, values are deltas since
the snapshot in FILE (saved earlier with --save and no checks). Rules are
compared as networks, so 198.18.0.1, 198.18.0.1/32 and the canonical form
are the same rule. Exits 0 when every check holds (twice in a row), 1 with a
table of expected vs. seen values otherwise.
"""
import ipaddress
import json
import re
import subprocess
import sys
import time

FIELDS = ("up_bytes", "up_packets", "down_bytes", "down_packets")
CHECK_RE = re.compile(r"^(?P<field>[a-z_]+)(?P<op>>=|<=|=|>|<)(?P<val>\d+)(?:~(?P<pct>[\d.]+)%)?$")


def net(s):
    return ipaddress.ip_network(s, strict=False)


def parse_check(c):
    if c.endswith(":absent"):
        return (net(c[:-7]), "absent", None, None, None)
    rule, _, rest = c.rpartition(":")
    m = CHECK_RE.match(rest)
    if not rule or not m or m["field"] not in FIELDS:
        sys.exit(f"tm_expect: bad check {c!r}")
    return (net(rule), m["field"], m["op"], int(m["val"]),
            float(m["pct"]) if m["pct"] else None)


def read(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.strip()}")
    doc = json.loads(p.stdout)
    rules = doc["rules"] if isinstance(doc, dict) else doc
    return {net(r["rule"]): {f: int(r[f]) for f in FIELDS} for r in rules}


def holds(op, seen, want, pct):
    if pct is not None:
        return abs(seen - want) <= want * pct / 100.0
    return {"=": seen == want, ">=": seen >= want, "<=": seen <= want,
            ">": seen > want, "<": seen < want}[op]


def evaluate(checks, cur, base):
    rows, ok = [], True
    for rule, field, op, want, pct in checks:
        if field == "absent":
            good = rule not in cur
            rows.append((good, f"{rule} absent", "present" if not good else "absent"))
            ok &= good
            continue
        if rule not in cur:
            rows.append((False, f"{rule}:{field}{op}{want}", "rule missing"))
            ok = False
            continue
        seen = cur[rule][field] - base.get(rule, {}).get(field, 0)
        good = holds(op, seen, want, pct)
        desc = f"{rule}:{field}{op}{want}" + (f"~{pct}%" if pct is not None else "")
        rows.append((good, desc, str(seen)))
        ok &= good
    return ok, rows


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit("tm_expect: missing -- COMMAND")
    i = argv.index("--")
    opts, cmd = argv[:i], argv[i + 1:]
    timeout, baseline, save, checks = 5.0, None, None, []
    it = iter(opts)
    for o in it:
        if o == "--timeout":
            timeout = float(next(it))
        elif o == "--baseline":
            baseline = next(it)
        elif o == "--save":
            save = next(it)
        else:
            checks.append(parse_check(o))
    base = {}
    if baseline:
        with open(baseline) as f:
            base = {net(k): v for k, v in json.load(f).items()}
    if save:
        cur = read(cmd)
        with open(save, "w") as f:
            json.dump({str(k): v for k, v in cur.items()}, f)
        return 0
    deadline = time.monotonic() + timeout
    streak, cur, rows = 0, {}, []
    while True:
        try:
            cur = read(cmd)
            ok, rows = evaluate(checks, cur, base)
        except Exception as e:  # noqa: BLE001 - report any read failure the same way
            ok, rows = False, [(False, "show --json", str(e))]
        streak = streak + 1 if ok else 0
        if streak >= 2:
            return 0
        if time.monotonic() > deadline:
            break
        time.sleep(0.05 if streak == 0 else 0.1)
    print("counter check failed:", file=sys.stderr)
    for good, desc, seen in rows:
        print(f"  {'ok ' if good else 'BAD'} {desc:60} seen {seen}", file=sys.stderr)
    print("  all rules: " + json.dumps({str(k): v for k, v in cur.items()}), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

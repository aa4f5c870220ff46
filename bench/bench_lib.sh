# shellcheck shell=bash
# Helpers the bench scripts share (sourced, not run): the kernel's program
# statistics, traffic_meter's program id and counters, and a lab of one
# namespace and one bpffs.

# traffic_meter's ingress program id on its first interface, from
# `status --json` on stdin.
status_program_id() {
	python3 -c 'import json,sys; print(json.load(sys.stdin)["interfaces"][0]["program_id"])'
}

# The first rule's up_packets, from `show --json` on stdin (the bench
# sender's rule, 198.18.7.1/32, asked for alone).
show_up_packets() {
	python3 -c 'import json,sys; print(json.load(sys.stdin)["rules"][0]["up_packets"])'
}

# A program's statistics so far: "run_time_ns run_cnt".
prog_run_stats() { # ID
	bpftool prog show id "$1" -j |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("run_time_ns", 0), d.get("run_cnt", 0))'
}

# Turns the kernel's program statistics on (BPF_ENABLE_STATS) and prints the
# pid of the process that keeps them on: they stay on while it holds the fd,
# so the caller kills it when done. Its output goes nowhere, so that
# PID=$(bpf_stats_hold) returns at once.
bpf_stats_hold() {
	python3 -c 'import ctypes, struct, time
libc = ctypes.CDLL(None, use_errno=True)
attr = ctypes.create_string_buffer(struct.pack("I", 0), 128)  # BPF_STATS_RUN_TIME
if libc.syscall(321, 32, attr, 128) < 0:  # bpf(BPF_ENABLE_STATS)
    raise SystemExit("BPF_ENABLE_STATS failed")
time.sleep(86400)' >/dev/null &
	echo $!
}

# A lab of one's own: a network namespace NS, a work directory WORK, and a
# bpffs mounted at FS with the pin path PIN under it, all removed on exit,
# after the script's own bench_cleanup if it defines one (run before the
# namespace goes, so that it can still purge in it).
bench_lab() { # NAME
	NS=tm-$1-$$
	WORK=$(mktemp -d "/tmp/tm-$1.XXXXXX")
	# shellcheck disable=SC2034 # PIN is for the script that sources this
	FS=$WORK/bpffs PIN=$WORK/bpffs/tm
	trap bench_lab_cleanup EXIT
	mkdir "$FS"
	mount -t bpf bpf "$FS"
	ip netns add "$NS"
}
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
bench_lab_cleanup() {
	! declare -F bench_cleanup >/dev/null || bench_cleanup || true
	ip netns del "$NS" 2>/dev/null || true
	umount "$FS" 2>/dev/null || true
	rm -rf "$WORK"
}

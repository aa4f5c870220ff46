#!/usr/bin/env bash
# A real Prometheus server (Debian's) scrapes the exporter, both on loopback
# inside the metered host's namespace, every second: what a query through
# its HTTP API returns is what the test sent; a rule deleted and created
# again mid-test is one counter reset to Prometheus, and rate() over it
# never goes negative.
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
lab_init prometheus
command -v prometheus >/dev/null || skip "prometheus missing (apt-get install prometheus)"
command -v curl >/dev/null || skip "curl missing"

ns_add h s
veth h h0 s s0
addr h h0 198.18.60.1/24
addr s s0 198.18.60.2/24
static_neigh h h0 s s0
tm_ns h
tm load --dev h0
R=198.18.60.2/32
tm add --ip-address $R

bg nsx h "$TM" --pin-path "$PIN" serve --listen 127.0.0.1:19464
wait_for 10 nsx h curl -sf http://127.0.0.1:19464/healthz || fail "the exporter did not start"
cat >"$LAB_WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: traffic_meter
    static_configs:
      - targets: ["127.0.0.1:19464"]
YML
bg nsx h prometheus --config.file="$LAB_WORK/prometheus.yml" --storage.tsdb.path="$LAB_WORK/tsdb" \
	--web.listen-address=127.0.0.1:19090 --storage.tsdb.retention.time=1h
wait_for 30 nsx h curl -sf http://127.0.0.1:19090/-/ready || fail "prometheus did not get ready"

# query PROMQL: the first result's value, or "none".
query() {
	nsx h curl -sf --max-time 5 -G http://127.0.0.1:19090/api/v1/query --data-urlencode "query=$1" |
		"$PY" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'
}
# until_query PROMQL VALUE: poll until Prometheus answers VALUE (bounded).
until_query() {
	local i got
	for i in $(seq 100); do
		got=$(query "$1")
		[[ $got == "$2" ]] && return 0
		sleep 0.2
	done
	log "$1: Prometheus says $got, expected $2"
	return 1
}
UP="traffic_meter_bytes_total{rule=\"$R\",direction=\"up\"}"

until_query "$UP" 0 || fail "Prometheus did not scrape the new rule at 0"
log "20 x 472 B to s: Prometheus stores 20 x 500 bytes up"
udp_exchange h s 198.18.60.2 16001 20 472 -1
until_query "$UP" $((20 * 500)) || fail "Prometheus did not store the bytes sent"
until_query "traffic_meter_packets_total{rule=\"$R\",direction=\"up\"}" 20 || fail "packets"
[[ $(query 'traffic_meter_interface_attached{interface="h0"}') == 1 ]] || fail "interface gauge"

log "the rule deleted and created again, then 10 x 972 B"
sleep 2 # a few scrapes of the old counter
tm del --ip-address $R
tm add --ip-address $R
until_query "$UP" 0 || fail "the re-created rule does not start at 0"
udp_exchange h s 198.18.60.2 16002 10 972 -1
until_query "$UP" $((10 * 1000)) || fail "Prometheus did not store the new rule's bytes"
sleep 2
[[ $(query "resets(${UP}[5m])") == 1 ]] || fail "Prometheus did not see exactly one counter reset: $(query "resets(${UP}[5m])")"
# rate() over the whole window, at every step: never below 0.
neg=$(nsx h curl -sf -G http://127.0.0.1:19090/api/v1/query_range \
	--data-urlencode "query=rate(${UP}[3s])" --data-urlencode "start=$(($(date +%s) - 60))" \
	--data-urlencode "end=$(date +%s)" --data-urlencode "step=1" |
	"$PY" -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; v=[float(x[1]) for s in r for x in s["values"]]; print(sum(1 for x in v if x < 0) if v else "none")')
[[ $neg == 0 ]] || fail "rate() went below 0 ($neg samples) or has no samples"
# increase() over the window counts both batches (Prometheus extrapolates:
# at least what was sent).
inc=$(query "increase(${UP}[2m])")
"$PY" -c "import sys; sys.exit(0 if float('$inc') >= $((20 * 500 + 10 * 1000)) * 0.95 else 1)" ||
	fail "increase() over the reset: $inc, want about $((20 * 500 + 10 * 1000))"
pass

#!/usr/bin/env bash
# HTTP load benchmark: Ferry against two bare chi baselines, in one run.
# Both servers get core 0 (GOMAXPROCS=1) and wrk gets core 1; only the one
# being measured is loaded. The machine is shared and its speed drifts, so
# each Ferry figure is paired with a baseline run just before it, ROUNDS
# times, and the table gives medians: of requests/s, and of the ratios of
# each pair. Beside throughput it gives the CPU time each server spent per
# request (from /proc, user and system), which the machine's drift moves
# less. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-5s}
ROUNDS=${ROUNDS:-5}
IDS=${IDS:-1000}
EXPORT_IDS=${EXPORT_IDS:-100000}
BASE=127.0.0.1:18081
FERRY=127.0.0.1:18080
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/httpbase" ./bench/httpbase
go build -o "$work/ferry" ./cmd/api

HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' /proc/"$1"/stat; }
# load PID CONNS SCRIPT URL ARGS...: one wrk run; prints requests/s and
# the CPU microseconds process PID spent per request.
load() {
  local pid=$1 c=$2 s=$3 u=$4 t0 t1 out; shift 4
  t0=$(cpu_ticks "$pid")
  out=$(taskset -c 1 wrk -t1 -c"$c" -d"$DUR" -s "bench/wrk/$s" "$u" -- "$@")
  t1=$(cpu_ticks "$pid")
  awk -v t0="$t0" -v t1="$t1" -v hz="$HZ" '/requests in/ { n = $1 } /Requests\/sec/ { r = $2 }
    END { printf "%s %.1f\n", r, (t1 - t0) / hz * 1e6 / n }' <<<"$out"
}
wait_up() { for _ in $(seq 100); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

GOMAXPROCS=1 taskset -c 0 "$work/httpbase" -addr "$BASE" 2>/dev/null &
base_pid=$!
FERRY_ADDR=$FERRY FERRY_DATA_DIR="$work/data" FERRY_LOG_LEVEL=error GOMAXPROCS=1 taskset -c 0 "$work/ferry" >/dev/null &
ferry_pid=$!
wait_up "http://$BASE/raw/x"
wait_up "http://$FERRY/healthz"
curl -fsS -X POST -H 'Content-Type: application/json' --data-binary @bench/testdata/order.schema.json "http://$FERRY/v1/schemas" >/dev/null
seed() { # seed PREFIX COUNT: JSON Lines envelopes of the benchmark record
  awk -v rec="$(cat bench/testdata/order.json)" -v p="$1" -v n="$2" \
    'BEGIN { for (i = 1; i <= n; i++) printf "{\"id\":\"%s%d\",\"data\":%s}\n", p, i, rec }'
}
seed b "$IDS" | curl -fsS -X POST -H 'Content-Type: application/jsonl' --data-binary @- "http://$FERRY/v1/records/order/_import" >/dev/null

# pair LABEL BASELABEL CONNS SCRIPT BASEPATH FERRYPATH [ACCEPT]: ROUNDS pairs
# of a baseline run then a Ferry run; prints two table rows. The CPU ratio
# is the baseline's CPU per request over Ferry's, so that, like the
# throughput ratio, 1.00 would be the baseline's cost.
pair() {
  local label=$1 baselabel=$2 c=$3 s=$4 bpath=$5 fpath=$6 accept=${7:-}
  local bs=() fs=() rs=() bc=() fc=() cs=()
  for _ in $(seq "$ROUNDS"); do
    local b f bcpu fcpu
    read -r b bcpu < <(load "$base_pid" "$c" "$s" "http://$BASE" "$bpath" "$IDS" application/json)
    read -r f fcpu < <(load "$ferry_pid" "$c" "$s" "http://$FERRY" "$fpath" "$IDS" $accept)
    bs+=("$b"); fs+=("$f"); rs+=("$(ratio "$f" "$b")")
    bc+=("$bcpu"); fc+=("$fcpu"); cs+=("$(ratio "$bcpu" "$fcpu")")
  done
  echo "| $baselabel | $(median "${bs[@]}") | 1.00 | $(median "${bc[@]}") µs | 1.00 |"
  echo "| $label | $(median "${fs[@]}") | $(median "${rs[@]}") (${rs[*]}) | $(median "${fc[@]}") µs | $(median "${cs[@]}") (${cs[*]}) |"
}
store_total() { curl -fsS "http://$FERRY/metrics" | awk -v m="ferry_store_$1_total" '$1 == m {print $2}'; }

echo "| measurement | requests/s (median) | ratio to the baseline before it (median, and each round) | CPU per request (median) | CPU ratio, baseline's over Ferry's (median, and each round) |"
echo "|---|---:|---|---:|---|"
for f in application/json application/vnd.msgpack application/cbor application/gob; do
  pair "Ferry GET $f, c=16" "baseline: chi GET writing stored bytes" 16 get.lua /raw/ /v1/records/order/ "$f"
done
writes0=$(store_total writes); commits0=$(store_total commits)
for c in 16 64; do
  pair "Ferry durable PUT, c=$c" "baseline: chi PUT decode+validate, in memory, c=$c" "$c" put.lua /mem/ /v1/records/order/
done
per_fsync=$(ratio "$(( $(store_total writes) - writes0 ))" "$(( $(store_total commits) - commits0 ))")
echo "| writes per fsync over the Ferry PUT runs | $per_fsync | | | |"

seed e "$EXPORT_IDS" | curl -fsS -X POST -H 'Content-Type: application/jsonl' --data-binary @- \
  "http://$FERRY/v1/records/order/_import" >/dev/null
rss_before=$(awk '/RssAnon/ {print $2}' /proc/"$ferry_pid"/status)
rates=()
for _ in $(seq "$ROUNDS"); do
  rates+=("$(taskset -c 1 curl -fsS -H 'Accept: application/jsonl' "http://$FERRY/v1/records/order/_export" -o /dev/null -w '%{speed_download}')")
done
rss_after=$(awk '/RssAnon/ {print $2}' /proc/"$ferry_pid"/status)
echo "| Ferry export, $((IDS + EXPORT_IDS)) records as JSON Lines | $(awk -v b="$(median "${rates[@]}")" 'BEGIN { printf "%.0f MB/s", b / 1e6 }') | RssAnon $((rss_before / 1024)) → $((rss_after / 1024)) MiB over the exports | | |"

#!/usr/bin/env bash
# HTTP load benchmark: Ferry against two bare chi baselines, in one run.
# The server under test gets core 0 and GOMAXPROCS=1; wrk gets core 1.
# Prints a Markdown table of requests/s and ratios to the baselines.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-10s}
IDS=${IDS:-1000}
EXPORT_IDS=${EXPORT_IDS:-100000}
BASE=127.0.0.1:18081
FERRY=127.0.0.1:18080
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/httpbase" ./bench/httpbase
go build -o "$work/ferry" ./cmd/api

wrk_rps() { # wrk_rps CONNS SCRIPT URL ARGS...
  local c=$1 s=$2 u=$3; shift 3
  taskset -c 1 wrk -t1 -c"$c" -d"$DUR" -s "bench/wrk/$s" "$u" -- "$@" | awk '/Requests\/sec/ {print $2}'
}
wait_up() { for _ in $(seq 100); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }

GOMAXPROCS=1 taskset -c 0 "$work/httpbase" -addr "$BASE" 2>/dev/null &
wait_up "http://$BASE/raw/x"
raw=$(wrk_rps 16 get.lua "http://$BASE" /raw/ "$IDS" application/json)
mem16=$(wrk_rps 16 put.lua "http://$BASE" /mem/ "$IDS")
mem64=$(wrk_rps 64 put.lua "http://$BASE" /mem/ "$IDS")
kill %1; wait %1 2>/dev/null || true

FERRY_ADDR=$FERRY FERRY_DATA_DIR="$work/data" FERRY_LOG_LEVEL=error GOMAXPROCS=1 taskset -c 0 "$work/ferry" >/dev/null &
wait_up "http://$FERRY/healthz"
curl -fsS -X POST -H 'Content-Type: application/json' --data-binary @bench/testdata/order.schema.json "http://$FERRY/v1/schemas" >/dev/null
seed() { # seed PREFIX COUNT: JSON Lines envelopes of the benchmark record
  awk -v rec="$(cat bench/testdata/order.json)" -v p="$1" -v n="$2" \
    'BEGIN { for (i = 1; i <= n; i++) printf "{\"id\":\"%s%d\",\"data\":%s}\n", p, i, rec }'
}
seed b "$IDS" | curl -fsS -X POST -H 'Content-Type: application/jsonl' --data-binary @- "http://$FERRY/v1/records/order/_import" >/dev/null
declare -A get
for f in application/json application/vnd.msgpack application/cbor application/gob; do
  get[$f]=$(wrk_rps 16 get.lua "http://$FERRY" /v1/records/order/ "$IDS" "$f")
done
store_total() { curl -fsS "http://$FERRY/metrics" | awk -v m="ferry_store_$1_total" '$1 == m {print $2}'; }
writes0=$(store_total writes); commits0=$(store_total commits)
put16=$(wrk_rps 16 put.lua "http://$FERRY" /v1/records/order/ "$IDS")
put64=$(wrk_rps 64 put.lua "http://$FERRY" /v1/records/order/ "$IDS")
per_fsync=$(awk -v w="$(( $(store_total writes) - writes0 ))" -v c="$(( $(store_total commits) - commits0 ))" 'BEGIN { printf "%.1f", w / c }')
seed e "$EXPORT_IDS" | curl -fsS -X POST -H 'Content-Type: application/jsonl' --data-binary @- \
  "http://$FERRY/v1/records/order/_import" >/dev/null
pid=$(pgrep -f "$work/ferry" | head -1)
rss_before=$(awk '/RssAnon/ {print $2}' /proc/"$pid"/status)
start=$(date +%s%N)
bytes=$(taskset -c 1 curl -fsS -H 'Accept: application/jsonl' "http://$FERRY/v1/records/order/_export" | wc -c)
elapsed=$(( $(date +%s%N) - start ))
rss_after=$(awk '/RssAnon/ {print $2}' /proc/"$pid"/status)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "| measurement | req/s | ratio |"
echo "|---|---:|---:|"
echo "| baseline: chi GET writing stored bytes | $raw | 1.00 |"
echo "| baseline: chi PUT decode+validate, in memory, c=16 | $mem16 | 1.00 |"
echo "| baseline: chi PUT decode+validate, in memory, c=64 | $mem64 | 1.00 |"
for f in application/json application/vnd.msgpack application/cbor application/gob; do
  echo "| Ferry GET $f, c=16 | ${get[$f]} | $(ratio "${get[$f]}" "$raw") × raw GET |"
done
echo "| Ferry durable PUT, c=16 | $put16 | $(ratio "$put16" "$mem16") × memory PUT |"
echo "| Ferry durable PUT, c=64 | $put64 | $(ratio "$put64" "$mem64") × memory PUT |"
echo "| writes per fsync over both PUT runs | $per_fsync | |"
echo "| Ferry export, $((IDS + EXPORT_IDS)) records as JSON Lines | $(awk -v b="$bytes" -v ns="$elapsed" 'BEGIN { printf "%.0f MB/s", b / (ns / 1e9) / 1e6 }') | RssAnon $((rss_before / 1024)) → $((rss_after / 1024)) MiB |"

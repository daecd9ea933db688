#!/usr/bin/env bash
# Fleet benchmarks on this machine: Redis's own ceiling (redis-benchmark pipelining XADD),
# then timbr's Redis path end to end (producer, Redis and workers sharing the host), then
# scaling with worker processes on a CPU-bound pipeline. Prints a Markdown table.
#
#   bash timbr-redis/bench/fleet.sh [N_IDENTITY] [N_CPU]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-300000}
NCPU=${2:-40000}
cargo build --release -q -p timbr-redis --bin timbr-fleet
BIN=target/release/timbr-fleet
DIR=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --appendonly yes --appendfsync everysec \
    --save '' --daemonize yes --pidfile "$DIR/redis.pid" >/dev/null
trap 'kill "$(cat "$DIR/redis.pid")" 2>/dev/null; rm -rf "$DIR"' EXIT
URL="redis://127.0.0.1:$PORT"
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done

echo "| what | data/s |"
echo "| --- | ---: |"
ceiling=$(redis-benchmark -p "$PORT" -n 1000000 -P 64 -q XADD ceiling '*' d '{"id":12345,"user":"user12","text":"stream redis fleet machine happy sad"}' \
    | tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1)
echo "| redis-benchmark: XADD, pipeline 64, 1 client | ${ceiling} |"
redis-cli -p "$PORT" del ceiling >/dev/null

run() { # name stages workers n extra...
    local name=$1 stages=$2 workers=$3 n=$4; shift 4
    redis-cli -p "$PORT" flushall >/dev/null
    local start end
    start=$(date +%s.%N)
    $BIN produce --url "$URL" --stream "$name" --count "$n" --capacity 1000000 --batch 512 > "$DIR/$name.produce" &
    local pids=()
    for w in $(seq 1 "$workers"); do
        $BIN work --url "$URL" --stream "$name" --results "$name:results" --consumer "w$w" \
            --stages "$stages" --batch 512 --until-done "$n" "$@" > "$DIR/$name.w$w" &
        pids+=($!)
    done
    wait "${pids[@]}"
    wait
    end=$(date +%s.%N)
    $BIN balance --url "$URL" --stream "$name" >/dev/null || { echo "$name: NOT BALANCED" >&2; exit 1; }
    python3 -c "print(round($n / ($end - $start)))"
}

produce_only() {
    redis-cli -p "$PORT" flushall >/dev/null
    $BIN produce --url "$URL" --stream p --count "$N" --capacity 1000000 --batch 512 \
        | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["per_second"]))'
}
echo "| timbr producer alone: put_all, batches of 512 | $(produce_only) |"
echo "| identity8 end to end: 1 producer + 1 worker process (batch 512) | $(run id identity8 1 "$N") |"
one=$(run cpu1 cpu 1 "$NCPU" --cpu-us 50)
echo "| cpu (50 µs/datum): 1 worker process | $one |"
for k in 2 4; do
    r=$(run "cpu$k" cpu "$k" "$NCPU" --cpu-us 50)
    eff=$(python3 -c "k=$k; cores=min(k,2); print(f'{$r/($one*cores):.0%} per core')")
    echo "| cpu (50 µs/datum): $k worker processes | $r ($eff) |"
done

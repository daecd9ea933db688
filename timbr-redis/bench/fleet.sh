#!/usr/bin/env bash
# Fleet benchmarks on this machine: Redis's own ceiling (redis-benchmark pipelining XADD),
# then timbr's Redis path end to end (producer, Redis and workers sharing the host), then
# scaling with worker processes on a CPU-bound pipeline. Prints Markdown tables: data/s, the
# CPU each process spent per datum (Redis's from /proc, the others' from their rusage), the
# load average as each run ended, and Redis's own `INFO commandstats` for the last end-to-end run.
#
#   bash timbr-redis/bench/fleet.sh [N_IDENTITY] [N_CPU] [REPEATS] [PACK]
#
# N_CPU 0 skips the CPU-bound runs. STAGES (default identity8) picks the end-to-end runs'
# `work --stages`: identity8's record repeats the ~920-byte tweet in each of its 9 entries
# (~9.2 KB a record); `tweet` (the words, a checksum) writes ~1.2 KB records.
#
# The end-to-end stages run three times: one datum per entry; PACK (default 32) data per
# entry with a record entry per datum; and PACK data per entry with packed result entries
# (one results entry per input pack, `work --pack-results`). Every row says its rate as a share of
# redis-benchmark's pipelined XADD rate measured in the same run (the "of ceiling" column):
# the ratio that stays comparable from run to run on a machine whose speed varies.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-300000}
NCPU=${2:-40000}
REPEATS=${3:-1}
PACK=${4:-32}
STAGES=${STAGES:-identity8}
cargo build --release -q -p timbr-cli --bin timbr-fleet
# TIMBR_FLEET: another build of the program, to compare two versions on the same machine.
BIN=${TIMBR_FLEET:-target/release/timbr-fleet}
DIR=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --appendonly yes --appendfsync everysec \
    --save '' --daemonize yes --pidfile "$DIR/redis.pid" >/dev/null
trap 'kill "$(cat "$DIR/redis.pid")" 2>/dev/null; rm -rf "$DIR"' EXIT
URL="redis://127.0.0.1:$PORT"
until redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.05; done
RPID=$(cat "$DIR/redis.pid")
TICK=$(getconf CLK_TCK)

# CPU seconds Redis has used so far (user + system, all its threads).
redis_cpu() { awk -v t="$TICK" '{ print ($14 + $15) / t }' "/proc/$RPID/stat"; }
load() { cut -d' ' -f1 /proc/loadavg; }
# User + system seconds of a finished process, from the file /usr/bin/time wrote.
cpu_of() { awk '{ s += $1 + $2 } END { print s + 0 }' "$@"; }
per() { python3 -c "print(f'{$1 * 1e6 / $2:.1f}')"; }

echo "Measured $(date -u '+%a %b %d %H:%M UTC %Y') on $(nproc) cores, $(redis-server --version | cut -d' ' -f3), load average at start $(load)"
echo
echo "| what | data/s | of ceiling | Redis µs/datum | workers µs/datum | producer µs/datum | load |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
# The ceiling's entry is a datum as the producer puts it (a tweet, ~1 KB of JSON).
$BIN produce --redis "$URL" --stream sample --count 1 --quiet >/dev/null
PAYLOAD=$(redis-cli -p "$PORT" --raw XRANGE sample - + COUNT 1 | sed -n 3p)
redis-cli -p "$PORT" del sample >/dev/null
ceiling=$(redis-benchmark -p "$PORT" -n 1000000 -P 64 -q XADD ceiling '*' d "$PAYLOAD" \
    | tr '\r' '\n' | grep -o '[0-9.]* requests per second' | tail -1 | cut -d' ' -f1)
echo "| redis-benchmark: XADD, pipeline 64, 1 client | ${ceiling} | 100 % | | | | $(load) |"
# A rate as a share of the ceiling.
share() { python3 -c "print(f'{100 * $1 / $ceiling:.1f} %')"; }
redis-cli -p "$PORT" del ceiling >/dev/null

run() { # label name stages workers n pack extra...
    local label=$1 name=$2 stages=$3 workers=$4 n=$5 pack=$6; shift 6
    redis-cli -p "$PORT" flushall >/dev/null
    redis-cli -p "$PORT" config resetstat >/dev/null
    rm -f "$DIR"/*.time
    local start end r0 r1
    r0=$(redis_cpu)
    start=$(date +%s.%N)
    /usr/bin/time -f '%U %S' -o "$DIR/producer.time" \
        $BIN produce --redis "$URL" --stream "$name" --count "$n" --capacity 1000000 --batch 512 --pack "$pack" --quiet > "$DIR/$name.produce" &
    local pids=()
    for w in $(seq 1 "$workers"); do
        /usr/bin/time -f '%U %S' -o "$DIR/w$w.time" \
            $BIN work --redis "$URL" --stream "$name" --results "$name:results" --consumer "w$w" \
            --stages "$stages" --batch 512 --until-done "$n" --status-every-ms 0 "$@" > "$DIR/$name.w$w" &
        pids+=($!)
    done
    wait "${pids[@]}"
    wait
    end=$(date +%s.%N)
    r1=$(redis_cpu)
    $BIN balance --redis "$URL" --stream "$name" >/dev/null || { echo "$name: NOT BALANCED" >&2; exit 1; }
    local rate
    rate=$(python3 -c "print(round($n / ($end - $start)))")
    echo "$rate" > "$DIR/$name.rate"
    echo "| $label | $rate | $(share "$rate") | $(per "$(python3 -c "print($r1 - $r0)")" "$n") | $(per "$(cpu_of "$DIR"/w*.time)" "$n") | $(per "$(cpu_of "$DIR/producer.time")" "$n") | $(load) |"
}

produce_only() {
    redis-cli -p "$PORT" flushall >/dev/null
    local r0 r1 rate
    r0=$(redis_cpu)
    rate=$(/usr/bin/time -f '%U %S' -o "$DIR/producer.time" $BIN produce --redis "$URL" --stream p --count "$N" --capacity 1000000 --batch 512 --quiet \
        | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["per_second"]))')
    r1=$(redis_cpu)
    echo "| timbr producer alone: put_all, batches of 512 | $rate | $(share "$rate") | $(per "$(python3 -c "print($r1 - $r0)")" "$N") | | $(per "$(cpu_of "$DIR/producer.time")" "$N") | $(load) |"
}

produce_only
for i in $(seq 1 "$REPEATS"); do
    run "$STAGES end to end: 1 producer + 1 worker process (batch 512)" id "$STAGES" 1 "$N" 1
    run "$STAGES end to end, $PACK data per entry (batch 512)" idp "$STAGES" 1 "$N" "$PACK"
    run "$STAGES end to end, $PACK data per entry, packed results (batch 512)" idpr "$STAGES" 1 "$N" "$PACK" --pack-results
done
# Redis's own accounting of the last end-to-end run, per datum.
STATS=$(redis-cli -p "$PORT" info commandstats)
for i in $(seq 1 "$REPEATS"); do
    [ "$NCPU" -gt 0 ] || break
    run "cpu (50 µs/datum): 1 worker process" cpu1 cpu 1 "$NCPU" 1 --cpu-us 50
    one=$(cat "$DIR/cpu1.rate")
    for k in 2 4; do
        run "cpu (50 µs/datum): $k worker processes" "cpu$k" cpu "$k" "$NCPU" 1 --cpu-us 50
        r=$(cat "$DIR/cpu$k.rate")
        python3 -c "k=$k; print(f'  {k} workers: {$r/$one:.2f}× one worker, {$r/($one*min(k,2)):.0%} per core')" >&2
    done
done

echo
echo "Redis \`INFO commandstats\` of the last $STAGES run ($N data), per datum:"
echo
echo "| command | calls/datum | µs/call | µs/datum |"
echo "| --- | ---: | ---: | ---: |"
echo "$STATS" | tr -d '\r' | python3 -c "
import sys
n = $N
total = 0.0
for line in sys.stdin:
    if not line.startswith('cmdstat_'):
        continue
    name, rest = line[8:].strip().split(':', 1)
    kv = dict(p.split('=') for p in rest.split(','))
    calls, usec = int(kv['calls']), float(kv['usec'])
    if name.split('|')[0] in ('config', 'info', 'flushall', 'ping'):
        continue
    # The commands a transaction or a script runs are counted on their own lines too.
    if name not in ('exec', 'eval', 'evalsha'):
        total += usec
    print(f'| {name} | {calls / n:.4f} | {usec / calls:.2f} | {usec / n:.2f} |')
print(f'| all (less exec and eval: what they ran is counted on its own lines) | | | {total / n:.2f} |')
"

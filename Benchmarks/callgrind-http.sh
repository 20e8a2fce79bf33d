#!/usr/bin/env bash
# User-space instructions a request of an HTTP server, counted by callgrind: a figure that does not
# move with the machine's noise (the same binary reads within about 1 % run to run), for telling
# whether a change to the request path made it cheaper before timing it against the peers.
#
#   Benchmarks/callgrind-http.sh [--path /plaintext] 'COMMAND {port}' ...
#
# Each COMMAND runs under valgrind's callgrind with collection off; wrk -t1 -c64 warms it for 2 s,
# collection goes on for a 3 s wrk run and the count is dumped; instructions ÷ requests that run
# completed is printed. Only user space is counted (not the kernel), and only instructions (not
# cycles: an atomic operation counts one). aio serve runs on epoll unless the command sets
# AIO_BACKEND. Needs valgrind and wrk. Swift's debug info trips valgrind's reader: the binary is
# stripped of it first (a copy in /tmp; symbols stay, so callgrind_annotate names functions).
#
# Per function: callgrind_annotate /tmp/callgrind-http.<name>.out.1
set -euo pipefail
path=/plaintext
if [ "${1:-}" = "--path" ]; then path=$2; shift 2; fi
port=19660
for command in "$@"; do
    port=$((port + 1))
    binary=${command%% *}
    arguments=${command#"$binary"}
    name=$(basename "$binary")
    stripped=/tmp/callgrind-http.$name
    strip -g -o "$stripped" "$binary"
    out=/tmp/callgrind-http.$name.out
    rm -f "$out" "$out".*
    # shellcheck disable=SC2086
    AIO_BACKEND=${AIO_BACKEND:-epoll} valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
        "$stripped" ${arguments//\{port\}/$port} > /dev/null 2> "$out.log" &
    for _ in $(seq 100); do curl -s -m 1 "http://127.0.0.1:$port$path" > /dev/null && break; sleep 0.3; done
    pid=$(pgrep -f "valgrind.*$stripped" | tail -1)
    wrk -t1 -c64 -d2 "http://127.0.0.1:$port$path" > /dev/null
    callgrind_control -i on "$pid" > /dev/null 2>&1
    requests=$(wrk -t1 -c64 -d3 "http://127.0.0.1:$port$path" | awk '/requests in/ {print $1}')
    callgrind_control -d "$pid" > /dev/null 2>&1
    kill "$pid"; wait "$pid" 2> /dev/null || true
    total=$(callgrind_annotate "$out.1" 2> /dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    echo "$name: $requests requests, $((total / requests)) instructions a request"
done

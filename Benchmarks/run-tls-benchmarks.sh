#!/usr/bin/env bash
# TLS benchmarks of `aio echo --tls-cert/--tls-key` against the peers of ../shared/bench (the C epoll +
# OpenSSL floor, SwiftNIO + NIOSSL on one thread, asyncio and uvloop streams over TLS, node tls), in
# the same runs. Results and commands go to BENCHMARKS.md.
#
#   Benchmarks/run-tls-benchmarks.sh [BENCH_DIR] [extra run.sh options...]
#
# BENCH_DIR defaults to ../shared/bench. That folder may be read-only: copy it somewhere writable first
# (cp -r ../shared/bench /tmp/bench) and pass the copy; its run.sh builds the C peers and the load
# generator with make, and the Swift peers with swift build (only nio-tls-echo is needed here:
# swift build -c release --package-path /tmp/bench/peers/swift --product nio-tls-echo).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH="${1:-$ROOT/../shared/bench}"
shift || true
swift build -c release --product aio --package-path "$ROOT"
AIO="$ROOT/.build/release/aio"
OUT="${OUT:-/tmp/aio-tls-bench-$(date +%Y%m%d-%H%M%S)}"
PEERS="c-epoll-tls,swiftnio-tls-1thread,py-streams-tls,py-streams-tls-uvloop,node-tls"
CANDIDATE="$AIO echo --port {port} --tls-cert {cert} --tls-key {key}"
"$BENCH/run.sh" tls --skip-build --only "$PEERS" --candidate "$CANDIDATE" --candidate-name aio \
    --sizes 1024,64 --repeat 3 --out "$OUT/stream" "$@"
"$BENCH/run.sh" tls --skip-build --only "$PEERS" --candidate "$CANDIDATE" --candidate-name aio \
    --mode handshake --repeat 3 --out "$OUT/handshake" "$@"
echo "results: $OUT"

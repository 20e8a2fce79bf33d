#!/usr/bin/env bash
# Builds the HTTP parser fuzzer with libFuzzer and AddressSanitizer and runs it.
# Usage: Fuzz/run-http-parser-fuzzer.sh [seconds, default 60] [extra libFuzzer flags...]
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"; shift || true
swift build -c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -g \
    --product HTTPParserFuzzer
mkdir -p .work-corpus
exec .build-fuzz/release/HTTPParserFuzzer .work-corpus corpus/http-parser \
    -max_total_time="$seconds" -max_len=2048 -print_final_stats=1 "$@"

#!/usr/bin/env python3
"""Runs the loop (or battery) benchmarks of AsyncIO and its peers in one interleaved run and prints a table.

    Benchmarks/run-loop-benchmarks.py [--suite loop|battery] [--rounds 5] [--only a,b] [--skip-build]

Each round runs every implementation once (AsyncIO, Swift's default executor, Python asyncio,
uvloop), so drift on the shared machine spreads over all of them; the table shows the median per
operation over the rounds and the ratios peer / AsyncIO computed within each round (median of those).
Needs python3 with uvloop (pip install uvloop) for the uvloop column.
"""
import argparse
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = {
    "loop": ["await_yield", "await_pingpong", "spawn_join", "child_task_join", "timers_1m", "timeout_scope",
             "timeout_reschedule", "wait_first_completed", "task_unstructured", "submit_8_threads"],
    "battery": ["lock_handoff", "event_broadcast_10k", "queue_1m", "queue_pingpong", "queue_pingpong_timeout", "offload_roundtrip", "spawn_wait_true"],
}


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    result = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            result[parts[0]] = (float(parts[1]), None if parts[2] == "-" else float(parts[2]))
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--suite", choices=["loop", "battery"], default="loop")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="")
    parser.add_argument("--skip-build", action="store_true")
    args = parser.parse_args()
    ours = "LoopBenchmarks" if args.suite == "loop" else "BatteryBenchmarks"
    peer_script = "Benchmarks/peers/loop_bench.py" if args.suite == "loop" else "Benchmarks/peers/battery_bench.py"
    if not args.skip_build:
        products = [ours] + (["DefaultExecutorBenchmarks"] if args.suite == "loop" else [])
        for product in products:
            subprocess.run(["swift", "build", "-c", "release", "--product", product], check=True, cwd=ROOT,
                           stdout=sys.stderr)
    only = ["--only", args.only] if args.only else []
    impls = {"AsyncIO": [f".build/release/{ours}", "--runs", "1"] + only}
    if args.suite == "loop":
        impls["Swift default"] = [".build/release/DefaultExecutorBenchmarks", "--runs", "1"] + only
    impls["asyncio"] = [sys.executable, peer_script, "--runs", "1"] + only
    try:
        import uvloop  # noqa: F401
        impls["uvloop"] = [sys.executable, peer_script, "--uvloop", "--runs", "1"] + only
    except ImportError:
        print("uvloop not installed: its column is skipped (pip install uvloop)", file=sys.stderr)

    rounds = []
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}", file=sys.stderr)
        rounds.append({name: run(cmd) for name, cmd in impls.items()})

    names = [n for n in NAMES[args.suite] if n in rounds[0]["AsyncIO"]]
    peers = [p for p in impls if p != "AsyncIO"]
    header = ["benchmark", "AsyncIO ns/op", "allocs/op"] + [f"{p} ns/op" for p in peers] + [f"{p} / AsyncIO" for p in peers]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for n in names:
        ours = [rd["AsyncIO"][n][0] for rd in rounds]
        allocs = [rd["AsyncIO"][n][1] for rd in rounds]
        row = [n, f"{statistics.median(ours):.0f}", f"{statistics.median(allocs):.2f}"]
        ratios = []
        for p in peers:
            if n not in rounds[0][p]:
                row.append("-")
                ratios.append("-")
                continue
            row.append(f"{statistics.median([rd[p][n][0] for rd in rounds]):.0f}")
            ratios.append(f"{statistics.median([rd[p][n][0] / rd['AsyncIO'][n][0] for rd in rounds]):.1f}x")
        print("| " + " | ".join(row + ratios) + " |")


if __name__ == "__main__":
    main()

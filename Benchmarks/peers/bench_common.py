"""Shared by the Python peer benchmarks: the timing loop and the command line."""
import argparse
import asyncio
import statistics
import time


def measure(name, operations, runs, body):
    """Runs body(operations) `runs` times; prints "name<TAB>median ns/op<TAB>-" like the Swift harness."""
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        body(operations)
        times.append((time.perf_counter_ns() - start) / operations)
    print(f"{name}\t{statistics.median(times):.1f}\t-", flush=True)


def parse_options():
    """--uvloop, --runs N, --only a,b. Returns (args, run, new_loop, wanted)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    if args.uvloop:
        import uvloop
        run, new_loop = uvloop.run, uvloop.new_event_loop
    else:
        run, new_loop = asyncio.run, asyncio.new_event_loop

    def wanted(name):
        return not only or name in only
    return args, run, new_loop, wanted

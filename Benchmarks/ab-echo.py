#!/usr/bin/env python3
"""A/B of echo servers in one interleaved run: server CPU µs per request and req/s, medians of rounds.

    Benchmarks/ab-echo.py --loadgen /tmp/bench/loadgen/echo_load [--tls cert.pem key.pem] \
        [--sizes 64,1024] [--conns 64] [--rounds 5] [--duration 5] NAME='COMMAND {port} ...' [NAME='...' ...]

Each round runs every server once per size, in turn, so drift on the shared machine spreads over all of
them. Server and load generator share CPU 0 (as ../shared/bench's default `--pin shared`); the server's
CPU time is read from /proc/PID/stat around the measured window (after a 2 s warm-up run), so µs/req
is the server's own cost. {port}, {cert} and {key} are replaced in each command. Ratios are NAME ÷ the
first server, per round, then the median.
"""
import argparse
import json
import os
import statistics
import subprocess
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(command, port, size, args):
    argv = ["taskset", "-c", "0"] + command.format(port=port, cert=args.tls[0] if args.tls else "",
                                                   key=args.tls[1] if args.tls else "").split()
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(0.5)
        load = ["taskset", "-c", "0", args.loadgen, "-p", str(port), "-s", str(size), "-c", str(args.conns), "-q", "-w", "0"]
        if args.tls:
            load.append("--tls")
        subprocess.run(load + ["-d", "2"], check=True, capture_output=True)  # warm-up
        before = cpu_seconds(server.pid)
        out = subprocess.run(load + ["-d", str(args.duration)], check=True, capture_output=True, text=True).stdout
        used = cpu_seconds(server.pid) - before
        result = json.loads(out.strip().splitlines()[-1])
        assert result["errors"] == 0, result
        return result["rps"], used / result["requests"] * 1e6
    finally:
        server.kill()
        server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--loadgen", required=True)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--sizes", default="64,1024")
    parser.add_argument("--conns", type=int, default=64, help="concurrent connections (default 64)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("servers", nargs="+", help="NAME=COMMAND")
    args = parser.parse_args()
    servers = [s.split("=", 1) for s in args.servers]
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {}
    port = 19100
    for _ in range(args.rounds):
        for size in sizes:
            for name, command in servers:
                port += 1
                results.setdefault((size, name), []).append(measure(command, port, size, args))
    print(f"{'TLS 1.3 ' if args.tls else ''}echo, {args.conns} connections, {args.rounds} rounds of {args.duration} s, medians; "
          f"ratios ÷ {servers[0][0]} within each round\n")
    print("| size | server | req/s | server CPU µs/req | CPU ÷ first | req/s ÷ first |")
    print("|---|---|---|---|---|---|")
    for size in sizes:
        first = results[(size, servers[0][0])]
        for name, _ in servers:
            runs = results[(size, name)]
            cpu_ratio = statistics.median(r[1] / f[1] for r, f in zip(runs, first))
            rps_ratio = statistics.median(r[0] / f[0] for r, f in zip(runs, first))
            print(f"| {size} B | {name} | {statistics.median(r[0] for r in runs):,.0f} | "
                  f"{statistics.median(r[1] for r in runs):.2f} | {cpu_ratio:.3f} | {rps_ratio:.3f} |")


if __name__ == "__main__":
    main()

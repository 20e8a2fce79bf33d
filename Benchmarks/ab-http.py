#!/usr/bin/env python3
"""A/B of HTTP servers in one interleaved run: server CPU µs per request and req/s, medians of rounds.

    Benchmarks/ab-http.py [--path /plaintext] [--close] [--rounds 5] [--duration 4] [--rotate] NAME='COMMAND {port} ...' [...]

The HTTP counterpart of ab-echo.py: `wrk -t1 -c64 --latency` on a keep-alive GET, with the server and wrk
sharing CPU 0 (as ../shared/bench's default `--pin shared`). Each round runs every server once, in turn,
so drift on the shared machine spreads over all of them. The server's CPU time is read from
/proc/PID/stat around the measured window (after a 2 s warm-up), so µs/req is the server's own cost.
Ratios are NAME ÷ the first server, per round, then the median.
"""
import argparse
import os
import re
import statistics
import subprocess
import time

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(command, port, args):
    argv = ["taskset", "-c", "0"] + command.format(port=port).split()
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        time.sleep(0.5)
        url = f"http://127.0.0.1:{port}{args.path}"
        wrk = ["taskset", "-c", "0", "wrk", "-t1", "-c64", "--latency"]
        if args.close:
            wrk += ["-H", "Connection: close"]  # a connection per request: µs/req is µs per connection
        subprocess.run(wrk + ["-d2", url], check=True, capture_output=True)  # warm-up
        before = cpu_seconds(server.pid)
        out = subprocess.run(wrk + [f"-d{args.duration}", url], check=True, capture_output=True, text=True).stdout
        used = cpu_seconds(server.pid) - before
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        assert "Non-2xx" not in out and "Socket errors" not in out, out
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        return rps, used / requests * 1e6
    finally:
        server.kill()
        server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", default="/plaintext")
    parser.add_argument("--close", action="store_true", help="Connection: close on every request (connection churn)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--rotate", action="store_true", help="turn the servers' order each round")
    parser.add_argument("servers", nargs="+", help="NAME=COMMAND")
    args = parser.parse_args()
    servers = [s.split("=", 1) for s in args.servers]
    results = {}
    port = 19300
    for round in range(args.rounds):
        # The order turns each round (with --rotate): the first server of a round tends to read a few
        # percent slower, and a fixed order would give that to the same server every time.
        shift = round % len(servers) if args.rotate else 0
        for name, command in servers[shift:] + servers[:shift]:
            port += 1
            results.setdefault(name, []).append(measure(command, port, args))
    print(f"HTTP GET {args.path}, wrk -t1 -c64, {args.rounds} rounds of {args.duration} s"
          f"{', the order turned each round' if args.rotate else ''}, medians; "
          f"ratios ÷ {servers[0][0]} within each round\n")
    print("| server | req/s | server CPU µs/req | CPU ÷ first | req/s ÷ first |")
    print("|---|---|---|---|---|")
    first = results[servers[0][0]]
    for name, _ in servers:
        runs = results[name]
        cpu_ratio = statistics.median(r[1] / f[1] for r, f in zip(runs, first))
        rps_ratio = statistics.median(r[0] / f[0] for r, f in zip(runs, first))
        print(f"| {name} | {statistics.median(r[0] for r in runs):,.0f} | "
              f"{statistics.median(r[1] for r in runs):.2f} | {cpu_ratio:.3f} | {rps_ratio:.3f} |")


if __name__ == "__main__":
    main()

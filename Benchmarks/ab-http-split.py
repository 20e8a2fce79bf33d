#!/usr/bin/env python3
"""Interleaved A/B of HTTP servers, each window's server CPU split into user and system time.

    Benchmarks/ab-http-split.py [--rounds 14] [--duration 3] NAME='COMMAND {port} ...' [...]

As ab-http.py (`wrk -t1 -c64` on GET /plaintext, server and wrk sharing CPU 0, the servers' order
turned each round), but each window is printed with the server's user and system µs a request (from
/proc/PID/stat) and its involuntary context switches per 100 requests (from /proc/PID/status), and the
summary gives medians and 25th percentiles of each. System time is the kernel's share of a request
(the same system calls for every server here); user time is the server's own code, which is what a
change to the request path moves. Commands run with AIO_BACKEND=epoll unless they set it.
"""
import argparse
import os
import re
import statistics
import subprocess
import time

TICKS = os.sysconf("SC_CLK_TCK")


def counters(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    status = open(f"/proc/{pid}/status").read()
    switches = int(re.search(r"nonvoluntary_ctxt_switches:\s+(\d+)", status).group(1))
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS, switches


def window(command, port, duration):
    env = dict(os.environ)
    env.setdefault("AIO_BACKEND", "epoll")
    argv = ["taskset", "-c", "0"] + command.format(port=port).split()
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        time.sleep(0.4)
        url = f"http://127.0.0.1:{port}/plaintext"
        wrk = ["taskset", "-c", "0", "wrk", "-t1", "-c64"]
        subprocess.run(wrk + ["-d1", url], check=True, capture_output=True)  # warm-up
        user0, system0, switches0 = counters(server.pid)
        out = subprocess.run(wrk + [f"-d{duration}", url], check=True, capture_output=True, text=True).stdout
        user1, system1, switches1 = counters(server.pid)
        assert "Non-2xx" not in out and "Socket errors" not in out, out
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        return ((user1 - user0) / requests * 1e6, (system1 - system0) / requests * 1e6,
                (switches1 - switches0) / requests * 100)
    finally:
        server.kill()
        server.wait()


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=14)
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("servers", nargs="+", help="NAME=COMMAND")
    args = parser.parse_args()
    servers = [s.split("=", 1) for s in args.servers]
    results = {name: [] for name, _ in servers}
    port = 19600
    for round in range(args.rounds):
        shift = round % len(servers)
        for name, command in servers[shift:] + servers[:shift]:
            port += 1
            user, system, switches = window(command, port, args.duration)
            results[name].append((user, system))
            print(f"{round} {name} user {user:.2f} sys {system:.2f} total {user + system:.2f} "
                  f"involuntary/100 {switches:.2f}", flush=True)
    first = results[servers[0][0]]
    print(f"\nµs a request, {args.rounds} windows of {args.duration} s each; ratio: the median of the "
          f"per-round total ÷ {servers[0][0]}\n")
    print("| server | user, median (p25) | system, median (p25) | total, median (p25) | ratio |")
    print("|---|---|---|---|---|")
    for name, _ in servers:
        runs = results[name]
        columns = []
        for pick in (lambda r: r[0], lambda r: r[1], lambda r: r[0] + r[1]):
            values = [pick(r) for r in runs]
            columns.append(f"{statistics.median(values):.2f} ({quantile(values, 0.25):.2f})")
        ratio = statistics.median(sum(r) / sum(f) for r, f in zip(runs, first))
        print(f"| {name} | {' | '.join(columns)} | {ratio:.3f} |")


if __name__ == "__main__":
    main()

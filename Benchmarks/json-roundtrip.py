#!/usr/bin/env python3
"""JSON round trip (issue 14): wrk POSTs a 10 KiB JSON document to /post of `aio serve` and of an
aiohttp app (with and without uvloop), which parse it and answer it inside a small document.
Interleaved rounds; prints requests/s and the server's CPU microseconds per request (from
/proc/PID/stat), medians over the rounds.

    Benchmarks/json-roundtrip.py [--rounds 5] [--seconds 5] [--connections 16]

Needs wrk, a release build of aio (swift build -c release --product aio) and python3 with aiohttp and
uvloop. The Hummingbird peer runs when it is built (`swift build -c release --package-path
Benchmarks/peers/hb-json`, about 5 minutes the first time): Hummingbird 2.28.1, Codable JSON, its
default NIO group (System.coreCount threads).
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start(cmd):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline().strip()
    port = int(line.rsplit(":", 1)[1]) if line.startswith("listening") else int(line)
    return proc, port


def run_wrk(port, seconds, connections, script):
    out = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", script,
                          f"http://127.0.0.1:{port}/post"], capture_output=True, text=True, check=True).stdout
    requests = int(next(l for l in out.splitlines() if "requests in" in l).split()[0])
    errors = [l for l in out.splitlines() if "Non-2xx" in l or "Socket errors" in l]
    return requests, errors


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    document = {"items": [{"id": i, "name": f"item {i}", "tags": ["a", "b", "c"], "price": i * 1.25} for i in range(145)]}
    body = json.dumps(document)
    assert 9 * 1024 < len(body) < 12 * 1024, len(body)
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = %s\n' % json.dumps(body))
    script.close()
    servers = {
        "aio serve": [os.path.join(ROOT, ".build/release/aio"), "serve", "--port", "0"],
        "aiohttp": ["python3", "Benchmarks/peers/aiohttp_json_server.py"],
        "aiohttp + uvloop": ["python3", "Benchmarks/peers/aiohttp_json_server.py", "--uvloop"],
    }
    hummingbird = os.path.join(ROOT, "Benchmarks/peers/hb-json/.build/release/hb-json")
    if os.path.exists(hummingbird):
        servers["hummingbird"] = [hummingbird, "0"]
    results = {name: {"rps": [], "cpu": []} for name in servers}
    for r in range(args.rounds):
        for name, cmd in servers.items():
            proc, port = start(cmd)
            try:
                run_wrk(port, 1, args.connections, script.name)  # warm-up
                before = cpu_seconds(proc.pid)
                requests, errors = run_wrk(port, args.seconds, args.connections, script.name)
                used = cpu_seconds(proc.pid) - before
                assert not errors, f"{name}: {errors}"
                results[name]["rps"].append(requests / args.seconds)
                results[name]["cpu"].append(used / requests * 1e6)
            finally:
                proc.terminate()
                proc.wait()
        print(f"round {r + 1}/{args.rounds}", flush=True)
    base = statistics.median(results["aio serve"]["cpu"])
    print("| server | requests/s | server CPU µs/req | CPU ÷ aio serve |")
    print("|---|---|---|---|")
    for name, data in results.items():
        cpu = statistics.median(data["cpu"])
        print(f"| {name} | {statistics.median(data['rps']):.0f} | {cpu:.1f} | {cpu / base:.2f}x |")
    os.unlink(script.name)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Runs the HTTP client benchmarks of AsyncIO and its peers in one interleaved run and prints a table.

    Benchmarks/run-client-benchmarks.py [--rounds 3] [--requests 20000] [--skip-build] [--tls]

Every client GETs one local server (../shared/bench's C epoll HTTP responder, which costs almost
nothing, so the client's cost shows): REQUESTS sequential GETs over keep-alive, then REQUESTS GETs
with 64 in flight, each body read whole. Clients: AsyncIO's HTTPClient (Benchmarks/HTTPClientBenchmark),
swift-server/async-http-client 1.37 (Benchmarks/peers/ahc-client) and aiohttp's ClientSession, with and
without uvloop (Benchmarks/peers/aiohttp_client_bench.py). Each round runs every client once; the table
shows medians over the rounds of req/s and client CPU µs per request, and the ratios peer ÷ AsyncIO
computed within each round.

With --tls every client GETs https://localhost/plaintext from `aio serve --tls-cert --tls-key` instead
(TLS 1.3, a self-signed P-256 certificate made for the run and trusted through SSL_CERT_FILE, and
BENCH_CA_FILE for async-http-client, whose BoringSSL does not read SSL_CERT_FILE).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import socket
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "bench")
PORT = 18710


def build(skip):
    if skip:
        return
    for product in ("HTTPClientBenchmark", "aio"):
        subprocess.run(["swift", "build", "-c", "release", "--product", product], check=True, cwd=ROOT, stdout=sys.stderr)
    subprocess.run(["swift", "build", "-c", "release"], check=True, cwd=os.path.join(ROOT, "Benchmarks/peers/ahc-client"),
                   stdout=sys.stderr)
    subprocess.run(["make", "-C", os.path.join(SHARED, "peers/c")], check=True, stdout=sys.stderr)


def wait_for_port(port):
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the server on port {port} did not start")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--tls", action="store_true", help="HTTPS against aio serve --tls-cert/--tls-key")
    args = parser.parse_args()
    build(args.skip_build)
    env = dict(os.environ)
    if args.tls:
        directory = tempfile.mkdtemp(prefix="aio-client-bench-")
        cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        env["SSL_CERT_FILE"] = cert
        env["BENCH_CA_FILE"] = cert
        url = f"https://localhost:{PORT}/plaintext"
        server_argv = [os.path.join(ROOT, ".build/release/aio"), "serve", "--port", str(PORT),
                       "--tls-cert", cert, "--tls-key", key]
    else:
        url = f"http://127.0.0.1:{PORT}/"
        server_argv = [os.path.join(SHARED, "peers/c/http_epoll"), str(PORT)]
    clients = {
        "AsyncIO": [os.path.join(ROOT, ".build/release/HTTPClientBenchmark")],
        "async-http-client": [os.path.join(ROOT, "Benchmarks/peers/ahc-client/.build/release/ahc-client")],
        "aiohttp": [sys.executable, os.path.join(ROOT, "Benchmarks/peers/aiohttp_client_bench.py")],
        "aiohttp+uvloop": [sys.executable, os.path.join(ROOT, "Benchmarks/peers/aiohttp_client_bench.py"), "--uvloop"],
    }
    for name, cmd in list(clients.items()):
        if not os.path.exists(cmd[1] if name.startswith("aiohttp") else cmd[0]):
            print(f"{name}: not built, skipped", file=sys.stderr)
            del clients[name]
    server = subprocess.Popen(server_argv, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(PORT)
        results = {}  # (scenario, client) -> list of (req/s, cpu µs/req)
        for _ in range(args.rounds):
            for concurrency in (1, 64):
                for name, cmd in clients.items():
                    if name.startswith("aiohttp"):
                        argv = cmd[:2] + [url, str(args.requests), str(concurrency)] + cmd[2:]
                    else:
                        argv = cmd + [url, str(args.requests), str(concurrency)]
                    out = subprocess.run(argv, check=True, capture_output=True, text=True, env=env).stdout
                    data = json.loads(out.strip().splitlines()[-1])
                    rate = data["requests"] / data["seconds"]
                    cpu = data["cpu_seconds"] / data["requests"] * 1e6
                    results.setdefault((concurrency, name), []).append((rate, cpu))
        print(f"{url}: {args.requests} GETs per run, medians of {args.rounds} rounds; ratios are peer ÷ AsyncIO "
              "(CPU µs per request, then wall time), within each round.\n")
        print("| scenario | client | req/s | client CPU µs/req | CPU ratio | time ratio |")
        print("|---|---|---|---|---|---|")
        for concurrency in (1, 64):
            ours = results[(concurrency, "AsyncIO")]
            for name in clients:
                runs = results[(concurrency, name)]
                rate = statistics.median(r for r, _ in runs)
                cpu = statistics.median(c for _, c in runs)
                cpu_ratio = statistics.median(c / o[1] for (_, c), o in zip(runs, ours))
                time_ratio = statistics.median(o[0] / r for (r, _), o in zip(runs, ours))
                scenario = "sequential (1 in flight)" if concurrency == 1 else "64 in flight"
                print(f"| {scenario} | {name} | {rate:,.0f} | {cpu:.1f} | {cpu_ratio:.1f}x | {time_ratio:.1f}x |")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()

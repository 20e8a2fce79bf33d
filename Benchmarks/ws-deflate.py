#!/usr/bin/env python3
"""WebSocket echo of 64 KiB messages with permessage-deflate (issue 15): `aio serve`'s /ws/echo against
the `websockets` and aiohttp servers of ../shared/bench/peers/python (with uvloop too), in interleaved
rounds. The client is Python's `websockets` (compression="deflate", its defaults: context takeover,
15-bit windows), 4 connections in one process, each sending a message and waiting for its echo. The
payload is text-like (words drawn from a 2,000-word vocabulary, about 3:1 under deflate). Prints
messages/s, payload MB/s one way, and the server's CPU µs per message (from /proc/PID/stat), medians
over the rounds.

    Benchmarks/ws-deflate.py [--rounds 3] [--seconds 5]
"""
import argparse, asyncio, os, random, statistics, subprocess, time
import websockets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEERS = os.path.join(ROOT, "..", "shared", "bench", "peers", "python")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def payload():
    rng = random.Random(7)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(2000)]
    text = ""
    while len(text) < 64 * 1024:
        text += rng.choice(words) + " "
    return text[:64 * 1024]


async def load(port, seconds, message):
    count = 0
    stop = time.monotonic() + seconds

    async def one():
        nonlocal count
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/echo", compression="deflate", max_size=None) as ws:
            assert ws.response.headers.get("Sec-WebSocket-Extensions", "").startswith("permessage-deflate"), ws.response.headers
            while time.monotonic() < stop:
                await ws.send(message)
                assert await ws.recv() == message
                count += 1
    await asyncio.gather(*(one() for _ in range(4)))
    return count


def start(cmd, port):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            import socket
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{cmd} did not start")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    message = payload()
    servers = {
        "aio serve": lambda port: [os.path.join(ROOT, ".build/release/aio"), "serve", "--port", str(port)],
        "websockets": lambda port: ["python3", os.path.join(PEERS, "ws_websockets.py"), str(port)],
        "aiohttp": lambda port: ["python3", os.path.join(PEERS, "ws_aiohttp.py"), str(port)],
        "aiohttp + uvloop": lambda port: ["python3", os.path.join(PEERS, "ws_aiohttp.py"), "--uvloop", str(port)],
    }
    results = {name: {"rate": [], "cpu": []} for name in servers}
    port = 18700
    for r in range(args.rounds):
        for name, command in servers.items():
            port += 1
            proc = start(command(port), port)
            try:
                asyncio.run(load(port, 1, message))  # warm-up
                before = cpu_seconds(proc.pid)
                count = asyncio.run(load(port, args.seconds, message))
                used = cpu_seconds(proc.pid) - before
                results[name]["rate"].append(count / args.seconds)
                results[name]["cpu"].append(used / count * 1e6)
            finally:
                proc.terminate()
                proc.wait()
        print(f"round {r + 1}/{args.rounds}", flush=True)
    base = statistics.median(results["aio serve"]["cpu"])
    print("| server | messages/s | MB/s one way | server CPU µs/message | CPU ÷ aio serve |")
    print("|---|---|---|---|---|")
    for name, data in results.items():
        rate = statistics.median(data["rate"])
        cpu = statistics.median(data["cpu"])
        print(f"| {name} | {rate:.0f} | {rate * len(message) / 1e6:.1f} | {cpu:.0f} | {cpu / base:.2f}x |")


if __name__ == "__main__":
    main()

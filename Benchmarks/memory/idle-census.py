#!/usr/bin/env python3
"""Allocation census of N connections: runs the server under Benchmarks/tools/malloc_sizes.so (build it
first, see malloc_sizes.c), arms it, opens N connections with one round trip each (or, with --inflight,
each holding a `GET /delay/10` that the server is still answering), and prints the sizes seen.

    MALLOC_SIZES=/tmp/malloc_sizes.so Benchmarks/memory/idle-census.py 2000 .build/release/aio echo --port 0
    MALLOC_SIZES=/tmp/malloc_sizes.so Benchmarks/memory/idle-census.py --inflight 2000 .build/release/aio serve --port 0
    MALLOC_SIZES=/tmp/malloc_sizes.so Benchmarks/memory/idle-census.py --ws 2000 .build/release/aio serve --port 0
"""
import asyncio, sys, subprocess, resource, signal, os
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
INFLIGHT = sys.argv[1] == "--inflight"
WS = sys.argv[1] == "--ws"
args = sys.argv[2:] if INFLIGHT or WS else sys.argv[1:]
N = int(args[0])


async def main():
    env = dict(os.environ, LD_PRELOAD=os.environ.get("MALLOC_SIZES", "/tmp/malloc_sizes.so"))
    p = subprocess.Popen(args[1:], stdout=subprocess.PIPE, env=env)
    line = p.stdout.readline().decode()
    port = int(line.strip().rsplit(":", 1)[1])
    await asyncio.sleep(0.3)
    conns = []
    os.kill(p.pid, signal.SIGPWR)
    for i in range(N):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        conns.append((r, w))
    if WS:
        for r, w in conns: w.write(b"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                   b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        for r, w in conns: await r.readuntil(b"\r\n\r\n")
        for r, w in conns: w.write(bytes([0x82, 0x88, 0, 0, 0, 0]) + b"ping1234")
        for r, w in conns: await r.readexactly(10)
        await asyncio.sleep(0.3)
    elif INFLIGHT:
        for r, w in conns: w.write(b"GET /delay/10 HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.sleep(2)
    else:
        for r, w in conns: w.write(b"hello\n")
        for r, w in conns: await r.readexactly(6)
        await asyncio.sleep(0.3)
    os.kill(p.pid, signal.SIGUSR2)
    p.wait()
    for r, w in conns: w.close()
asyncio.run(main())

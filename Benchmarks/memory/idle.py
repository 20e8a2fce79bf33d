#!/usr/bin/env python3
"""Idle-connection memory: RSS growth of a server per idle connection, each after one echo round trip.

    Benchmarks/memory/idle.py 10000 .build/release/aio echo --port 0

The server must print "listening on HOST:PORT" first. Needs RLIMIT_NOFILE of 20,000 (ulimit -n)."""
import asyncio, sys, re, subprocess, resource, socket
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
N = int(sys.argv[1])
def rss(pid):
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))
async def main():
    p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline().decode()
    port = int(line.strip().rsplit(":", 1)[1])
    await asyncio.sleep(0.3)
    conns = []
    # warm up: one round trip
    r, w = await asyncio.open_connection("127.0.0.1", port); w.write(b"x\n"); await r.read(10); conns.append((r, w))
    await asyncio.sleep(0.2)
    before = rss(p.pid)
    for i in range(N):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        conns.append((r, w))
    # one echo on each so every connection has done a round trip
    for r, w in conns[1:]:
        w.write(b"hello\n")
    for r, w in conns[1:]:
        await r.readexactly(6)
    await asyncio.sleep(0.5)
    after = rss(p.pid)
    print(f"{N} idle connections: {after - before} KiB, {(after - before) * 1024 / N:.0f} bytes per connection")
    for r, w in conns: w.close()
    p.terminate(); p.wait()
asyncio.run(main())

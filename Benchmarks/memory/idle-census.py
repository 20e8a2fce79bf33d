#!/usr/bin/env python3
"""Allocation census of N idle connections: runs the server under Benchmarks/tools/malloc_sizes.so (build it
first, see malloc_sizes.c), arms it, opens N connections with one echo each, and prints the sizes seen.

    MALLOC_SIZES=/tmp/malloc_sizes.so Benchmarks/memory/idle-census.py 2000 .build/release/aio echo --port 0
"""
import asyncio, sys, re, subprocess, resource, signal, os
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
N = int(sys.argv[1])
async def main():
    env = dict(os.environ, LD_PRELOAD=os.environ.get("MALLOC_SIZES", "/tmp/malloc_sizes.so"))
    p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, env=env)
    line = p.stdout.readline().decode()
    port = int(line.strip().rsplit(":", 1)[1])
    await asyncio.sleep(0.3)
    conns = []
    os.kill(p.pid, signal.SIGPWR)
    for i in range(N):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        conns.append((r, w))
    for r, w in conns: w.write(b"hello\n")
    for r, w in conns: await r.readexactly(6)
    await asyncio.sleep(0.3)
    os.kill(p.pid, signal.SIGUSR2)
    p.wait()
    for r, w in conns: w.close()
asyncio.run(main())

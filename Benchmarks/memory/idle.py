#!/usr/bin/env python3
"""Idle-connection memory: RSS growth of a server per idle connection, each after one round trip;
or, with --inflight, per connection with a request in flight (GET /delay/10, measured while the
server holds them all, then answered).

    Benchmarks/memory/idle.py 10000 .build/release/aio echo --port 0              # an echo line each
    Benchmarks/memory/idle.py --http 10000 .build/release/aio serve --port 0      # one GET /get each
    Benchmarks/memory/idle.py --inflight 10000 .build/release/aio serve --port 0  # GET /delay/10 each

The server must print "listening on HOST:PORT" first. Needs RLIMIT_NOFILE of 20,000 (ulimit -n)."""
import asyncio, sys, re, subprocess, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
INFLIGHT = sys.argv[1] == "--inflight"
HTTP = sys.argv[1] == "--http" or INFLIGHT
args = sys.argv[2:] if HTTP else sys.argv[1:]
N = int(args[0])
REQUEST = b"GET /get HTTP/1.1\r\nHost: x\r\n\r\n" if HTTP else b"hello\n"
SLOW = b"GET /delay/10 HTTP/1.1\r\nHost: x\r\n\r\n"


def rss(pid):
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))


async def round_trip(r, w):
    w.write(REQUEST)
    if HTTP:
        await r.readuntil(b"}\n")  # the end of the /get document
    else:
        await r.readexactly(len(REQUEST))


async def main():
    p = subprocess.Popen(args[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    port = int(p.stdout.readline().decode().strip().rsplit(":", 1)[1])
    await asyncio.sleep(0.3)
    # Warm up with one round trip, then measure from there.
    r, w = await asyncio.open_connection("127.0.0.1", port)
    await round_trip(r, w)
    conns = [(r, w)]
    await asyncio.sleep(0.2)
    before = rss(p.pid)
    for _ in range(N):
        conns.append(await asyncio.open_connection("127.0.0.1", port))
    if INFLIGHT:
        for _, w in conns[1:]:
            w.write(SLOW)
        await asyncio.sleep(3)  # every request is in, each handler waits in its /delay
        after = rss(p.pid)
        print(f"{N} connections with a request in flight: {after - before} KiB, "
              f"{(after - before) * 1024 / N:.0f} bytes per connection")
        await asyncio.gather(*(r.readuntil(b"}\n") for r, _ in conns[1:]))
    else:
        await asyncio.gather(*(round_trip(r, w) for r, w in conns[1:]))
        await asyncio.sleep(0.5)
        after = rss(p.pid)
        print(f"{N} idle connections: {after - before} KiB, {(after - before) * 1024 / N:.0f} bytes per connection")
    for r, w in conns:
        w.close()
    p.terminate()
    p.wait()

asyncio.run(main())

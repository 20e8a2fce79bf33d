#!/usr/bin/env python3
"""Slow readers: N clients each GET /bytes/10485760 and read 1 KiB every 200 ms; server RSS before, during, after.

    Benchmarks/memory/slowreaders.py 2000 .build/release/aio serve --port 0
"""
import asyncio, sys, os, time, subprocess, re, resource
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
def rss(pid):
    s = open(f"/proc/{pid}/status").read()
    return int(re.search(r"VmRSS:\s+(\d+)", s).group(1)) // 1024, int(re.search(r"VmHWM:\s+(\d+)", s).group(1)) // 1024
async def main():
    p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE)
    line = p.stdout.readline().decode()
    port = int(line.strip().rsplit(":", 1)[1])
    await asyncio.sleep(0.3)
    print("start rss/hwm MiB", rss(p.pid))
    conns = []
    for i in range(N):
        r, w = await asyncio.open_connection("127.0.0.1", port, limit=1024)
        w.transport.set_write_buffer_limits(0)
        # tiny receive buffer so the server's writes back up quickly
        import socket
        w.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        w.write(b"GET /bytes/10485760 HTTP/1.1\r\nHost: x\r\n\r\n")
        conns.append((r, w))
    async def slow(r):
        try:
            for _ in range(20):
                await r.read(1024)
                await asyncio.sleep(0.2)
        except Exception:
            pass
    t = [asyncio.create_task(slow(r)) for r, w in conns]
    await asyncio.sleep(3)
    print("during rss/hwm MiB", rss(p.pid))
    for r, w in conns: w.transport.abort()
    for x in t: x.cancel()
    await asyncio.sleep(2)
    print("after rss/hwm MiB", rss(p.pid))
    p.terminate(); p.wait()
asyncio.run(main())

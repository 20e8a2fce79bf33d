#!/usr/bin/env python3
"""Idle WebSocket connections (issue 15): RSS growth of a server per open WebSocket, each after one
echo, then SIGTERM: every connection must get a close frame with 1001 ("going away") and the server
must exit 0.

    Benchmarks/memory/ws-idle.py 10000 .build/release/aio serve --port 0 --max-connections 20000
    Benchmarks/memory/ws-idle.py --deflate 10000 .build/release/aio serve --port 0 --max-connections 20000

The server must print "listening on HOST:PORT" first and serve /ws/echo. Needs RLIMIT_NOFILE of 20,000."""
import asyncio, os, re, resource, signal, struct, subprocess, sys, time
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
DEFLATE = sys.argv[1] == "--deflate"
args = sys.argv[2:] if DEFLATE else sys.argv[1:]
N = int(args[0])
REQUEST = (b"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           + (b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if DEFLATE else b"") + b"\r\n")
# A masked binary message of 8 bytes (mask key 0: the payload as it is); with --deflate, compressed
# (RSV1, raw deflate with the sync flush's trailer removed), so that the server keeps the client's
# compression context (the client did not offer client_no_context_takeover).
if DEFLATE:
    import zlib
    compressor = zlib.compressobj(wbits=-15)
    body = compressor.compress(b"ping1234") + compressor.flush(zlib.Z_SYNC_FLUSH)
    body = body[:-4]
    MESSAGE = bytes([0xC2, 0x80 | len(body), 0, 0, 0, 0]) + body
else:
    MESSAGE = bytes([0x82, 0x88, 0, 0, 0, 0]) + b"ping1234"


def rss(pid):
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1))


async def open_ws(port):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(REQUEST)
    head = await r.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    w.write(MESSAGE)
    reply = await r.readexactly(2)
    length = reply[1] & 0x7F
    await r.readexactly(length)  # the echo (compressed too with --deflate: 8 bytes are under 64, so not)
    return r, w


async def read_close(r):
    first = await r.readexactly(2)
    payload = await r.readexactly(first[1] & 0x7F)
    return first[0] & 0x0F, struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


async def main():
    p = subprocess.Popen(args[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    port = int(p.stdout.readline().decode().strip().rsplit(":", 1)[1])
    await asyncio.sleep(0.3)
    conns = [await open_ws(port)]
    await asyncio.sleep(0.2)
    before = rss(p.pid)
    for _ in range(N):
        conns.append(await open_ws(port))
    await asyncio.sleep(0.5)
    after = rss(p.pid)
    print(f"{N} idle WebSockets{' (permessage-deflate)' if DEFLATE else ''}: {after - before} KiB, "
          f"{(after - before) * 1024 / N:.0f} bytes per connection")
    start = time.monotonic()
    p.send_signal(signal.SIGTERM)
    closes = await asyncio.gather(*(read_close(r) for r, _ in conns), return_exceptions=True)
    going_away = sum(1 for c in closes if c == (8, 1001))
    for _, w in conns:
        w.write(bytes([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE9]))  # our close answer, 1001
    code = await asyncio.get_running_loop().run_in_executor(None, p.wait)
    print(f"SIGTERM: {going_away} of {len(conns)} got Close 1001; server exited {code} "
          f"after {time.monotonic() - start:.1f} s")
    for _, w in conns:
        w.close()

asyncio.run(main())

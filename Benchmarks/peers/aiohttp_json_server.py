#!/usr/bin/env python3
"""aiohttp's side of the JSON round trip (Benchmarks/json-roundtrip.py): POST /post parses the JSON
body and answers httpbin's document, as `aio serve`'s /post does (the same fields, two-space indented).
Prints its port."""
import asyncio
import json
import sys

from aiohttp import web


async def post(request):
    text = await request.text()
    document = {
        "args": dict(request.query), "data": text, "files": {}, "form": {},
        "headers": dict(request.headers), "json": json.loads(text), "method": request.method,
        "origin": request.remote, "url": str(request.url),
    }
    return web.Response(text=json.dumps(document, indent=2) + "\n", content_type="application/json")


async def main():
    app = web.Application()
    app.add_routes([web.post("/post", post)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    if "--uvloop" in sys.argv:
        import uvloop
        uvloop.install()
        sys.argv.remove("--uvloop")
    asyncio.run(main())

"""aiohttp client peer for Benchmarks/run-client-benchmarks.py.

python3 aiohttp_client_bench.py URL REQUESTS CONCURRENCY [--uvloop]: REQUESTS GETs over keep-alive,
CONCURRENCY in flight, each body read. Prints {"requests", "seconds", "cpu_seconds"} as JSON.
"""
import asyncio
import json
import resource
import sys
import time

import aiohttp


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(session, url, count, concurrency):
    async def worker(n):
        for _ in range(n):
            async with session.get(url) as response:
                assert response.status == 200, response.status
                await response.read()
    await asyncio.gather(*(worker(count // concurrency) for _ in range(concurrency)))


async def main(url, total, concurrency):
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await run(session, url, min(total, 1000), concurrency)  # warm-up
        cpu_start = cpu_seconds()
        start = time.perf_counter()
        await run(session, url, total, concurrency)
        seconds = time.perf_counter() - start
        cpu = cpu_seconds() - cpu_start
    print(json.dumps({"requests": total, "seconds": seconds, "cpu_seconds": cpu}))


if __name__ == "__main__":
    url, total, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if "--uvloop" in sys.argv:
        import uvloop
        uvloop.run(main(url, total, concurrency))
    else:
        asyncio.run(main(url, total, concurrency))

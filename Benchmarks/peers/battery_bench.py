#!/usr/bin/env python3
"""The BatteryBenchmarks workloads in Python asyncio (or uvloop with --uvloop).

Prints "name<TAB>ns/op<TAB>-" lines (medians over --runs), like Benchmarks/BatteryBenchmarks.
"""
import asyncio

from bench_common import measure, parse_options


def main():
    args, run, new_loop, wanted = parse_options()

    if wanted("lock_handoff"):
        async def handoff(n):
            lock = asyncio.Lock()

            async def worker():
                for _ in range(n // 2):
                    await lock.acquire()
                    await asyncio.sleep(0)
                    lock.release()
            await asyncio.gather(worker(), worker())
        measure("lock_handoff", 100_000, args.runs, lambda n: run(handoff(n)))

    if wanted("event_broadcast_10k"):
        async def broadcast(n):
            event = asyncio.Event()
            tasks = [asyncio.create_task(event.wait()) for _ in range(n)]
            await asyncio.sleep(0)
            event.set()
            await asyncio.gather(*tasks)
        measure("event_broadcast_10k", 10_000, args.runs, lambda n: run(broadcast(n)))

    if wanted("queue_1m"):
        async def queue_bench(n):
            queue = asyncio.Queue(maxsize=1000)

            async def producer():
                for i in range(n):
                    await queue.put(i)
            task = asyncio.create_task(producer())
            total = 0
            for _ in range(n):
                total += await queue.get()
            await task
            assert total == n * (n - 1) // 2
        measure("queue_1m", 1_000_000, args.runs, lambda n: run(queue_bench(n)))

    async def pingpong(n, timed):
        """Two tasks pass an item back and forth through two queues; with `timed`, every get is inside
        a timeout (a wait in an open cancel scope)."""
        there, back = asyncio.Queue(), asyncio.Queue()

        async def get(queue):
            if not timed:
                return await queue.get()
            async with asyncio.timeout(60):
                return await queue.get()

        async def echo():
            for _ in range(n):
                await back.put(await get(there))
        task = asyncio.create_task(echo())
        for i in range(n):
            await there.put(i)
            assert await get(back) == i
        await task

    if wanted("queue_pingpong"):
        measure("queue_pingpong", 200_000, args.runs, lambda n: run(pingpong(n, False)))

    if wanted("queue_pingpong_timeout"):
        measure("queue_pingpong_timeout", 200_000, args.runs, lambda n: run(pingpong(n, True)))

    if wanted("offload_roundtrip"):
        async def roundtrip(n):
            for i in range(n):
                assert await asyncio.to_thread(lambda: i) == i
        measure("offload_roundtrip", 20_000, args.runs, lambda n: run(roundtrip(n)))

    if wanted("spawn_wait_true"):
        async def spawn(n):
            for _ in range(n):
                proc = await asyncio.create_subprocess_exec("/bin/true")
                assert await proc.wait() == 0
        measure("spawn_wait_true", 1_000, args.runs, lambda n: run(spawn(n)))


if __name__ == "__main__":
    main()

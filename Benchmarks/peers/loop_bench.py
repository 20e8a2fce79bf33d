#!/usr/bin/env python3
"""The LoopBenchmarks workloads in Python asyncio (or uvloop with --uvloop), for the same-run comparison.

Prints "name<TAB>ns/op<TAB>-" lines (medians over --runs), like Benchmarks/LoopBenchmarks.
"""
import asyncio

from bench_common import measure, parse_options
import random
import threading




def main():
    args, run, new_loop, wanted = parse_options()

    if wanted("await_yield"):
        async def yields(n):
            for _ in range(n):
                await asyncio.sleep(0)
        measure("await_yield", 200_000, args.runs, lambda n: run(yields(n)))

    if wanted("await_pingpong"):
        # Two tasks hand a baton back and forth through futures: one op = one switch.
        async def pingpong(n):
            loop = asyncio.get_running_loop()
            state = {"waiting": None}
            rounds = n // 2

            async def player():
                for _ in range(rounds):
                    mine = loop.create_future()
                    other = state["waiting"]
                    state["waiting"] = mine
                    if other is not None:
                        other.set_result(None)
                    await mine
                if state["waiting"] is not None and not state["waiting"].done():
                    state["waiting"].set_result(None)

            await asyncio.gather(player(), player())
        measure("await_pingpong", 200_000, args.runs, lambda n: run(pingpong(n)))

    # create_task + await: spawn_join, and task_unstructured (asyncio's only kind of task) below.
    async def spawn(n):
        async def child(i):
            return i
        for i in range(n):
            await asyncio.create_task(child(i))

    if wanted("spawn_join"):
        measure("spawn_join", 100_000, args.runs, lambda n: run(spawn(n)))

    if wanted("timers_1m"):
        # Real time here (asyncio has no virtual clock): deadlines spread over 1 ms so the wait is
        # negligible next to scheduling and firing a million handles.
        async def timers(n):
            loop = asyncio.get_running_loop()
            done = loop.create_future()
            count = [0]
            rng = random.Random(42)

            def fire():
                count[0] += 1
                if count[0] == n:
                    done.set_result(None)
            for _ in range(n):
                loop.call_later(rng.random() * 0.001, fire)
            await done
        measure("timers_1m", 1_000_000, args.runs, lambda n: run(timers(n)))

    if wanted("timeout_scope"):
        async def scopes(n):
            total = 0
            for i in range(n):
                async with asyncio.timeout(10):
                    total += i
        measure("timeout_scope", 200_000, args.runs, lambda n: run(scopes(n)))

    if wanted("timeout_reschedule"):
        async def reschedules(n):
            loop = asyncio.get_running_loop()
            for _ in range(n):
                async with asyncio.timeout(10) as cm:
                    cm.reschedule(loop.time() + 20)
                    await asyncio.sleep(0)
        measure("timeout_reschedule", 100_000, args.runs, lambda n: run(reschedules(n)))

    if wanted("wait_first_completed"):
        async def waits(n):
            async def quick(i):
                return i

            async def slow(i):
                await asyncio.sleep(10)
                return i
            for i in range(n):
                a = asyncio.create_task(quick(i))
                b = asyncio.create_task(slow(i))
                done, _ = await asyncio.wait([a, b], return_when=asyncio.FIRST_COMPLETED)
                assert len(done) >= 1
                b.cancel()
                try:
                    await b
                except asyncio.CancelledError:
                    pass
        measure("wait_first_completed", 50_000, args.runs, lambda n: run(waits(n)))

    if wanted("task_unstructured"):
        measure("task_unstructured", 100_000, args.runs, lambda n: run(spawn(n)))

    if wanted("submit_8_threads"):
        def submit(n):
            loop = new_loop()
            thread = threading.Thread(target=loop.run_forever)
            thread.start()

            async def job(i):
                return i

            def submitter():
                for i in range(n // 8):
                    assert asyncio.run_coroutine_threadsafe(job(i), loop).result() == i
            workers = [threading.Thread(target=submitter) for _ in range(8)]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
        measure("submit_8_threads", 40_000, args.runs, submit)


if __name__ == "__main__":
    main()

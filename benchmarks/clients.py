"""N WebSocket viewers in one process; counts frames between two wall-clock times.

Usage: clients.py URL N START END [--ack] [--header name:value ...]
Prints one JSON line: received frames, bytes, latencies (ms, from the header's time_ns).
"""

import asyncio
import json
import sys
import time

from websockets.asyncio.client import connect


async def viewer(url, headers, start, end, ack, stats):
    async with connect(
        url, additional_headers=headers, max_size=1 << 24, compression=None, open_timeout=30
    ) as ws:
        if ack:
            await ws.send(json.dumps({"op": "subscribe"}))
        stats["connected"] += 1
        latest = {"seq": None, "acked": None, "unacked": 0, "window": 4}

        async def acker():
            # Like run.js: ack the latest applied frame at most 10 times a second, or at
            # once when half the window is unacked (receive() wakes us).
            while True:
                try:
                    await asyncio.wait_for(latest["wake"].wait(), 0.1)
                except TimeoutError:
                    pass
                latest["wake"].clear()
                if latest["seq"] != latest["acked"]:
                    latest["acked"] = latest["seq"]
                    latest["unacked"] = 0
                    await ws.send(f'{{"op":"ack","seq":{latest["seq"]}}}')

        latest["wake"] = asyncio.Event()
        ack_task = asyncio.create_task(acker()) if ack else None
        try:
            await receive(ws, start, end, ack, stats, latest)
        finally:
            if ack_task:
                ack_task.cancel()


async def receive(ws, start, end, ack, stats, latest):
    while True:
        remaining = end - time.time()
        if remaining <= 0:
            return
        try:
            msg = await asyncio.wait_for(ws.recv(), remaining)
        except TimeoutError:
            return
        if isinstance(msg, str):
            continue
        now = time.time()
        if ack:
            latest["seq"] = int.from_bytes(msg[24:28], "little")
        if start <= now < end:
            stats["received"] += 1
            stats["bytes"] += len(msg)
            sent_ns = int.from_bytes(msg[48:56], "little")
            if len(stats["latencies"]) < 200_000:
                stats["latencies"].append((time.time_ns() - sent_ns) / 1e6)


async def main():
    url, n, start, end = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    ack = "--ack" in sys.argv
    headers = []
    args = sys.argv[5:]
    for i, a in enumerate(args):
        if a == "--header":
            name, value = args[i + 1].split(":", 1)
            headers.append((name, value))
    stats = {"received": 0, "bytes": 0, "latencies": [], "connected": 0}
    results = await asyncio.gather(
        *(viewer(url, headers, start, end, ack, stats) for _ in range(n)), return_exceptions=True
    )
    stats["errors"] = [repr(r) for r in results if isinstance(r, BaseException)][:5]
    print(json.dumps(stats))


if __name__ == "__main__":
    asyncio.run(main())

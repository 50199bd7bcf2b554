"""The baseline: a raw `websockets` server broadcasting frames to every client.

Usage: raw_server.py PORT SIZE. Broadcasts SIZE-byte frames as fast as the clients
drain them (it pauses while any client's write buffer is above 1 MiB).
"""

import asyncio
import sys
import time

import websockets
from websockets.asyncio.server import broadcast, serve

clients = set()


async def handler(ws):
    clients.add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        clients.discard(ws)


async def pump(size):
    body = bytes(size - 56)
    while True:
        if not clients:
            await asyncio.sleep(0.01)
            continue
        # The same 56-byte header position for time_ns as the real protocol.
        frame = bytes(48) + time.time_ns().to_bytes(8, "little") + body
        broadcast(clients, frame)
        while any(
            ws.transport is not None and ws.transport.get_write_buffer_size() > 1 << 20
            for ws in clients
        ):
            await asyncio.sleep(0.001)
        await asyncio.sleep(0)


async def main(port, size):
    async with serve(handler, "127.0.0.1", port, max_size=1 << 20, compression=None):
        print("ready", flush=True)
        await pump(size)


if __name__ == "__main__":
    print(websockets.__version__, file=sys.stderr)
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))

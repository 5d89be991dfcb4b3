#!/usr/bin/python3
"""A TCP relay that delays what it carries, each way, for the shared
limiter's network-namespace bench (the kernel here has no netem).
    bench/relay.py DELAY_MS LISTEN_HOST:PORT=TARGET_HOST:PORT ...
Prints 'listening on relay' once every listener is up; runs until killed."""

import asyncio
import sys


async def carry(reader, writer, delay):
    """Copies reader to writer, each chunk delay seconds after it came."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def deliver():
        try:
            while True:
                due, data = await queue.get()
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        writer.close()

    delivering = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(65536)
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                break
    except ConnectionError:
        queue.put_nowait((loop.time() + delay, b""))
    await delivering


async def main():
    delay = float(sys.argv[1]) / 1000
    servers = []
    for route in sys.argv[2:]:
        listen, target = route.split("=")
        host, port = listen.rsplit(":", 1)
        target_host, target_port = target.rsplit(":", 1)

        async def handle(reader, writer, target_host=target_host, target_port=int(target_port)):
            try:
                up_reader, up_writer = await asyncio.open_connection(target_host, target_port)
            except OSError:
                writer.close()
                return
            await asyncio.gather(carry(reader, up_writer, delay), carry(up_reader, writer, delay))

        servers.append(await asyncio.start_server(handle, host, int(port)))
    print("listening on relay", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main())

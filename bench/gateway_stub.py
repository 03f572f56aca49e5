"""A stand-in of the gateway's key API whose latency and error rate the caller controls, for the load
generator's tests and benchmark: ``python -m bench.gateway_stub --port P [--delay-ms D] [--error-rate E]
[--concurrency C]``.

asyncio, HTTP/1.1 keep-alive, answers ``GET``/``PUT``/``DELETE /v1/keys/<key>`` from memory after
``delay-ms`` (every request waits exactly that long), answers 500 to a share ``error-rate`` of the
requests, and serves at most ``concurrency`` requests at a time (the rest queue: a server that
cannot keep up). Prints ``ready`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import random


async def serve(port: int, delay: float, error_rate: float, concurrency: int) -> None:
    store: dict[str, bytes] = {}
    gate = asyncio.Semaphore(concurrency)
    rng = random.Random(7)  # noqa: S311 - which requests fail, not a secret

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                length = 0
                while (header := await reader.readline()) not in (b"\r\n", b""):
                    name, _, text = header.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(text)
                body = await reader.readexactly(length) if length else b""
                async with gate:
                    if delay:
                        await asyncio.sleep(delay)
                    key = path.removeprefix("/v1/keys/")
                    if rng.random() < error_rate:
                        status, out = 500, b"injected"
                    elif method == "PUT":
                        store[key], status, out = body, 204, b""
                    elif method == "GET":
                        stored = store.get(key)
                        status, out = (200, stored) if stored is not None else (404, b"")
                    elif method == "DELETE":
                        store.pop(key, None)
                        status, out = 204, b""
                    else:
                        status, out = 405, b""
                writer.write(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(out), out))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--delay-ms", type=float, default=0.0)
    p.add_argument("--error-rate", type=float, default=0.0)
    p.add_argument("--concurrency", type=int, default=10_000)
    a = p.parse_args()
    asyncio.run(serve(a.port, a.delay_ms / 1000, a.error_rate, a.concurrency))


if __name__ == "__main__":
    main()

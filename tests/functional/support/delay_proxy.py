"""A TCP proxy on 127.0.0.1 that delivers what the server sends `delay_s` late (in order, nothing
lost): a slow network between a service and its database, on a thread of its own."""

from __future__ import annotations

import asyncio
import threading
import time


class DelayProxy:
    def __init__(self, target_host: str, target_port: int, delay_s: float):
        self.target = (target_host, target_port)
        self.delay_s = delay_s
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    def __enter__(self) -> "DelayProxy":
        self._thread.start()
        assert self._ready.wait(10), "the delay proxy did not start"
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float) -> None:
            queue: asyncio.Queue = asyncio.Queue()

            async def deliver() -> None:
                while True:
                    due, data = await queue.get()
                    if data is None:
                        break
                    wait = due - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    dst.write(data)
                    await dst.drain()
                dst.close()

            sender = asyncio.ensure_future(deliver())
            try:
                while data := await src.read(65536):
                    queue.put_nowait((time.monotonic() + delay, data))
            except (ConnectionError, OSError):
                pass
            queue.put_nowait((0, None))
            try:
                await sender
            except (ConnectionError, OSError):
                pass

        await asyncio.gather(pipe(client_r, server_w, 0), pipe(server_r, client_w, self.delay_s))

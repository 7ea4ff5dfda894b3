"""Run the emulator on its own thread and event loop, so tests with their own loops share one.

A test module starts one :class:`EmulatorThread`; each test runs its client under
``asyncio.run`` and reaches the emulator's state only through :meth:`EmulatorThread.call`, which
executes on the emulator's loop (the engine is not thread-safe).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from tests.kit.emulator.server import Emulator

T = TypeVar("T")


class EmulatorThread:
    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="emulator", daemon=True)
        self.emu: Emulator | None = None

    def start(self) -> EmulatorThread:
        self._thread.start()

        async def boot() -> Emulator:
            return await Emulator(**self._kwargs).start()

        self.emu = asyncio.run_coroutine_threadsafe(boot(), self._loop).result(30)
        return self

    def call(self, fn: Callable[[Emulator], T], timeout: float = 30.0) -> T:
        """``fn(emu)`` on the emulator's loop; a coroutine result is awaited there."""
        assert self.emu is not None, "EmulatorThread.start() first"
        emu = self.emu

        async def run() -> Any:
            result = fn(emu)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        fut: concurrent.futures.Future = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return fut.result(timeout)

    def stop(self) -> None:
        if self.emu is not None:
            asyncio.run_coroutine_threadsafe(self.emu.stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    # conveniences (each a thread-safe call)
    def base_url(self, venue: str) -> str:
        return self.call(lambda e: e.base_url(venue))

    def ws_url(self, venue: str) -> str:
        return self.call(lambda e: e.ws_url(venue))

    def reset(self, venue: str | None = None) -> None:
        self.call(lambda e: e.reset(venue))

"""Run a real ``LiveRunner`` in the test's event loop: the bundled recording through the
replay server and the real feed client, a SimVenue behind the policy guard, a SQLite log in
``tmp_path``, the operator API on a free port."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from titan.app import plan_edge
from titan.config import TitanConfig, config_from_dict
from titan.core.eventlog import read_log
from titan.live import LiveRunner

TOKEN = "op-token-for-tests-9f8e7d"


def make_config(tmp_path: Path, **sections: Any) -> TitanConfig:
    data: dict[str, Any] = {"titan": {"data_dir": str(tmp_path)}, "operator": {"port": 0}}
    for k, v in sections.items():
        data[k] = {**data.get(k, {}), **v} if isinstance(v, dict) else v
    return config_from_dict(data, source="test")


class Session:
    """A LiveRunner started as a task; ``await stop()`` always ends it."""

    def __init__(self, config: TitanConfig, data_dir: Path, *, env: dict[str, str] | None = None,
                 duration_s: float = 0.0, speed: float = 0.0) -> None:
        edge = plan_edge(config, env=env or {}, speed=speed, duration_s=duration_s)
        self.runner = LiveRunner(config, edge, env=env or {}, data_dir=data_dir,
                                 install_signals=False)
        self.task: asyncio.Task | None = None

    async def __aenter__(self) -> Session:
        self.task = asyncio.create_task(self.runner.run())
        ready = asyncio.create_task(self.runner.ready.wait())
        done, _ = await asyncio.wait({ready, self.task}, timeout=60,
                                     return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            raise AssertionError(f"runner did not become ready: exit {self.runner.exit_code} "
                                 f"{self.runner.error}")
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop("test over")

    async def stop(self, reason: str = "test") -> int:
        assert self.task is not None
        if not self.task.done():
            self.runner.request_stop(reason)
        return await asyncio.wait_for(self.task, 60)

    async def finished(self, timeout: float = 60) -> int:
        assert self.task is not None
        return await asyncio.wait_for(asyncio.shield(self.task), timeout)

    async def until(self, predicate, timeout: float = 30.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.02)

    @property
    def url(self) -> str:
        return self.runner.api.url


def entries(data_dir: Path) -> list:
    return [e.msg for e in read_log(data_dir / "titan.sqlite")]

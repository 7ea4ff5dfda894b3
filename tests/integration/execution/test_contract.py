"""The ExecutionClient contract (tests/kit/contract.py) against every client.

CcxtExecutionClient runs the genuine ccxt code against the exchange emulator on 127.0.0.1 (one
emulator for the module, reset before each test); SimExecutionClient runs against a SimVenue.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.kit.contract import CASES, Case, skip_reason
from tests.kit.emulator.runner import EmulatorThread
from tests.kit.harnesses import LIVE, EmulatorHarness

HARNESSES = [*LIVE, "sim-linear", "sim-spot"]


@pytest.fixture(scope="module")
def emulator():
    emu = EmulatorThread().start()
    yield emu
    emu.stop()


def make_harness(name: str, emulator: EmulatorThread):
    if name.startswith("sim"):
        try:
            from tests.kit.harnesses import SimHarness

            return SimHarness(name, spot=name.endswith("spot"))
        except ImportError as e:  # titan.execution.sim is another engineer's work in progress
            pytest.skip(f"SimExecutionClient not importable yet: {e}")
    emulator.reset()
    return EmulatorHarness(name, emulator)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("name", HARNESSES)
def test_contract(name: str, case: Case, emulator: EmulatorThread) -> None:
    h = make_harness(name, emulator)

    async def run() -> None:
        await h.start()
        try:
            reason = skip_reason(case, h)
            if reason:
                pytest.skip(reason)
            await case.fn(h)
        finally:
            await h.stop()

    asyncio.run(run())

"""Shared pytest setup: hypothesis profiles and paths to the bundled test data."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "tests" / "data"
SHARED_DATA = ROOT.parent / "shared" / "data"  # present on developer machines only

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


import logging  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolate_logging():
    """Each test starts from the same logging setup: levels and handlers a test (or an in-process
    CLI call) changes are restored afterwards, so tests cannot depend on their order."""
    root = logging.getLogger()
    titan = logging.getLogger("titan")
    saved = (root.level, list(root.handlers), titan.level, titan.disabled, logging.root.manager.disable)
    yield
    root.setLevel(saved[0])
    for handler in list(root.handlers):
        if handler not in saved[1]:
            root.removeHandler(handler)
    for handler in saved[1]:
        if handler not in root.handlers:
            root.addHandler(handler)
    titan.setLevel(saved[2])
    titan.disabled = saved[3]
    logging.disable(saved[4])

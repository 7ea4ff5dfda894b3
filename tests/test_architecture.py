"""Import rules of ARCHITECTURE.md, enforced by reading the source with ``ast``.

- ``titan.core``, ``titan.brain`` and ``titan.phases`` are synchronous: no aiohttp, ccxt or
  aiosqlite (the one exception is ``titan/core/eventlog.py``, the aiosqlite-backed log).
- ``titan.core`` is the bottom layer: it imports nothing else from ``titan``.
- ``titan.phases`` never imports ``titan.execution`` (phases return intents; they never reach a venue).
- ``native`` imports nothing from ``titan``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASYNC_IO_LIBS = {"aiohttp", "ccxt", "aiosqlite"}
ASYNC_EXCEPTIONS = {"titan/core/eventlog.py"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def py_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("package", ["titan/core", "titan/brain", "titan/phases"])
def test_sync_layers_import_no_async_io(package):
    offenders = []
    for path in py_files(package):
        if rel(path) in ASYNC_EXCEPTIONS:
            continue
        bad = {m for m in imports_of(path) if top(m) in ASYNC_IO_LIBS}
        if bad:
            offenders.append(f"{rel(path)}: {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_core_is_the_bottom_layer():
    offenders = []
    for path in py_files("titan/core"):
        bad = {m for m in imports_of(path)
               if m.startswith("titan.") and not m.startswith("titan.core")}
        if bad:
            offenders.append(f"{rel(path)}: {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_phases_never_import_execution():
    offenders = []
    for path in py_files("titan/phases"):
        bad = {m for m in imports_of(path) if m.startswith("titan.execution")}
        if bad:
            offenders.append(f"{rel(path)}: {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_native_imports_nothing_from_titan():
    offenders = [rel(p) for p in py_files("native") if any(top(m) == "titan" for m in imports_of(p))]
    pattern = re.compile(r"^\s*(from|c?import)\s+titan\b", re.M)
    for pyx in sorted((ROOT / "native").glob("*.py[xd]")):
        if pattern.search(pyx.read_text()):
            offenders.append(rel(pyx))
    assert not offenders, offenders


def test_the_checker_itself_catches_violations(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("import aiohttp\nfrom titan.execution.x import y\n")
    found = imports_of(bad)
    assert "aiohttp" in found and "titan.execution.x" in found

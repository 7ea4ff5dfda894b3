"""The native build: the compiled kernels must be the ones loaded (aiohttp's test_c_parser_loaded)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import native

NO_NATIVE = os.environ.get("TITAN_NO_NATIVE", "") not in ("", "0")


@pytest.mark.skipif(NO_NATIVE, reason="TITAN_NO_NATIVE set: reference kernels requested")
def test_compiled_modules_loaded():
    assert native.KERNELS, "no kernels discovered under native/reference"
    assert native.MISSING == (), f"compiled kernels missing: {native.MISSING}"
    assert native.COMPILED
    for name in native.KERNELS:
        mod = native.loaded(name)
        assert mod.__name__ == f"native._{name}"
        assert mod.__file__.endswith((".so", ".pyd")), mod.__file__


def test_switch_forces_reference():
    code = "import native, sys; sys.exit(0 if (not native.COMPILED and native.FORCED_PURE) else 1)"
    env = dict(os.environ, TITAN_NO_NATIVE="1")
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0
    code = "import native; print(native.average.__name__)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "native.reference.average"


def test_native_imports_nothing_from_titan():
    code = "import sys, native; sys.exit(1 if any(m == 'titan' or m.startswith('titan.') for m in sys.modules) else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0

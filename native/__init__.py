"""Titan's native kernels: Cython where built, the pure-Python reference otherwise.

Each kernel ``NAME`` has a compiled module ``native._NAME`` (from ``native/_NAME.pyx``) and a
small reference twin ``native.reference.NAME`` with the same public API, used as the test
oracle and as the fallback. ``native.NAME`` is whichever one is loaded.

``TITAN_NO_NATIVE=1`` forces the references (and makes ``setup.py`` skip the build).
``COMPILED`` is True only when every kernel loaded its compiled module; a test fails if it is
False while the switch is unset, so a broken build can never fall back silently.

This package imports nothing from ``titan``: kernels take numbers and arrays, never domain
objects.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from types import ModuleType

from native import reference as _reference

FORCED_PURE: bool = os.environ.get("TITAN_NO_NATIVE", "") not in ("", "0")
KERNELS: tuple[str, ...] = tuple(
    sorted(m.name for m in pkgutil.iter_modules(_reference.__path__) if not m.name.startswith("_"))
)

_missing: list[str] = []
_loaded: dict[str, ModuleType] = {}
for _name in KERNELS:
    _module: ModuleType | None = None
    if not FORCED_PURE:
        try:
            _module = importlib.import_module(f"native._{_name}")
        except ImportError:
            _missing.append(_name)
    if _module is None:
        _module = importlib.import_module(f"native.reference.{_name}")
    _loaded[_name] = _module
    globals()[_name] = _module

COMPILED: bool = not FORCED_PURE and not _missing
MISSING: tuple[str, ...] = tuple(_missing)


def implementations(name: str) -> dict[str, ModuleType]:
    """Both twins of kernel ``name`` that can be imported here: {'compiled': ..., 'reference': ...}.

    Tests parametrize over this so the reference and the compiled module are held to the same
    expectations.
    """
    found = {"reference": importlib.import_module(f"native.reference.{name}")}
    try:
        found["compiled"] = importlib.import_module(f"native._{name}")
    except ImportError:
        pass
    return found


def loaded(name: str) -> ModuleType:
    """The module in use for kernel ``name``."""
    return _loaded[name]


del _name, _module

"""Finding phases: the built-in families and user strategies loaded from ``path.py:Class``.

User strategies are plain Python files (``strategies/``). Loading one checks everything that can
be checked before a single tick: the file exists and compiles, the class exists and is a
``Phase``, its ``Params`` accept the configured values. Each problem is one line that names the
file (and line, for syntax errors) and what is wrong.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from titan.core.errors import TitanError
from titan.phases.base import Phase

BUILTINS: dict[str, str] = {
    "scavenger": "titan.phases.scavenger:Scavenger",
    "hunter": "titan.phases.hunter:Hunter",
    "sentinel": "titan.phases.sentinel:Sentinel",
    "ai_quant": "titan.phases.ai_quant:AiQuant",
}


class StrategyError(TitanError):
    """A strategy cannot be loaded or configured. ``str()`` is the one-line report."""


def split_spec(spec: str) -> tuple[str, str]:
    """``"strategies/ema_cross.py:EmaCross"`` -> (path, class name); a bare ``FILE.py`` gives
    an empty class name (the file's one Phase class)."""
    if spec.endswith(".py"):
        return spec, ""
    path, sep, cls = spec.rpartition(":")
    if not sep or not path or not cls:
        raise StrategyError(f"{spec}: expected FILE.py[:Class] or package.module:Class")
    return path, cls


def load_class(spec: str, *, base_dir: Path | None = None) -> type[Phase]:
    """Import the class named by ``spec``: ``file.py:Class`` or ``package.module:Class``."""
    target, cls_name = split_spec(spec)
    if target.endswith(".py"):
        module = _load_file(target, base_dir)
        where = target
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as e:
            raise StrategyError(f"{target}: cannot import ({e})") from None
        where = target
    names = sorted(n for n, v in vars(module).items()
                   if isinstance(v, type) and issubclass(v, Phase) and v is not Phase
                   and v.__module__ == module.__name__)
    if not cls_name:
        if len(names) != 1:
            found = f"found {', '.join(names)}" if names else "found none"
            raise StrategyError(f"{where}: expected exactly one Phase class ({found}); name it as {where}:Class")
        cls_name = names[0]
    cls = getattr(module, cls_name, None)
    if cls is None:
        hint = f" (found: {', '.join(names)})" if names else ""
        raise StrategyError(f"{where}: no class {cls_name!r}{hint}")
    if not (isinstance(cls, type) and issubclass(cls, Phase)):
        raise StrategyError(f"{where}: {cls_name} is not a titan.phases.base.Phase subclass")
    return cls


def _load_file(target: str, base_dir: Path | None) -> Any:
    path = Path(target)
    if not path.is_absolute() and base_dir is not None and not path.exists():
        path = base_dir / path
    if not path.is_file() and path.parts[:1] == ("strategies",):
        path = _shipped_examples() / Path(*path.parts[1:])
    if not path.is_file():
        raise StrategyError(f"{target}: file not found")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    mod_name = f"titan_strategy_{path.stem}_{digest}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    try:
        source = path.read_text()
        code = compile(source, str(path), "exec")
    except SyntaxError as e:
        raise StrategyError(f"{target}:{e.lineno}: syntax error: {e.msg}") from None
    spec = importlib.util.spec_from_file_location(mod_name, path)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    try:
        exec(code, module.__dict__)
    except Exception as e:
        del sys.modules[mod_name]
        line = _error_line(e, str(path))
        raise StrategyError(f"{target}{line}: error while loading: {type(e).__name__}: {e}") from None
    return module


def _shipped_examples() -> Path:
    """The ``strategies/`` folder installed with Titan (the examples), wherever it lives."""
    spec = importlib.util.find_spec("strategies")
    if spec is None or not spec.submodule_search_locations:
        return Path("strategies")
    return Path(next(iter(spec.submodule_search_locations)))


def _error_line(e: BaseException, filename: str) -> str:
    tb = e.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return f":{line}" if line else ""


def build_params(cls: type[Phase], raw: Mapping[str, Any], *, source: str) -> msgspec.Struct:
    """Validate ``raw`` against ``cls.Params``; one-line error naming the parameter."""
    try:
        return msgspec.convert(dict(raw), cls.Params, strict=False)
    except msgspec.ValidationError as e:
        text = str(e)
        msg, _, path = text.partition(" - at `")
        path = path.rstrip("`").replace("$", "params", 1) if path else "params"
        if msg.startswith("Object contains unknown field"):
            field = msg.split("`")[1]
            fields = ", ".join(cls.Params.__struct_fields__) or "none"
            raise StrategyError(f"{source}: params.{field}: unknown parameter (known: {fields})") from None
        raise StrategyError(f"{source}: {path}: {msg[:1].lower() + msg[1:]}") from None


def instantiate(
    spec: str,
    params: Mapping[str, Any] | None = None,
    *,
    name: str = "",
    instruments: Iterable[str] = (),
    timeframe: str = "1m",
    base_dir: Path | None = None,
) -> Phase:
    """Load, validate parameters and construct a phase."""
    cls = load_class(spec, base_dir=base_dir)
    typed = build_params(cls, params or {}, source=split_spec(spec)[0])
    try:
        return cls(typed, name=name or None, instruments=instruments, timeframe=timeframe)
    except Exception as e:
        raise StrategyError(f"{spec}: constructor failed: {type(e).__name__}: {e}") from None


def builtin(name: str) -> type[Phase]:
    if name not in BUILTINS:
        raise StrategyError(f"unknown built-in phase {name!r} (known: {', '.join(BUILTINS)})")
    return load_class(BUILTINS[name])

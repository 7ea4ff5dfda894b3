"""AI Quant's optimiser, run by the daemon: walk-forward searches on the bars it has seen.

Every ``phases.ai_quant.optimize_every_h`` hours the daemon picks its *targets* - each phase
with a search space (Scavenger and Hunter from ``DEFAULT_SPACES``; a user strategy that declares
a ``search_space`` class attribute) on each of its instruments whose recorded history
(``titan.ops.bar_history``) covers one train and one test window - and runs
:func:`titan.phases.ai_quant.optimise` on each in a separate, lower-priority Python process
(``python -m titan.ops.optimiser``), so the event loop only awaits a pipe and nothing that
happens there can touch the trading process.

The outcome is advice, never an action: a suggestion is logged, shown in ``/status`` and raised
as an info ``AlertRaised``; adopting parameters stays the operator's decision. Sentinel is not a
target: its search needs both legs and the funding history (``titan.phases.ai_quant.search``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import math
import os
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from titan.phases.ai_quant.optimise import DEFAULT_SPACES
from titan.phases.base import Phase

MINUTE_NS = 60_000_000_000


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """One search: a phase's parameters on one instrument's recorded candles."""

    owner: str
    strategy: str  # a built-in phase name or FILE.py:Class, as ``optimise`` takes it
    instrument_id: str
    symbol: str
    data: str  # the history file (1m candles)
    baseline: dict[str, Any]
    space: dict[str, list[Any]]
    train: str
    test: str
    metric: str
    fee_bps: float


def search_space(phase: Phase) -> tuple[str, dict[str, list[Any]]] | None:
    """(the strategy as ``optimise`` names it, its grid) or None if it has nothing to search."""
    cls = type(phase)
    declared = getattr(cls, "search_space", None)
    if declared:
        source = inspect.getsourcefile(cls)
        return (f"{source}:{cls.__name__}" if source else f"{cls.__module__}:{cls.__name__}",
                {k: list(v) for k, v in declared.items()})
    if cls.__module__.startswith("titan.phases.") and cls.name in DEFAULT_SPACES \
            and cls.family != "sentinel":
        return cls.name, {k: list(v) for k, v in DEFAULT_SPACES[cls.name].items()}
    return None


def span_minutes(text: str) -> int:
    from titan.backtest.sweeps import parse_span

    return parse_span(text, "optimize span") // MINUTE_NS


def targets(phases: Iterable[Phase], instruments: Mapping[str, Any], history: Any,
            section: Any) -> tuple[list[Target], list[str]]:
    """The searches to run now, and why the others cannot run yet."""
    need = span_minutes(section.optimize_train) + span_minutes(section.optimize_test)
    out: list[Target] = []
    skipped: list[str] = []
    for phase in phases:
        found = search_space(phase)
        if found is None:
            continue
        strategy, space = found
        for iid in phase.instruments:
            inst = instruments.get(iid)
            have = history.bars(iid)
            if inst is None:
                continue
            if have < need:
                skipped.append(f"{phase.owner} on {iid}: {have} of the {need} bars "
                               f"{section.optimize_train} + {section.optimize_test} need")
                continue
            out.append(Target(
                owner=phase.owner, strategy=strategy, instrument_id=iid, symbol=inst.symbol,
                data=str(history.path(iid)), baseline=msgspec.structs.asdict(phase.params),
                space=space, train=section.optimize_train, test=section.optimize_test,
                metric=section.optimize_metric, fee_bps=float(inst.taker_fee) * 1e4))
    return out, skipped


def run_targets(batch: list[Target]) -> list[dict[str, Any]]:
    """In the worker process: one walk-forward search per target, results as plain data."""
    from titan.phases.ai_quant import optimise

    out = []
    for t in batch:
        try:
            s = optimise(t.strategy, t.space, baseline=t.baseline, data=t.data, symbol=t.symbol,
                         train=t.train, test=t.test, metric=t.metric, fee_bps=t.fee_bps,
                         workers=1)
        except Exception as e:  # noqa: BLE001 - one bad search must not hide the others
            out.append({"owner": t.owner, "instrument_id": t.instrument_id,
                        "error": f"{type(e).__name__}: {e}", "pid": os.getpid()})
            continue
        out.append({
            "owner": t.owner, "instrument_id": t.instrument_id, "phase": s.phase,
            "metric": s.metric, "params": s.params, "baseline": s.baseline,
            "changed": {k: v for k, v in s.params.items() if s.baseline.get(k) != v},
            "oos_score": _finite(s.oos_score), "baseline_oos_score": _finite(s.baseline_oos_score),
            "adopt": s.adopt, "folds": len(s.folds), "evaluations": s.evaluations,
            "pid": os.getpid(),
        })
    return out


def describe(r: Mapping[str, Any]) -> str:
    """One line for the log and the alert."""
    where = f"{r['owner']} on {r['instrument_id']}"
    if "error" in r:
        return f"{where}: search failed ({r['error']})"
    score = r["oos_score"]
    base = r["baseline_oos_score"]
    figs = (f"{r['metric']} out of sample {_fmt(score)} vs {_fmt(base)} now, "
            f"{r['folds']} folds, {r['evaluations']} backtests")
    if not r["adopt"]:
        return f"{where}: keep the current parameters ({figs})"
    return f"{where}: suggests {r['changed'] or r['params']} ({figs})"


async def run_in_subprocess(batch: list[Target]) -> list[dict[str, Any]]:
    """:func:`run_targets` in a fresh ``python -m titan.ops.optimiser`` (targets in on stdin,
    results out on stdout, both JSON). The loop only awaits the pipes; cancelling (shutdown)
    kills the process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "titan.ops.optimiser", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await proc.communicate(msgspec.json.encode(batch))
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"optimiser process exited {proc.returncode}: "
                           f"{lines[-1] if lines else 'no output'}")
    return msgspec.json.decode(out)


def main() -> None:
    """The worker process: lower priority than the trading process it serves."""
    with contextlib.suppress(OSError):
        os.nice(10)
    batch = msgspec.json.decode(sys.stdin.buffer.read(), type=list[Target])
    sys.stdout.buffer.write(msgspec.json.encode(run_targets(batch)))


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


if __name__ == "__main__":
    main()

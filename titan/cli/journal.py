"""``titan replay | inspect | explain | dlq``: read the event log and the dead letters.

Everything here reads the SQLite file read-only (the daemon may be running) except ``dlq``,
which updates the dead-letter table. The state is rebuilt by folding the log into a fresh
``ShadowState``, exactly as a restart does (instruments are known by id: contract size 1).
"""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from titan.cli import app, fail

dlq_app = typer.Typer(help="Dead letters: events a handler failed on.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")

LOG_HELP = "Event log (default: state.db_path under titan.data_dir of ./config.toml)"


# ---- helpers ---------------------------------------------------------------------------------


def parse_time_ns(value: str, name: str) -> int:
    """``2025-01-01``, ``2025-01-01T12:00[:00]`` (UTC) or epoch nanoseconds."""
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"{name}: expected a UTC time like 2025-01-01T12:00 or epoch ns, "
                   f"got {value!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def show_time(ts: int) -> str:
    if ts <= 0:
        return "-"
    dt = datetime.fromtimestamp(ts / 1e9, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def default_log() -> Path:
    from titan.cli.check import default_config_path
    from titan.config import load_config, resolve_path
    from titan.core.errors import ConfigError

    try:
        cfg = load_config(default_config_path())
    except ConfigError as e:
        raise fail(str(e)) from None
    return resolve_path(cfg, cfg.state.db_path, Path.cwd())


def entries(path: Path, **bounds: Any) -> list:
    from titan.core.errors import DataError
    from titan.core.eventlog import read_log

    try:
        return list(read_log(path, **bounds))
    except DataError as e:
        raise fail(str(e)) from None


def summary(msg: Any) -> str:
    """One readable line for any message."""
    from titan.core import events as ev

    if isinstance(msg, ev.SubmitOrder):
        price = f" @ {msg.price}" if msg.price is not None else ""
        flags = " reduce-only" if msg.reduce_only else ""
        return (f"{msg.side.value} {msg.quantity} {msg.instrument_id} "
                f"{msg.order_type.value}{price}{flags}")
    if isinstance(msg, ev.OrderFilled):
        return (f"{msg.side.value} {msg.last_qty} @ {msg.last_price} fee {msg.fee} "
                f"{msg.fee_currency} trade {msg.trade_id}")
    if isinstance(msg, ev.OrderAccepted):
        return f"venue order {msg.venue_order_id}"
    if isinstance(msg, ev.OrderApproved | ev.OrderDenied):
        i = msg.intent
        head = f"{i.side.value} {i.quantity} {i.instrument_id} {i.order_type.value}"
        failed = [c for c in msg.checks if not c.passed]
        if isinstance(msg, ev.OrderDenied):
            return f"{head}: DENIED ({msg.reason})"
        return f"{head}: approved, {len(msg.checks)} checks passed" + (
            f", {len(failed)} failed" if failed else "")
    if isinstance(msg, ev.Bar):
        return f"{msg.instrument_id} {msg.timeframe} close {msg.close:g}"
    if isinstance(msg, ev.Trade):
        return f"{msg.instrument_id} {msg.aggressor.value} {msg.size:g} @ {msg.price:g}"
    data = builtins(msg)
    for k in ("type", "ts_event", "ts_init", "client_order_id"):
        data.pop(k, None)
    return " ".join(f"{k}={v}" for k, v in data.items() if v not in ("", None, {}, [], ()))


def builtins(msg: Any) -> Any:
    """JSON-ready dict of a message (money as strings)."""
    import msgspec

    from titan.core import codec

    return msgspec.json.decode(codec.to_json(msg))


def state_lines(state: Any) -> list[str]:
    lines = ["balances:"]
    for (venue, ccy), total in sorted(state.balances().items()):
        lines.append(f"  {venue:<12} {ccy:<8} {total}")
    lines.append("positions (net, then per phase):")
    for p in sorted(state.net_positions(), key=lambda p: p.instrument_id):
        lines.append(f"  {p.instrument_id:<28} {'*':<10} {p.quantity} @ {p.avg_price} "
                     f"realized {p.realized_pnl} fees {p.fees} funding {p.funding}")
    for p in sorted(state.positions(), key=lambda p: (p.instrument_id, p.phase)):
        lines.append(f"  {p.instrument_id:<28} {p.phase:<10} {p.quantity} @ {p.avg_price} "
                     f"realized {p.realized_pnl}")
    lines.append("open orders:")
    for o in sorted(state.open_orders(), key=lambda o: o.client_order_id):
        lines.append(f"  {o.client_order_id} {o.phase} {o.status.value} {o.side.value} "
                     f"{o.filled_qty}/{o.quantity} {o.instrument_id}")
    lines.append(f"equity: {state.equity()}   anomalies: {state.anomaly_count}")
    return lines


def fold(items: list) -> Any:
    from titan.core.state import ShadowState

    state = ShadowState()
    for e in items:
        state.apply(e.msg)
    return state


def bounds(seq: int | None, time_: str | None, seq_name: str, time_name: str) -> dict[str, Any]:
    if seq is not None and time_ is not None:
        raise fail(f"{seq_name} and {time_name}: give one, not both")
    if seq is not None and seq < 0:
        raise fail(f"{seq_name}: must be >= 0, got {seq}")
    return {"until_seq": seq,
            "until_ts": parse_time_ns(time_, time_name) if time_ is not None else None}


# ---- commands --------------------------------------------------------------------------------


@app.command()
def replay(
    log: Path = typer.Argument(..., help="Event log file (SQLite)."),
    until_seq: int = typer.Option(None, "--until-seq", help="Stop after this sequence number."),
    until_time: str = typer.Option(None, "--until-time", help="Stop at this time (UTC or ns)."),
) -> None:
    """Replay a log into a fresh state and print it."""
    items = entries(log, **bounds(until_seq, until_time, "--until-seq", "--until-time"))
    state = fold(items)
    last = items[-1] if items else None
    typer.echo(f"replayed {len(items)} entries"
               + (f" through seq {last.seq} ({show_time(last.ts)})" if last else ""))
    for line in state_lines(state):
        typer.echo(line)


@app.command()
def inspect(
    log: Path = typer.Argument(..., help="Event log file (SQLite)."),
    seq: int = typer.Option(None, "--seq", help="Show the log up to this sequence number."),
    time_: str = typer.Option(None, "--time", help="Show the log up to this time (UTC or ns)."),
    type_: list[str] = typer.Option(None, "--type", help="Only these message types (repeatable)."),
    client_order_id: str = typer.Option(None, "--client-order-id", help="Only this order."),
    phase: str = typer.Option(None, "--phase", help="Only this phase's orders and events."),
    json_out: Path = typer.Option(None, "--json", help="Write the events and state as JSON here."),
    csv_out: Path = typer.Option(None, "--csv", help="Write the events as CSV here."),
) -> None:
    """Show the events (filtered) and the state at a sequence number or time."""
    from titan.core import codec

    items = entries(log, **bounds(seq, time_, "--seq", "--time"))
    known = set(_type_names())
    for t in type_ or ():
        if t not in known:
            raise fail(f"--type: unknown message type {t!r}")
    owner: dict[str, str] = {}
    shown = []
    for e in items:
        cid = getattr(e.msg, "client_order_id", "")
        msg_phase = getattr(e.msg, "phase", "")
        if cid and msg_phase:
            owner.setdefault(cid, msg_phase)
        if type_ and type(e.msg).__name__ not in type_:
            continue
        if client_order_id and cid != client_order_id:
            continue
        if phase and (msg_phase or owner.get(cid, "")) != phase:
            continue
        shown.append(e)
    state = fold(items)
    if json_out is not None:
        doc = {"events": [{"seq": e.seq, "ts": e.ts, "message": builtins(e.msg)}
                          for e in shown],
               "state": state.to_dict(), "through_seq": items[-1].seq if items else 0}
        _write(json_out, codec.to_json(doc))
    if csv_out is not None:
        _write_csv(csv_out, shown, owner)
    for e in shown:
        cid = getattr(e.msg, "client_order_id", "")
        typer.echo(f"{e.seq:>8} {show_time(e.ts)} {type(e.msg).__name__:<22} "
                   f"{cid or '-':<20} {summary(e.msg)}")
    typer.echo(f"-- {len(shown)} of {len(items)} entries; state at seq "
               f"{items[-1].seq if items else 0}:")
    for line in state_lines(state):
        typer.echo(line)


@app.command()
def explain(
    client_order_id: str = typer.Argument(..., help="The order to explain."),
    log: Path = typer.Option(None, "--log", help=LOG_HELP),
) -> None:
    """The chain behind one order: market event -> intent -> checks -> order -> fills."""
    from titan.core import events as ev

    path = log if log is not None else default_log()
    items = entries(path)
    decision_at = next((i for i, e in enumerate(items)
                        if isinstance(e.msg, ev.OrderApproved | ev.OrderDenied)
                        and e.msg.client_order_id == client_order_id), None)
    related = [e for e in items if getattr(e.msg, "client_order_id", "") == client_order_id]
    if decision_at is None and not related:
        raise fail(f"{client_order_id}: no such client order id in {path}")
    if decision_at is not None:
        trigger = next((items[i] for i in range(decision_at - 1, -1, -1)
                        if isinstance(items[i].msg, ev.Data)), None)
        if trigger is not None:
            typer.echo(f"market   {trigger.seq:>8} {show_time(trigger.ts)} "
                       f"{type(trigger.msg).__name__}: {summary(trigger.msg)}")
        decision = items[decision_at].msg
        i = decision.intent
        typer.echo(f"intent   {decision.phase}: {i.side.value} {i.quantity} {i.instrument_id} "
                   f"{i.order_type.value}" + (f" @ {i.price}" if i.price is not None else "")
                   + (f" tag={i.tag}" if i.tag else ""))
        for c in decision.checks:
            typer.echo(f"  check  {'pass' if c.passed else 'FAIL'}  {c.name}"
                       + (f": {c.detail}" if c.detail else ""))
        verdict = ("DENIED: " + decision.reason) if isinstance(decision, ev.OrderDenied) \
            else "approved"
        typer.echo(f"brain    {items[decision_at].seq:>8} {verdict}")
    else:
        typer.echo("intent   (no Brain decision in the log: adopted or external order)")
    for e in related:
        if isinstance(e.msg, ev.OrderApproved | ev.OrderDenied):
            continue
        label = "order" if isinstance(e.msg, ev.Command) else "venue"
        typer.echo(f"{label:<8} {e.seq:>8} {show_time(e.ts)} {type(e.msg).__name__}: "
                   f"{summary(e.msg)}")


@dlq_app.command("list")
def dlq_list(
    log: Path = typer.Option(None, "--log", help=LOG_HELP),
    status: str = typer.Option(None, "--status", help="dead, requeued or replayed"),
) -> None:
    """List dead letters."""
    store = _store(log)
    for d in _letters(store, status):
        typer.echo(f"{d.id:>6} {show_time(d.ts)} {d.status:<9} x{d.attempts} {d.handler} "
                   f"{d.type}: {d.error}")


@dlq_app.command("replay")
def dlq_replay(
    ids: list[int] = typer.Argument(None, help="Dead letter ids (default: all dead ones)."),
    log: Path = typer.Option(None, "--log", help=LOG_HELP),
) -> None:
    """Requeue dead letters: the running daemon hands them to their handlers again."""
    n = _guard(lambda: _store(log).requeue(ids or None))
    typer.echo(f"requeued {n} dead letter(s)")


@dlq_app.command("purge")
def dlq_purge(
    ids: list[int] = typer.Argument(None, help="Dead letter ids (default: all)."),
    log: Path = typer.Option(None, "--log", help=LOG_HELP),
    status: str = typer.Option(None, "--status", help="Only entries with this status."),
) -> None:
    """Delete dead letters."""
    if status is not None:
        _check_status(status)
    n = _guard(lambda: _store(log).purge(ids or None, status))
    typer.echo(f"purged {n} dead letter(s)")


# ---- plumbing --------------------------------------------------------------------------------


def _type_names() -> list[str]:
    from titan.core.codec import message_types

    return [t.__name__ for t in message_types()]


def _store(log: Path | None):
    from titan.core.deadletters import DeadLetterStore

    path = log if log is not None else default_log()
    if not path.is_file():
        raise fail(f"{path}: no such event log")
    return DeadLetterStore(path)


def _check_status(status: str) -> None:
    if status not in ("dead", "requeued", "replayed"):
        raise fail(f"--status: expected dead, requeued or replayed, got {status!r}")


def _letters(store, status):
    if status is not None:
        _check_status(status)
    return _guard(lambda: store.list(status))


def _guard(fn):
    from titan.core.errors import DataError

    try:
        return fn()
    except DataError as e:
        raise fail(str(e)) from None


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as e:
        raise fail(f"{path}: cannot write ({e.strerror})") from None


def _write_csv(path: Path, shown: list, owner: dict[str, str]) -> None:
    try:
        f = sys.stdout if str(path) == "-" else path.open("w", newline="")
    except OSError as e:
        raise fail(f"{path}: cannot write ({e.strerror})") from None
    with f:
        w = csv.writer(f)
        w.writerow(["seq", "ts", "time", "type", "client_order_id", "phase", "summary"])
        for e in shown:
            cid = getattr(e.msg, "client_order_id", "")
            w.writerow([e.seq, e.ts, show_time(e.ts), type(e.msg).__name__, cid,
                        getattr(e.msg, "phase", "") or owner.get(cid, ""), summary(e.msg)])

"""Paper trading on the embedded default: the bundled recording, its instrument, a demo phase.

``titan run`` with no keys replays ``titan/samples/`` - 150 s of real Binance USD-M BTCUSDT
websocket frames (trades, best bid/offer, depth diffs) - through the replay server and the real
feed client. 150 s hold only two one-minute bars, so no bar strategy (``ema_cross``, the built-in
phases, which need hours of bars) can say anything on it. When the config names no strategy, a
paper session (this one, or ``--paper --venue``) therefore trades :class:`TapeMomentum`: a trend
follower on the trade tape (EMAs of trade prices, counted in trades), which makes 14 trades on
the sample - enough to watch the Brain approve, the SimVenue fill and the dashboard move. It is
a demonstration, not an edge.

:func:`recording_instruments` gives the instruments a recording trades, with tick and lot read
from its prices, so the paper run and a backtest of the same file (the parity test) agree.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated

import numpy as np
from msgspec import Meta

from titan.core import events as ev
from titan.core.instruments import Instrument
from titan.indicators import EMA
from titan.phases.base import Params, Phase, Stream

NS = 1_000_000_000
_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "BTC", "ETH")


class TapeMomentumParams(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    fast: Annotated[int, Meta(ge=1, le=100_000)] = 30  # trades
    slow: Annotated[int, Meta(ge=2, le=100_000)] = 120  # trades
    band_bps: Annotated[float, Meta(ge=0, le=1000)] = 0.3  # fast must clear slow by this much
    qty: Annotated[float, Meta(gt=0)] = 0.002
    min_hold_s: Annotated[float, Meta(ge=0)] = 5.0  # market time between two position changes
    short: bool = True


class TapeMomentum(Phase):
    """Long when the fast EMA of trade prices is above the slow one, short (or flat) below."""

    name = "tape_momentum"
    family = "hunter"
    Params = TapeMomentumParams

    def __init__(self, params: TapeMomentumParams | None = None, **kw) -> None:
        super().__init__(params, **kw)
        p: TapeMomentumParams = self.params  # type: ignore[assignment]
        if not p.fast < p.slow:
            raise ValueError(f"need fast < slow, got fast={p.fast}, slow={p.slow}")
        self._fast: dict[str, object] = {}
        self._slow: dict[str, object] = {}
        self._next_ns: dict[str, int] = {}

    def subscriptions(self) -> tuple[Stream, ...]:
        return tuple(Stream(kind="trade", instrument_id=iid) for iid in self.instruments)

    def on_start(self) -> None:
        p: TapeMomentumParams = self.params  # type: ignore[assignment]
        for iid in self.instruments:
            self._fast[iid] = EMA(p.fast)
            self._slow[iid] = EMA(p.slow)
            self._next_ns[iid] = 0

    def on_trade(self, trade: ev.Trade) -> list[ev.OrderIntent] | None:
        iid = trade.instrument_id
        fast_ema, slow_ema = self._fast.get(iid), self._slow.get(iid)
        if fast_ema is None:
            return None
        fast = fast_ema.update(trade.price)  # type: ignore[attr-defined]
        slow = slow_ema.update(trade.price)  # type: ignore[attr-defined]
        if not slow_ema.ready or trade.ts_event < self._next_ns[iid]:  # type: ignore[attr-defined]
            return None
        p: TapeMomentumParams = self.params  # type: ignore[assignment]
        edge = (fast - slow) / slow * 1e4
        if edge > p.band_bps:
            target = p.qty
        elif edge < -p.band_bps:
            target = -p.qty if p.short else 0.0
        else:
            return None
        assert self.ctx is not None
        if any(True for _ in self.ctx.view.open_orders(self.owner, iid)):
            return None  # an order of ours is still working: wait for its outcome
        held = self.position(iid)
        want = self.ctx.instruments[iid].round_qty(repr(target))
        delta = want - held
        if not delta:
            return None
        self._next_ns[iid] = trade.ts_event + int(p.min_hold_s * NS)
        side = ev.Side.BUY if delta > 0 else ev.Side.SELL
        reduce = abs(want) < abs(held) and (want == 0 or (want > 0) == (held > 0))
        return [self.intent(iid, side, abs(delta), reduce_only=reduce,
                            tag="tape_up" if delta > 0 else "tape_down")]


# ---- instruments of a recording ------------------------------------------------------------


def unified_symbol(venue_symbol: str, perpetual: bool) -> str:
    """``BTCUSDT`` -> ``BTC/USDT`` (spot) or ``BTC/USDT:USDT`` (perpetual)."""
    s = venue_symbol.upper()
    for quote in _QUOTES:
        if s.endswith(quote) and len(s) > len(quote):
            base = s[: -len(quote)]
            return f"{base}/{quote}:{quote}" if perpetual else f"{base}/{quote}"
    raise ValueError(f"symbol {venue_symbol!r}: cannot tell base from quote")


def recording_instruments(path: str | Path | list[str | Path], *, fee_bps: float,
                          recording=None) -> tuple[str, list[Instrument]]:
    """(venue, instruments) a raw recording trades. Tick from the decimals of its prices, lot a
    power of ten worth a few dollars (``titan.backtest.market``), fees ``fee_bps``."""
    from titan.backtest.market import sim_instrument
    from titan.feeds.recording import Recording
    from titan.feeds.replay_server import ReplayServer

    paths = path if isinstance(path, list) else [path]
    rec = recording if recording is not None else Recording.load(*paths)
    venue = ReplayServer(rec).venue  # the server's own rule: USD-M if the depth carries "pu"
    perp = venue == "binanceusdm" or (rec.family == "bybit"
                                      and "spot" not in " ".join(rec.sources).lower())
    out: list[Instrument] = []
    for sym in rec.symbols:
        prices = _prices(rec, sym)
        out.append(sim_instrument(unified_symbol(sym, perp), prices=prices, fee_bps=fee_bps,
                                  venue=venue))
    return venue, out


def _prices(rec, symbol: str, limit: int = 2000) -> np.ndarray:
    """Trade prices of ``symbol`` from the first ``limit`` trade frames (for tick and lot)."""
    import orjson

    from titan.feeds.recording import symbol_of

    out: list[float] = []
    frames = (f for f in rec.frames if symbol_of(rec.family, f.key) == symbol
              and ("@trade" in f.key or "@aggTrade" in f.key or f.key.startswith("publicTrade.")))
    for f in itertools.islice(frames, limit):
        msg = orjson.loads(f.text)
        data = msg.get("data")
        rows = data if isinstance(data, list) else [data]
        for row in rows:
            if isinstance(row, dict) and "p" in row:
                out.append(float(row["p"]))
    return np.asarray(out, dtype=np.float64)

"""Hunter: multi-timeframe market structure for mid-sized accounts.

Seed phase 2 ($2,500-$50,000, 3-5x). The bias comes from the higher timeframe (the direction
of the last break of a Williams fractal on ``bias_timeframe`` bars, see ``structure``); entries
come from the lower one: a retest of a fair-value gap or order block (``zones``) in the bias
direction, confirmed by the cumulative volume delta of the trades when a trade stream is
there (``flow``). Setup per symbol (seed 004 section 3):

    IDLE -> WATCH        bias set and an aligned zone within ``watch_atr`` ATR below price
                         (above, for a short)
    WATCH -> CLOSE_WATCH a bar reaches within ``close_watch_atr`` ATR of the zone's edge
    CLOSE_WATCH -> IN_TRADE
                         the flow confirms: a POST-ONLY limit at the zone's edge (a maker
                         order resting under price, waiting for the retest)
    IN_TRADE -> IDLE     flat again (stop, targets) or the entry was refused

The stop sits ``stop_atr`` ATR beyond the zone's far side; half the position (``tp1_fraction``)
is taken at ``tp1_r`` R, the stop then moves to the entry, the rest goes at ``tp2_r`` R. A zone
closed through, the bias flipping, or price running away from the zone (as for a setup being
watched) abandons the setup: an entry still resting is canceled, and one that filled before
its cancel landed (a race with the venue) is closed at once.
Sizes risk ``risk_per_trade`` of the budget; ATR is Wilder's on the entry timeframe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from msgspec import Meta

from titan.core import events as ev
from titan.feeds.bars import timeframe_ns
from titan.indicators import ATR
from titan.phases.base import Params, Stream, bar_stream
from titan.phases.common.bracket import Bracket, Target
from titan.phases.common.desk import Desk
from titan.phases.common.rollup import BarRollup
from titan.phases.common.sizing import risk_qty
from titan.phases.hunter.flow import FlowConfirm
from titan.phases.hunter.structure import StructureBias
from titan.phases.hunter.zones import Zone, ZoneTracker
from titan.phases.setups import SetupBook, SetupMachine, SetupState

if TYPE_CHECKING:
    from titan.config import HunterConfig

Pos = Annotated[float, Meta(gt=0)]
NS_PER_MIN = 60_000_000_000
IDLE, WATCH, CLOSE, TRADE = (SetupState.IDLE, SetupState.WATCH, SetupState.CLOSE_WATCH,
                             SetupState.IN_TRADE)


class HunterParams(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Hunter parameters; distances in ATR of the entry timeframe, targets in R (risk units)."""

    bias_timeframe: str = "1h"
    entry_timeframe: str = "5m"
    fractal_k: Annotated[int, Meta(ge=1, le=20)] = 2  # Williams: 2 bars either side
    ob_swing: Annotated[int, Meta(ge=1, le=20)] = 2  # swing width behind order blocks
    max_zones: Annotated[int, Meta(ge=1, le=256)] = 32
    zone_max_age: Annotated[int, Meta(ge=1, le=10_000)] = 48  # entry bars a zone stays tradable
    min_zone_atr: Annotated[float, Meta(ge=0)] = 0.1  # ignore slivers
    atr_period: Annotated[int, Meta(ge=2, le=500)] = 14
    watch_atr: Pos = 2.0
    close_watch_atr: Pos = 0.5
    stop_atr: Annotated[float, Meta(ge=0)] = 0.25
    tp1_r: Pos = 1.0
    tp1_fraction: Annotated[float, Meta(gt=0, lt=1)] = 0.5
    tp2_r: Pos = 3.0
    risk_per_trade: Annotated[float, Meta(gt=0, le=0.1)] = 0.005
    leverage: Annotated[float, Meta(gt=0, le=125)] = 5.0
    max_fee_share: Annotated[float, Meta(gt=0, le=10)] = 0.25  # round-trip fees / risk
    use_trades: bool = True  # subscribe to trades for the CVD confirmation
    cvd_bars: Annotated[int, Meta(ge=1, le=1000)] = 3
    watch_timeout_min: Pos = 240.0
    close_watch_timeout_min: Pos = 60.0
    retry_min: Annotated[float, Meta(ge=0)] = 30.0  # no new setup after a refused entry (min)
    allow_short: bool = True


@dataclass(slots=True)
class _Symbol:
    bias_rollup: BarRollup
    entry_rollup: BarRollup
    bias: StructureBias
    zones: ZoneTracker
    atr: Any
    flow: FlowConfirm
    last_entry_open: int = 0
    retry_ns: int = 0  # no new setup before this (an entry was refused)


@dataclass(slots=True)
class _Plan:
    zone: Zone
    entry: float
    stop: float
    abandoned: str = ""  # why the setup no longer holds while its entry still rests


class Hunter(Desk):
    name = "hunter"
    family = "hunter"
    Params = HunterParams

    def __init__(self, params: HunterParams | None = None, **kw: Any) -> None:
        super().__init__(params, **kw)
        p: HunterParams = self.params  # type: ignore[assignment]
        base = timeframe_ns(self.timeframe)
        entry, bias = timeframe_ns(p.entry_timeframe), timeframe_ns(p.bias_timeframe)
        if entry % base or bias % entry:
            raise ValueError(f"timeframes must nest: base {self.timeframe}, entry "
                             f"{p.entry_timeframe}, bias {p.bias_timeframe}")
        if not p.tp1_r < p.tp2_r:
            raise ValueError("tp1_r must be < tp2_r")
        if not p.close_watch_atr <= p.watch_atr:
            raise ValueError("close_watch_atr must be <= watch_atr")
        self.setups = SetupBook({WATCH: int(p.watch_timeout_min * NS_PER_MIN),
                                 CLOSE: int(p.close_watch_timeout_min * NS_PER_MIN)})
        self._sym: dict[str, _Symbol] = {}

    @classmethod
    def from_config(cls, section: HunterConfig) -> Hunter:
        from titan.phases.registry import build_params

        params = build_params(cls, section.params, source="phases.hunter")
        tfs = section.timeframes or ["1m"]
        return cls(params, instruments=section.symbols, timeframe=min(tfs, key=timeframe_ns))

    def subscriptions(self) -> tuple[Stream, ...]:
        bars = tuple(bar_stream(iid, self.timeframe) for iid in self.instruments)
        if not self.params.use_trades:  # type: ignore[attr-defined]
            return bars
        return bars + tuple(Stream(kind="trade", instrument_id=iid) for iid in self.instruments)

    # ---- hooks ---------------------------------------------------------------------------------

    def on_start(self) -> None:
        p: HunterParams = self.params  # type: ignore[assignment]
        for iid in self.instruments:
            self._sym[iid] = _Symbol(
                bias_rollup=BarRollup(p.bias_timeframe), entry_rollup=BarRollup(p.entry_timeframe),
                bias=StructureBias(p.fractal_k),
                zones=ZoneTracker(ob_left=p.ob_swing, ob_right=p.ob_swing, max_zones=p.max_zones),
                atr=ATR(p.atr_period), flow=FlowConfirm(p.cvd_bars))

    def on_trade(self, trade: ev.Trade) -> None:
        s = self._sym.get(trade.instrument_id)
        if s is not None:
            s.flow.on_trade(trade)

    def on_bar(self, bar: ev.Bar) -> list[ev.OrderIntent] | None:
        s = self._sym.get(bar.instrument_id)
        if s is None or not bar.closed:
            return None
        for hb in s.bias_rollup.update(bar):
            s.bias.update(hb)
        closed = s.entry_rollup.update(bar)
        for eb in closed:
            s.atr.update(eb.high, eb.low, eb.close)
            s.zones.update(eb.open, eb.high, eb.low, eb.close)
            s.flow.on_bar_close()
            s.last_entry_open = eb.ts_open
        m = self.setups[bar.instrument_id]
        m.expire(bar.ts_event)
        if m.state is TRADE:
            return self._manage(m, bar, s)
        stray = self.stray(bar.instrument_id)
        if stray is not None:
            return [stray]
        if not closed or not s.atr.ready:
            return None
        return self._hunt(m, closed[-1], s)

    def on_order(self, event: ev.Message) -> None:
        if isinstance(event, ev.OrderDenied):
            iid = event.instrument_id
            m = self.setups[iid]
            if m.state is TRADE and "bracket" not in m.data and not self.position(iid):
                now = self.ctx.now_ns() if self.ctx else 0
                self._refused(iid, now)
                m.to(IDLE, now, f"entry denied: {event.reason}")

    def _refused(self, iid: str, now: int) -> None:
        s = self._sym.get(iid)
        if s is not None:
            s.retry_ns = now + int(self.params.retry_min * NS_PER_MIN)  # type: ignore[attr-defined]

    # ---- setups --------------------------------------------------------------------------------

    def _hunt(self, m: SetupMachine, bar: ev.Bar, s: _Symbol) -> list[ev.OrderIntent] | None:
        p: HunterParams = self.params  # type: ignore[assignment]
        atr, now, side = float(s.atr.value), bar.ts_event, s.bias.bias
        iid = bar.instrument_id
        if m.state is not IDLE and (side != m.data["side"]):
            m.to(IDLE, now, "bias changed")
        if m.state is IDLE:
            if side == 0 or (side < 0 and not self._may_short(iid)) or self.working(iid) or (
                    now < s.retry_ns):
                return None
            z = s.zones.best(side, bar.close, min_size=p.min_zone_atr * atr, max_age=p.zone_max_age)
            if z is None or (bar.close - z.edge) * side > p.watch_atr * atr:
                return None
            if not self._affordable(iid, z, atr):
                return None
            m.to(WATCH, now, f"{'bullish' if side > 0 else 'bearish'} bias; {z.kind} "
                         f"{z.bottom:g}-{z.top:g}")
            m.data.update(side=side, zone=z)
        z = m.data["zone"]
        if (bar.close - z.far) * side < 0:
            m.to(IDLE, now, f"{z.kind} closed through")
            return None
        if (bar.close - z.edge) * side > 1.5 * p.watch_atr * atr:
            m.to(IDLE, now, "price left the zone behind")
            return None
        reach = bar.low if side > 0 else bar.high
        if m.state is WATCH and (reach - z.edge) * side <= p.close_watch_atr * atr:
            m.to(CLOSE, now, f"retest within {p.close_watch_atr:g} ATR of {z.edge:g}")
        if m.state is not CLOSE or (bar.close - z.edge) * side <= 0:
            return None  # a limit at the edge must rest beyond the price (post-only)
        if not s.flow.confirms(side, s.last_entry_open):
            return None
        return self._enter(m, bar, s, z, atr)

    def _enter(self, m: SetupMachine, bar: ev.Bar, s: _Symbol, z: Zone, atr: float
               ) -> list[ev.OrderIntent] | None:
        p: HunterParams = self.params  # type: ignore[assignment]
        iid, now, side = bar.instrument_id, bar.ts_event, z.side
        inst = self.ctx.instruments.get(iid)
        order_side = ev.Side.BUY if side > 0 else ev.Side.SELL
        entry = float(inst.round_price(z.edge, order_side)) if inst is not None else z.edge
        stop = z.far - side * p.stop_atr * atr
        qty = risk_qty(budget=self.budget(), risk_fraction=p.risk_per_trade, entry=entry,
                       stop=stop, leverage=p.leverage, instrument=inst)
        if qty <= 0:
            m.to(IDLE, now, "size rounds to zero")
            return None
        m.to(TRADE, now, f"post-only limit {entry:g} on {z.kind} {z.bottom:g}-{z.top:g}; "
                     f"stop {stop:g}; flow {s.flow.delta():+g}")
        m.data["plan"] = _Plan(zone=z, entry=entry, stop=stop)
        return [self.intent(iid, order_side, qty, price=entry, post_only=True,
                            tag=f"entry:{z.kind}")]

    def _manage(self, m: SetupMachine, bar: ev.Bar, s: _Symbol) -> list[Any] | None:
        p: HunterParams = self.params  # type: ignore[assignment]
        iid, now = bar.instrument_id, bar.ts_event
        plan: _Plan = m.data["plan"]
        side = plan.zone.side
        pos, working = self.position(iid), self.working(iid)
        bracket: Bracket | None = m.data.get("bracket")
        if bracket is None:
            if pos == 0:
                if not working:
                    self._refused(iid, now)
                    m.to(IDLE, now, f"entry canceled: {plan.abandoned}" if plan.abandoned
                         else "entry not filled")
                elif not plan.abandoned:
                    if s.bias.bias != side:
                        plan.abandoned = "bias changed"
                    elif (bar.close - plan.zone.far) * side < 0:
                        plan.abandoned = "zone closed through"
                    elif (bar.close - plan.entry) * side > 1.5 * p.watch_atr * float(s.atr.value):
                        plan.abandoned = "price left the zone behind"
                    if plan.abandoned:  # the resting entry no longer has a setup behind it
                        return [self.cancel(o.client_order_id, reason=plan.abandoned)
                                for o in self.open_orders(iid)] or None
                return None
            if plan.abandoned:
                m.data["bracket"] = Bracket(side, plan.entry, plan.stop, [], size=abs(pos))
                return self._exit(iid, 1.0, f"orphan:{plan.abandoned}")
            r = abs(plan.entry - plan.stop)
            bracket = Bracket(side, plan.entry, plan.stop,
                              [Target(plan.entry + side * p.tp1_r * r, p.tp1_fraction, "tp1"),
                               Target(plan.entry + side * p.tp2_r * r, 1.0, "tp2")],
                              size=abs(pos), breakeven_after_first=True)
            m.data["bracket"] = bracket
            m.data["filled_bar"] = bar.ts_event
        if pos == 0 or (pos > 0) != (side > 0):
            if working:
                return None
            m.to(IDLE, now, "position closed")
            return None if pos == 0 else self._exit(iid, 1.0, "stray")
        if working:
            return None
        hit = bracket.check(bar.high, bar.low)
        if hit is None or (hit[0] != "stop" and m.data.get("filled_bar") == bar.ts_event):
            # the limit filled inside this bar: the low came after the fill (a stop may act),
            # the high may have come before it (a target may not)
            return None
        tag, fraction = hit
        if tag != "stop":
            bracket.took_target()
        return self._exit(iid, fraction, tag)

    # ---- helpers -------------------------------------------------------------------------------

    def _exit(self, iid: str, fraction: float, tag: str) -> list[ev.OrderIntent] | None:
        intent = self.reduce(iid, fraction, tag)
        return [intent] if intent is not None else None

    def _affordable(self, iid: str, z: Zone, atr: float) -> bool:
        """Round-trip costs (maker entry, taker exit) within ``max_fee_share`` of the risk."""
        p: HunterParams = self.params  # type: ignore[assignment]
        inst = self.ctx.instruments.get(iid) if self.ctx is not None else None
        if inst is None:
            return True
        risk = abs(z.edge - z.far) + p.stop_atr * atr
        fees = float(inst.maker_fee + inst.taker_fee) * z.edge
        return fees <= p.max_fee_share * risk

    def _may_short(self, iid: str) -> bool:
        if not self.params.allow_short:  # type: ignore[attr-defined]
            return False
        inst = self.ctx.instruments.get(iid) if self.ctx is not None else None
        return inst is None or not inst.is_spot

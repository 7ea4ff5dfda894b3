"""Scavenger: breakout traps on structural levels, for small accounts at high leverage.

Seed phase 1 ($200-$5,000, 15-20x). The idea is Osler's (2005): stops cluster just beyond swing
highs/lows, equal highs/lows, the prior session's range and round numbers; when price breaks
such a level they fire and extend the move. Scavenger keeps a map of those levels (refreshed
on ``level_timeframe`` bars rolled up from the base stream) and, per symbol, a setup machine
(seed 004 section 3):

    IDLE -> WATCH        price within ``watch_atr`` ATR of the nearest level (above: long,
                         below: short)
    WATCH -> CLOSE_WATCH a bar reaches within ``close_watch_atr`` ATR of it
    CLOSE_WATCH -> IN_TRADE
                         a bar *closes* beyond the level by at least ``entry_buffer_atr`` ATR
                         (and not more than ``max_chase_atr``): a market entry on confirmation
    IN_TRADE -> IDLE     the position is closed (stop, target) or the entry never filled

WATCH and CLOSE_WATCH time out. The size risks ``risk_per_trade`` of the budget between entry
and stop (the Brain caps it). Stop and target are watched by the phase and executed as
reduce-only market intents (see ``bracket``). A level just traded is left alone for
``cooldown_min``; a break whose round-trip taker fees exceed ``max_fee_share`` of the risk is
not taken (costs would eat the edge). A position without a setup (held from before a restart)
is closed at once. ATR is Wilder's on the level timeframe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from msgspec import Meta

from titan.core import events as ev
from titan.feeds.bars import timeframe_ns
from titan.indicators import ATR
from titan.phases.base import Params
from titan.phases.common.bracket import Bracket, Target
from titan.phases.common.desk import Desk
from titan.phases.common.rollup import BarRollup
from titan.phases.common.sizing import risk_qty
from titan.phases.scavenger.levels import StructuralLevels
from titan.phases.scavenger.trap import TrapPlan, confirm, gap_atr
from titan.phases.setups import SetupBook, SetupMachine, SetupState

if TYPE_CHECKING:
    from titan.config import ScavengerConfig

Pos = Annotated[float, Meta(gt=0)]
NS_PER_MIN = 60_000_000_000
IDLE, WATCH, CLOSE, TRADE = (SetupState.IDLE, SetupState.WATCH, SetupState.CLOSE_WATCH,
                             SetupState.IN_TRADE)


class ScavengerParams(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Scavenger parameters; distances are in ATR of the level timeframe."""

    level_timeframe: str = "1h"  # levels and ATR are computed on bars of this timeframe
    atr_period: Annotated[int, Meta(ge=2, le=500)] = 14
    swing_left: Annotated[int, Meta(ge=1, le=50)] = 3  # bars a swing must beat on its left
    swing_right: Annotated[int, Meta(ge=1, le=50)] = 3  # ... and on its right (confirmation lag)
    pool_tolerance: Annotated[float, Meta(ge=0, le=0.05)] = 0.001  # equal highs/lows within 0.1 %
    max_levels: Annotated[int, Meta(ge=1, le=256)] = 16  # swings kept per side
    round_divisor: Pos = 2.0  # round numbers every 10^(digits-2) / divisor (BTC 96k: 500)
    watch_atr: Pos = 1.0
    close_watch_atr: Pos = 0.3
    entry_buffer_atr: Annotated[float, Meta(ge=0)] = 0.1
    max_chase_atr: Pos = 0.6
    stop_atr: Pos = 0.5
    reward_risk: Pos = 2.0
    risk_per_trade: Annotated[float, Meta(gt=0, le=0.1)] = 0.01  # of the budget, per trade
    leverage: Annotated[float, Meta(gt=0, le=125)] = 20.0  # notional cap = leverage x budget
    max_fee_share: Annotated[float, Meta(gt=0, le=10)] = 0.25  # round-trip taker fees / risk
    watch_timeout_min: Pos = 240.0
    close_watch_timeout_min: Pos = 60.0
    cooldown_min: Annotated[float, Meta(ge=0)] = 60.0
    allow_short: bool = True  # shorts only on derivatives, never on spot


@dataclass(slots=True)
class _Symbol:
    rollup: BarRollup
    atr: Any
    levels: StructuralLevels
    used: dict[float, int] = field(default_factory=dict)  # level -> cooldown end (ns)


class Scavenger(Desk):
    name = "scavenger"
    family = "scavenger"
    Params = ScavengerParams

    def __init__(self, params: ScavengerParams | None = None, **kw: Any) -> None:
        super().__init__(params, **kw)
        p: ScavengerParams = self.params  # type: ignore[assignment]
        base, level = timeframe_ns(self.timeframe), timeframe_ns(p.level_timeframe)
        if level % base:
            raise ValueError(f"level_timeframe {p.level_timeframe} is not a multiple of the "
                             f"base timeframe {self.timeframe}")
        if not p.close_watch_atr <= p.watch_atr:
            raise ValueError("close_watch_atr must be <= watch_atr")
        if not p.entry_buffer_atr <= p.max_chase_atr:
            raise ValueError("entry_buffer_atr must be <= max_chase_atr")
        self.setups = SetupBook({WATCH: int(p.watch_timeout_min * NS_PER_MIN),
                                 CLOSE: int(p.close_watch_timeout_min * NS_PER_MIN)})
        self._sym: dict[str, _Symbol] = {}

    @classmethod
    def from_config(cls, section: ScavengerConfig) -> Scavenger:
        """The phase as ``[phases.scavenger]`` configures it (the smallest timeframe is the base)."""
        from titan.phases.registry import build_params

        params = build_params(cls, section.params, source="phases.scavenger")
        tfs = section.timeframes or ["1m"]
        return cls(params, instruments=section.symbols, timeframe=min(tfs, key=timeframe_ns))

    # ---- hooks ---------------------------------------------------------------------------------

    def on_start(self) -> None:
        p: ScavengerParams = self.params  # type: ignore[assignment]
        for iid in self.instruments:
            self._sym[iid] = _Symbol(
                rollup=BarRollup(p.level_timeframe), atr=ATR(p.atr_period),
                levels=StructuralLevels(swing_left=p.swing_left, swing_right=p.swing_right,
                                        pool_tolerance=p.pool_tolerance, max_swings=p.max_levels,
                                        round_divisor=p.round_divisor))

    def on_bar(self, bar: ev.Bar) -> list[ev.OrderIntent] | None:
        s = self._sym.get(bar.instrument_id)
        if s is None or not bar.closed:
            return None
        s.levels.on_base_bar(bar)
        for hb in s.rollup.update(bar):
            s.atr.update(hb.high, hb.low, hb.close)
            s.levels.on_level_bar(hb)
        m = self.setups[bar.instrument_id]
        m.expire(bar.ts_event)
        if m.state is TRADE:
            return self._manage(m, bar, s)
        stray = self.stray(bar.instrument_id)
        if stray is not None:
            return [stray]
        if not s.atr.ready:
            return None
        return self._hunt(m, bar, s)

    def on_order(self, event: ev.Message) -> None:
        if isinstance(event, ev.OrderDenied):
            iid = event.instrument_id
            m = self.setups[iid]
            if m.state is TRADE and not m.data.get("bracket") and not self.position(iid):
                now = self.ctx.now_ns() if self.ctx else 0
                s = self._sym.get(iid)
                if s is not None:
                    self._cool(s, m.data["plan"].level, now)
                m.to(IDLE, now, f"entry denied: {event.reason}")

    # ---- setups --------------------------------------------------------------------------------

    def _hunt(self, m: SetupMachine, bar: ev.Bar, s: _Symbol) -> list[ev.OrderIntent] | None:
        p: ScavengerParams = self.params  # type: ignore[assignment]
        atr, now = float(s.atr.value), bar.ts_event
        if m.state is IDLE and not self._arm(m, bar, s, atr):
            return None
        side, level = m.data["side"], m.data["level"]
        if gap_atr(bar.close, level, side, atr) > 1.5 * p.watch_atr:
            m.to(IDLE, now, "price moved away from the level")
            return None
        reach = bar.high if side > 0 else bar.low
        if m.state is WATCH and gap_atr(reach, level, side, atr) <= p.close_watch_atr:
            m.to(CLOSE, now, f"within {p.close_watch_atr:g} ATR of {level:g}")
        if m.state is not CLOSE:
            return None
        plan = confirm(side=side, level=level, kind=m.data["kind"], close=bar.close, atr=atr,
                       entry_buffer_atr=p.entry_buffer_atr, max_chase_atr=p.max_chase_atr,
                       stop_atr=p.stop_atr, reward_risk=p.reward_risk)
        if plan is None:
            if -gap_atr(bar.close, level, side, atr) > p.max_chase_atr:
                self._cool(s, level, now)
                m.to(IDLE, now, "broke the level too far to chase")
            return None
        return self._enter(m, bar, s, plan)

    def _arm(self, m: SetupMachine, bar: ev.Bar, s: _Symbol, atr: float) -> bool:
        p: ScavengerParams = self.params  # type: ignore[assignment]
        best = None
        for side in (1, -1):
            if side < 0 and not self._may_short(bar.instrument_id):
                continue
            lv = s.levels.nearest(bar.close, side)
            if lv is None or self._cooling(s, lv.price, bar.ts_event, atr):
                continue
            gap = gap_atr(bar.close, lv.price, side, atr)
            if gap <= p.watch_atr and (best is None or gap < best[0]):
                best = (gap, side, lv)
        if best is None:
            return False
        gap, side, lv = best
        m.to(WATCH, bar.ts_event, f"{lv.kind} level {lv.price:g} {gap:.2f} ATR "
                              f"{'above' if side > 0 else 'below'}")
        m.data.update(side=side, level=lv.price, kind=lv.kind)
        return True

    def _enter(self, m: SetupMachine, bar: ev.Bar, s: _Symbol, plan: TrapPlan
               ) -> list[ev.OrderIntent] | None:
        p: ScavengerParams = self.params  # type: ignore[assignment]
        iid, now = bar.instrument_id, bar.ts_event
        inst = self.ctx.instruments.get(iid)
        fees = 2.0 * float(inst.taker_fee) * plan.entry if inst is not None else 0.0
        if fees > p.max_fee_share * abs(plan.entry - plan.stop):
            self._cool(s, plan.level, now)
            m.to(IDLE, now, f"risk {abs(plan.entry - plan.stop):g} too small for fees {fees:g}")
            return None
        qty = risk_qty(budget=self.budget(), risk_fraction=p.risk_per_trade, entry=plan.entry,
                       stop=plan.stop, leverage=p.leverage, instrument=inst)
        if qty <= 0:
            self._cool(s, plan.level, now)
            m.to(IDLE, now, "size rounds to zero")
            return None
        m.to(TRADE, now, f"close {bar.close:g} broke {plan.kind} {plan.level:g}; stop {plan.stop:g} "
                     f"target {plan.target:g}")
        m.data["plan"] = plan
        side = ev.Side.BUY if plan.side > 0 else ev.Side.SELL
        return [self.intent(iid, side, qty, tag=f"entry:{plan.kind}")]

    def _manage(self, m: SetupMachine, bar: ev.Bar, s: _Symbol) -> list[ev.OrderIntent] | None:
        iid, now = bar.instrument_id, bar.ts_event
        plan: TrapPlan = m.data["plan"]
        pos = self.position(iid)
        working = self.working(iid)
        bracket: Bracket | None = m.data.get("bracket")
        if bracket is None:
            if pos == 0:
                if not working:
                    self._cool(s, plan.level, now)
                    m.to(IDLE, now, "entry not filled")
                return None
            bracket = Bracket(plan.side, plan.entry, plan.stop, [Target(plan.target, 1.0)],
                              size=abs(pos))
            m.data["bracket"] = bracket
        if pos == 0 or (pos > 0) != (plan.side > 0):
            if working:
                return None
            self._cool(s, plan.level, now)
            m.to(IDLE, now, "position closed")
            return None if pos == 0 else [self.reduce(iid, 1.0, "stray")]
        if working:
            return None  # an exit is still in flight
        hit = bracket.check(bar.high, bar.low)
        if hit is None:
            return None
        tag, fraction = hit
        if tag != "stop":
            bracket.took_target()
        intent = self.reduce(iid, fraction, tag)
        return [intent] if intent is not None else None

    # ---- helpers -------------------------------------------------------------------------------

    def _may_short(self, iid: str) -> bool:
        if not self.params.allow_short:  # type: ignore[attr-defined]
            return False
        inst = self.ctx.instruments.get(iid) if self.ctx is not None else None
        return inst is None or not inst.is_spot

    def _cool(self, s: _Symbol, level: float, now: int) -> None:
        s.used[level] = now + int(self.params.cooldown_min * NS_PER_MIN)  # type: ignore[attr-defined]

    @staticmethod
    def _cooling(s: _Symbol, level: float, now: int, atr: float) -> bool:
        for lv, until in list(s.used.items()):
            if until <= now:
                del s.used[lv]
            elif abs(lv - level) <= 0.05 * atr:
                return True
        return False


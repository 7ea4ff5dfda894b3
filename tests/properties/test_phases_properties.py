"""Invariants of the built-in phases over random markets, through the real kernel, Brain and
SimVenue where orders are involved:

- Sentinel's two legs hold equal base quantities whenever none of its orders is working, and
  every entry asks for equal legs.
- Scavenger never enters while in a trade on the symbol; every exit reduces.
- Hunter's entries are post-only limits resting on the passive side of the market.
- A trap's stop is always on the protective side; a bracket refuses any other.
- AI Quant never returns an intent, and only reports the Brain's regime names.
- Rolled-up bars equal a plain resample; equal legs are equal for any lots.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.phases.builtin_session import T0, bars, run_session
from titan.config import TitanConfig
from titan.core import events as ev
from titan.core.clock import SimClock
from titan.core.instruments import Instrument, InstrumentKind
from titan.phases.ai_quant import AiQuant
from titan.phases.common.bracket import Bracket
from titan.phases.common.rollup import BarRollup
from titan.phases.hunter import Hunter
from titan.phases.runner import PhaseRunner
from titan.phases.scavenger import Scavenger
from titan.phases.scavenger.trap import confirm
from titan.phases.sentinel import Sentinel
from titan.phases.sentinel.legs import base_step, equal_legs
from titan.phases.setups import SetupState

D = Decimal
MIN = 60 * 10**9


def inst(symbol: str, lot: str = "0.001", cs: str = "1") -> Instrument:
    perp = ":" in symbol
    return Instrument(symbol=symbol, venue="sim", base="BTC", quote="USDT",
                      kind=InstrumentKind.PERPETUAL if perp else InstrumentKind.SPOT,
                      settle="USDT" if perp else "", tick_size=D("0.01"), lot_size=D(lot),
                      min_qty=D(lot), contract_size=D(cs), taker_fee=D("0.00055"),
                      maker_fee=D("0.0002"), max_leverage=D(125 if perp else 1))


SPOT, PERP = inst("BTC/USDT"), inst("BTC/USDT:USDT")


def walk(returns: list[float], start: float = 100.0, spread: float = 0.002):
    """OHLC rows of a random walk: each bar moves by its return, with a small range."""
    rows, price = [], start
    for r in returns:
        nxt = max(1.0, price * (1 + r))
        rows.append((price, max(price, nxt) * (1 + spread), min(price, nxt) * (1 - spread), nxt))
        price = nxt
    return rows


moves = st.lists(st.floats(-0.02, 0.02, allow_nan=False), min_size=30, max_size=120)


# ---- Sentinel -------------------------------------------------------------------------------

@settings(max_examples=40)
@given(moves=st.lists(st.tuples(st.floats(-0.01, 0.01), st.floats(-0.003, 0.004),
                                st.floats(-0.0006, 0.001)), min_size=5, max_size=40),
       window=st.integers(1, 3))
def test_sentinel_legs_stay_equal(moves, window):
    rows_s, rows_p, events, price = [], [], [], 100.0
    for i, (r, basis, rate) in enumerate(moves):
        price *= 1 + r
        perp = price * (1 + basis)
        rows_s.append((price, price, price, price))
        rows_p.append((perp, perp, perp, perp))
        if i % 3 == 0:
            ts = T0 + i * MIN + 30 * 10**9
            events.append(ev.FundingRate(instrument_id=PERP.id, rate=rate, ts_event=ts, ts_init=ts))
    events += bars(SPOT.id, rows_s) + bars(PERP.id, rows_p)
    events.sort(key=lambda e: (e.ts_event, getattr(e, "instrument_id", "") != SPOT.id))
    ph = Sentinel(Sentinel.Params(funding_window=window, min_hold_h=0.0, retry_min=0.0),
                  instruments=[PERP.id])
    checked = []

    def observe(s, evt):
        if any(True for _ in s.state.open_orders("sentinel")):
            return
        spot = s.state.position_qty(SPOT.id, "sentinel")
        perp = s.state.position_qty(PERP.id, "sentinel")
        assert spot + perp * PERP.contract_size == 0, (evt, spot, perp)
        checked.append(spot)

    s = run_session([ph], events, [SPOT, PERP], cash=100_000, observe=observe)
    assert checked
    for o in s.submits:
        assert o.tag.split(":")[0] in ("carry", "unwind", "rebalance")
        if o.tag.startswith("unwind"):
            assert o.reduce_only
    by_time: dict[int, dict[str, ev.SubmitOrder]] = {}
    for o in s.submits:
        if o.tag.startswith("carry"):
            by_time.setdefault(o.ts_init, {})[o.instrument_id] = o
    for legs in by_time.values():
        assert legs[SPOT.id].quantity == legs[PERP.id].quantity * PERP.contract_size
        assert (legs[SPOT.id].side, legs[PERP.id].side) == (ev.Side.BUY, ev.Side.SELL)


@given(spot_lot=st.sampled_from(["0.00001", "0.0001", "0.001", "0.0003", "0.01"]),
       perp_lot=st.sampled_from(["0.001", "0.0004", "1", "0.1"]),
       cs=st.sampled_from(["1", "0.01", "0.001", "10"]),
       want=st.decimals(D("0"), D("1000"), places=6))
def test_equal_legs_are_equal_multiples_of_both_lots(spot_lot, perp_lot, cs, want):
    s, p = inst("BTC/USDT", spot_lot), inst("BTC/USDT:USDT", perp_lot, cs)
    q, contracts = equal_legs(want, s, p)
    assert q == contracts * p.contract_size
    assert q <= want and (q > want - base_step(s, p) or q == 0)
    assert q % s.lot_size == 0 and contracts % p.lot_size == 0


# ---- Scavenger and Hunter -------------------------------------------------------------------

SCAV = Scavenger.Params(level_timeframe="5m", atr_period=5, swing_left=2, swing_right=2,
                        cooldown_min=0.0)


@settings(max_examples=40)
@given(returns=moves)
def test_scavenger_never_enters_while_in_a_trade_and_every_exit_reduces(returns):
    ph = Scavenger(SCAV, instruments=[PERP.id], timeframe="1m")
    s = run_session([ph], bars(PERP.id, walk(returns)), [PERP], cash=1_000)
    history = ph.setups[PERP.id].history
    entries = [o for o in s.submits if o.tag.startswith("entry:")]
    starts = [h.ts for h in history if h.new is SetupState.IN_TRADE]
    assert [o.ts_init for o in entries] == starts
    for h, nxt in zip(history, history[1:], strict=False):
        if h.new is SetupState.IN_TRADE:
            assert nxt.old is SetupState.IN_TRADE and nxt.new is SetupState.IDLE
    side = None
    for o in s.submits:
        if o.tag.startswith("entry:"):
            side = o.side
            assert not o.reduce_only
        else:
            assert o.reduce_only and (o.side is not side or o.tag == "emergency")


@settings(max_examples=30)
@given(returns=moves)
def test_hunter_entries_rest_on_the_passive_side(returns):
    params = Hunter.Params(bias_timeframe="5m", entry_timeframe="1m", fractal_k=1, atr_period=3,
                           min_zone_atr=0.0, max_fee_share=10.0, use_trades=False)
    ph = Hunter(params, instruments=[PERP.id], timeframe="1m")
    closes = {}
    rows = bars(PERP.id, walk(returns, spread=0.004))
    for b in rows:
        closes[b.ts_event] = b.close
    s = run_session([ph], rows, [PERP], cash=10_000, fill="ohlc")
    for o in s.submits:
        if o.tag.startswith("entry:"):
            assert o.post_only and o.order_type is ev.OrderType.LIMIT
            c = closes[o.ts_init]
            assert (o.price < D(repr(c))) if o.side is ev.Side.BUY else (o.price > D(repr(c)))
        else:
            assert o.reduce_only


@given(side=st.sampled_from([1, -1]), level=st.floats(1, 1e6), atr_frac=st.floats(1e-4, 0.05),
       beyond=st.floats(0, 1), stop_atr=st.floats(0.01, 3), rr=st.floats(0.1, 10))
def test_every_trap_stop_is_protective(side, level, atr_frac, beyond, stop_atr, rr):
    atr = level * atr_frac
    plan = confirm(side=side, level=level, kind="swing", close=level + side * beyond * atr,
                   atr=atr, entry_buffer_atr=0.1, max_chase_atr=0.6, stop_atr=stop_atr,
                   reward_risk=rr)
    if plan is None:
        assert not 0.1 + 1e-9 < beyond < 0.6 - 1e-9  # float rounding at the very edges
        return
    assert (plan.stop < plan.entry < plan.target) if side > 0 else (plan.stop > plan.entry > plan.target)
    b = Bracket(side, plan.entry, plan.stop)
    assert b.check(plan.stop, plan.stop) == ("stop", 1.0)
    with pytest.raises(ValueError, match="protective side"):
        Bracket(side, plan.entry, plan.entry + side * abs(plan.entry - plan.stop))


# ---- AI Quant ---------------------------------------------------------------------------------

@settings(max_examples=40)
@given(returns=st.lists(st.floats(-0.15, 0.15, allow_nan=False), min_size=1, max_size=400))
def test_ai_quant_never_returns_intents_and_only_names_known_regimes(returns):
    params = AiQuant.Params(regime_timeframe="1h", adx_period=3, vol_short=3, vol_long=6,
                            tail_window=20, crash_lookback=3)
    ph = AiQuant(params, instruments=[SPOT.id], timeframe="1h")
    got = []
    runner = PhaseRunner([ph], emit=got.append, clock=SimClock())
    runner.start()
    for b in bars(SPOT.id, walk(returns), tf="1h"):
        assert runner.on_bar(b) is None
    assert runner.status["ai_quant"] is ev.PhaseStatus.RUNNING
    assert {e.regime for e in ph.published} <= set(TitanConfig().brain.regimes)


# ---- building blocks ---------------------------------------------------------------------------

@given(returns=st.lists(st.floats(-0.01, 0.01), min_size=1, max_size=200),
       gaps=st.lists(st.booleans(), min_size=200, max_size=200), n=st.sampled_from([3, 5, 15, 60]))
def test_rollup_equals_a_plain_resample(returns, gaps, n):
    rows = bars(PERP.id, walk(returns))
    kept = [b for b, g in zip(rows, gaps, strict=False) if not g] or rows[:1]
    roll = BarRollup(f"{n}m")
    out = [x for b in kept for x in roll.update(b)]
    step = n * MIN
    bucket = np.array([b.ts_open // step for b in kept])
    expect = []
    for k in np.unique(bucket):
        grp = [b for b, g in zip(kept, bucket, strict=True) if g == k]
        expect.append((int(k) * step, grp[0].open, max(b.high for b in grp),
                       min(b.low for b in grp), grp[-1].close, sum(b.volume for b in grp)))
    done = expect if kept[-1].ts_event % step == 0 else expect[:-1]  # the last may be open
    assert [(b.ts_open, b.open, b.high, b.low, b.close, b.volume) for b in out] == done
    assert all(b.ts_event == b.ts_open + step and b.timeframe == f"{n}m" for b in out)

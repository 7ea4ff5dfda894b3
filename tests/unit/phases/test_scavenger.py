"""Scavenger: levels, trap geometry, and the whole trade through the real kernel, Brain and
SimVenue - on hand-built bars where every number can be derived by hand, and on real candles."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pytest

from tests.unit.phases.builtin_session import bars, run_session
from titan.core import events as ev
from titan.core.instruments import Instrument, InstrumentKind
from titan.feeds.history import load_bars
from titan.phases.scavenger import Scavenger
from titan.phases.scavenger.levels import StructuralLevels, round_step
from titan.phases.scavenger.trap import confirm, gap_atr
from titan.phases.setups import SetupState

DATA = Path(__file__).resolve().parents[2] / "data" / "phases"
PERP = Instrument(symbol="BTC/USDT:USDT", venue="sim", base="BTC", quote="USDT",
                  kind=InstrumentKind.PERPETUAL, settle="USDT", tick_size=Decimal("0.1"),
                  lot_size=Decimal("0.001"), min_qty=Decimal("0.001"),
                  taker_fee=Decimal("0.00055"), maker_fee=Decimal("0.0002"),
                  max_leverage=Decimal(125))
IID = PERP.id

# Every bar's true range is exactly 10, so ATR(3) is 10 from the 4th bar on; the 4th bar makes
# a swing high at 1010 (1 bar either side), confirmed by the 5th.
WARMUP = [(1000, 1005, 995, 1000)] * 3 + [(1000, 1010, 1000, 1005), (1005, 1005, 995, 1000)]
APPROACH = (1000, 1008, 998, 1005)  # reaches 0.2 ATR from 1010: CLOSE_WATCH
BREAK = (1005, 1015, 1005, 1013)  # closes 0.3 ATR beyond: confirmed, within the chase limit


def small(**kw) -> Scavenger.Params:
    base = dict(level_timeframe="1m", atr_period=3, swing_left=1, swing_right=1,
                round_divisor=0.01, cooldown_min=0.0)  # round numbers every 10,000: none near
    base.update(kw)
    return Scavenger.Params(**base)


def session(rows, *, cash=1000, **kw):
    ph = Scavenger(small(**kw), instruments=[IID], timeframe="1m")
    return ph, run_session([ph], bars(IID, rows), [PERP], cash=cash)


def orders(s):
    return [(o.side, o.order_type, o.quantity, o.reduce_only, o.tag) for o in s.submits]


# ---- levels and geometry --------------------------------------------------------------------

def test_round_step_is_a_tenth_of_the_magnitude_over_the_divisor():
    assert round_step(96_000.0, 2.0) == 500.0
    assert round_step(100_000.0, 2.0) == 5_000.0
    assert round_step(2_500.0, 2.0) == 50.0
    assert math.isnan(round_step(0.0, 2.0))


def test_levels_swings_break_on_close_and_prior_session_rolls_at_utc_midnight():
    lv = StructuralLevels(swing_left=1, swing_right=1, pool_tolerance=0.001, max_swings=8,
                          round_divisor=1.0)
    day = bars(IID, WARMUP)
    for b in day:
        lv.on_base_bar(b)
        lv.on_level_bar(b)
    assert list(lv.highs) == [1010.0] and list(lv.lows) == []
    assert math.isnan(lv.prior_high)  # still the first day
    assert lv.nearest(1000.0, 1).price == 1010.0 and lv.nearest(1000.0, 1).kind == "swing"
    assert lv.nearest(1005.0, -1) == type(lv.nearest(1005.0, -1))(1000.0, "round")
    assert lv.nearest(1000.0, -1) is None  # a level must be strictly beyond the price
    nxt = bars(IID, [(1000, 1012, 999, 1011)], start=day[0].ts_open + 86_400 * 10**9)[0]
    lv.on_base_bar(nxt)
    lv.on_level_bar(nxt)  # closes above 1010: that swing's stops are spent
    assert list(lv.highs) == []
    assert (lv.prior_high, lv.prior_low) == (1010.0, 995.0)  # yesterday's range
    assert lv.nearest(1011.0, -1) == type(lv.nearest(1011.0, -1))(1010.0, "session")


def test_confirm_computes_stop_and_target_and_refuses_to_chase():
    plan = confirm(side=1, level=1010.0, kind="swing", close=1013.0, atr=10.0,
                   entry_buffer_atr=0.1, max_chase_atr=0.6, stop_atr=0.5, reward_risk=2.0)
    assert (plan.entry, plan.stop, plan.target) == (1013.0, 1005.0, 1029.0)
    short = confirm(side=-1, level=990.0, kind="round", close=987.0, atr=10.0,
                    entry_buffer_atr=0.1, max_chase_atr=0.6, stop_atr=0.5, reward_risk=2.0)
    assert (short.stop, short.target) == (995.0, 971.0)
    for close in (1010.5, 1016.5):  # not yet confirmed (< 0.1 ATR), too late (> 0.6 ATR)
        assert confirm(side=1, level=1010.0, kind="swing", close=close, atr=10.0,
                       entry_buffer_atr=0.1, max_chase_atr=0.6, stop_atr=0.5,
                       reward_risk=2.0) is None
    assert gap_atr(1005.0, 1010.0, 1, 10.0) == 0.5


# ---- whole trades through the kernel ----------------------------------------------------------

def test_trap_enters_on_confirmed_break_and_takes_the_target():
    # risk 1 % of 1,000 over entry 1013 - stop 1005 = 8 -> 1.25 BTC; target 1013 + 2 x 8 = 1029
    rows = WARMUP + [APPROACH, BREAK, (1013, 1020, 1010, 1018), (1018, 1030, 1020, 1025),
                     (1025, 1026, 1020, 1022)]
    ph, s = session(rows)
    S, B = ev.Side, ev.OrderType
    assert orders(s) == [(S.BUY, B.MARKET, Decimal("1.25"), False, "entry:swing"),
                         (S.SELL, B.MARKET, Decimal("1.25"), True, "target")]
    path = [(h.old.value, h.new.value) for h in ph.setups[IID].history]
    assert path == [("IDLE", "WATCH"), ("WATCH", "CLOSE_WATCH"), ("CLOSE_WATCH", "IN_TRADE"),
                    ("IN_TRADE", "IDLE")]
    fills = s.fills
    assert [f.last_price for f in fills] == [Decimal("1013"), Decimal("1025")]  # next opens
    fees = sum((f.fee for f in fills), Decimal(0))
    assert s.pnl("scavenger") == Decimal("1.25") * 12 - fees
    assert s.state.position_qty(IID, "scavenger") == 0


def test_size_risks_a_fraction_of_the_phase_budget_not_of_the_account():
    # at 4,000 the Brain gives Scavenger (a $200-$5,000 phase) only part of the equity; at
    # 5,000 nothing: then no entry is sized at all (no order for the Brain to deny)
    rows = WARMUP + [APPROACH, BREAK, (1013, 1020, 1010, 1018)]
    budgets: list[Decimal] = []
    ph = Scavenger(small(), instruments=[IID], timeframe="1m")
    s = run_session([ph], bars(IID, rows), [PERP], cash=4000,
                    observe=lambda sess, _: budgets.append(sess.brain.allocations["scavenger"]))
    (entry, *_) = s.submits
    budget = budgets[len(WARMUP)]  # as the phase saw it when the break bar closed
    assert Decimal(0) < budget < Decimal(4000)
    assert entry.quantity == PERP.round_qty(Decimal("0.01") * budget / 8)  # 1 % over 1013 - 1005
    ph, s = session(rows, cash=5000)
    assert s.brain.allocations["scavenger"] == 0
    assert s.submits == [] and s.denials == []
    assert ph.setups[IID].history[-1].reason == "size rounds to zero"


def test_stop_below_the_broken_level_closes_a_failed_break():
    rows = WARMUP + [APPROACH, BREAK, (1013, 1014, 1004, 1006), (1006, 1008, 1000, 1002)]
    _, s = session(rows)
    assert [(o.side, o.reduce_only, o.tag) for o in s.submits] == [
        (ev.Side.BUY, False, "entry:swing"), (ev.Side.SELL, True, "stop")]
    assert s.pnl("scavenger") < 0


def test_no_entry_when_the_break_runs_too_far_and_the_level_then_cools_down():
    rows = WARMUP + [APPROACH, (1005, 1025, 1005, 1020)]  # 1 ATR beyond: too late
    ph, s = session(rows, cooldown_min=60.0)
    assert s.submits == []
    assert ph.setups[IID].history[-1].reason == "broke the level too far to chase"
    assert ph.setups[IID].state is SetupState.IDLE


def test_watch_times_out():
    quiet = [(1000, 1005, 995, 1000)] * 12
    ph, s = session(WARMUP + quiet, watch_timeout_min=5.0)
    reasons = [h.reason for h in ph.setups[IID].history]
    assert "timeout" in reasons and s.submits == []


def test_fees_larger_than_the_allowed_share_of_the_risk_block_the_trade():
    # round trip 2 x 5.5 bps x 1013 = 1.11 > 0.1 x 8
    _, s = session(WARMUP + [APPROACH, BREAK, (1013, 1020, 1010, 1018)], max_fee_share=0.1)
    assert s.submits == []


def test_spot_is_never_shorted():
    spot = Instrument(symbol="BTC/USDT", venue="sim", base="BTC", quote="USDT",
                      tick_size=Decimal("0.1"), lot_size=Decimal("0.001"))
    # the mirror image of the long trap: a swing low at 1490 breaks with a close at 1487
    down = [(1500, 1505, 1495, 1500)] * 3 + [(1500, 1500, 1490, 1495), (1495, 1505, 1495, 1500),
                                             (1500, 1502, 1492, 1495), (1495, 1495, 1485, 1487),
                                             (1487, 1490, 1480, 1482)]
    for inst, shorts in ((spot, False), (PERP, True)):
        ph = Scavenger(small(), instruments=[inst.id], timeframe="1m")
        s = run_session([ph], bars(inst.id, down), [inst], cash=1000, balances={"BTC": "0"})
        sells = [o for o in s.submits if o.side is ev.Side.SELL and not o.reduce_only]
        assert bool(sells) is shorts


# ---- real candles -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_run():
    series = load_bars(DATA / "binance-usdm_BTCUSDT-PERP_1m_20250504-0511.csv.gz", IID, "1m")
    events = list(series.events())
    ph = Scavenger(instruments=[IID], timeframe="1m")
    return ph, run_session([ph], events, [PERP], cash=1000), events


def test_real_candles_every_entry_starts_a_setup_and_every_exit_reduces(real_run):
    ph, s, _ = real_run
    entries = [o for o in s.submits if o.tag.startswith("entry:")]
    exits = [o for o in s.submits if not o.tag.startswith("entry:")]
    assert entries, "a week of BTC should break some level"
    assert all(o.order_type is ev.OrderType.MARKET and not o.reduce_only for o in entries)
    assert all(o.reduce_only and o.tag in ("stop", "target", "emergency") for o in exits)
    armed = [h.ts for h in ph.setups[IID].history if h.new is SetupState.IN_TRADE]
    assert [o.ts_init for o in entries] == armed  # one entry per setup, none while in a trade


def test_real_candles_run_is_deterministic(real_run):
    _, s, events = real_run
    again = run_session([Scavenger(instruments=[IID], timeframe="1m")], events, [PERP], cash=1000)
    assert [(o.client_order_id, o.side, o.quantity, o.tag) for o in again.submits] == [
        (o.client_order_id, o.side, o.quantity, o.tag) for o in s.submits]
    assert again.pnl("scavenger") == s.pnl("scavenger")


# ---- configuration and restarts ---------------------------------------------------------------

def test_built_from_its_config_section_with_one_line_errors():
    from titan.config import parse_config
    from titan.phases.registry import StrategyError

    cfg = parse_config("""
[phases.scavenger]
symbols = ["BTC/USDT:USDT@bybit"]
timeframes = ["5m", "1m"]
params = { reward_risk = 3, level_timeframe = "15m" }
""")
    ph = Scavenger.from_config(cfg.phases.scavenger)
    assert ph.instruments == ("BTC/USDT:USDT@bybit",) and ph.timeframe == "1m"
    assert (ph.params.reward_risk, ph.params.level_timeframe, ph.params.stop_atr) == (3.0, "15m", 0.5)
    bad = parse_config('[phases.scavenger]\nparams = { reward_risc = 3 }\n')
    with pytest.raises(StrategyError, match=r"phases.scavenger: params.reward_risc: unknown parameter"):
        Scavenger.from_config(bad.phases.scavenger)
    worse = parse_config('[phases.scavenger]\nparams = { risk_per_trade = 0.5 }\n')
    with pytest.raises(StrategyError, match=r"params.risk_per_trade"):
        Scavenger.from_config(worse.phases.scavenger)
    with pytest.raises(ValueError, match="not a multiple"):
        Scavenger(Scavenger.Params(level_timeframe="7m"), instruments=[IID], timeframe="5m")


def test_a_position_held_from_before_a_restart_is_closed_not_left_without_a_stop():
    from titan.core.clock import SimClock
    from titan.core.instruments import InstrumentRegistry
    from titan.core.state import ShadowState
    from titan.phases.base import PhaseContext

    reg = InstrumentRegistry([PERP])
    state = ShadowState(reg)
    state.apply(ev.SubmitOrder(client_order_id="old-1", phase="scavenger", instrument_id=IID,
                               side=ev.Side.BUY, order_type=ev.OrderType.MARKET,
                               quantity=Decimal("0.5"), ts_init=1))
    state.apply(ev.OrderFilled(client_order_id="old-1", venue_order_id="v1", trade_id="t1",
                               instrument_id=IID, side=ev.Side.BUY, last_qty=Decimal("0.5"),
                               last_price=Decimal("1000"), fee=Decimal(0), fee_currency="USDT",
                               liquidity=ev.Liquidity.TAKER, ts_event=1, ts_init=1))
    ph = Scavenger(small(), instruments=[IID], timeframe="1m")
    ph.bind(PhaseContext("scavenger", SimClock(), state, reg))
    ph.on_start()
    (intent,) = ph.on_bar(bars(IID, WARMUP)[0])
    assert (intent.side, intent.quantity, intent.reduce_only, intent.tag) == (
        ev.Side.SELL, Decimal("0.5"), True, "stray")


def test_the_backtest_engine_makes_the_same_decisions_and_the_money_reconciles(real_run):
    from titan.backtest.runner import BacktestRunner
    from titan.backtest.summary import summarise

    _, s, _ = real_run
    series = load_bars(DATA / "binance-usdm_BTCUSDT-PERP_1m_20250504-0511.csv.gz", IID, "1m")
    runner = BacktestRunner([Scavenger(instruments=[IID], timeframe="1m")], [PERP], [series],
                            cash=1_000, fill="next_open")
    result = runner.run()
    assert [(o.side, o.quantity, o.tag, o.ts_init) for o in runner.record.orders.values()] == [
        (o.side, o.quantity, o.tag, o.ts_init) for o in s.submits]
    assert summarise(result).reconciliation.ok

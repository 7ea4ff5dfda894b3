"""Hunter: structure bias, zones, order flow, and whole trades through the real kernel, Brain and
SimVenue on hand-built bars (every price derived by hand) and on real candles and trades."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from tests.unit.phases.builtin_session import bars, run_session
from titan.core import events as ev
from titan.core.instruments import Instrument, InstrumentKind
from titan.feeds.history import load_bars, load_trades
from titan.phases.hunter import Hunter
from titan.phases.hunter.flow import FlowConfirm
from titan.phases.hunter.structure import StructureBias
from titan.phases.hunter.zones import ZoneTracker
from titan.phases.setups import SetupState

DATA = Path(__file__).resolve().parents[2] / "data" / "phases"
PERP = Instrument(symbol="BTC/USDT:USDT", venue="sim", base="BTC", quote="USDT",
                  kind=InstrumentKind.PERPETUAL, settle="USDT", tick_size=Decimal("0.1"),
                  lot_size=Decimal("0.001"), min_qty=Decimal("0.001"),
                  taker_fee=Decimal("0.00055"), maker_fee=Decimal("0.0002"),
                  max_leverage=Decimal(125))
IID = PERP.id

# b1 is a fractal high (105); b4 closes above it: bullish structure. b6's low (109) is above
# b4's high (106): a bullish fair-value gap 106-109. No down candle: no order block.
RALLY = [(100, 102, 98, 100), (100, 105, 99, 104), (101, 104, 100, 103), (103, 104, 101, 103.5),
         (103.5, 106, 103, 106), (106, 112, 104, 111), (111, 115, 109, 114)]


def small(**kw) -> Hunter.Params:
    base = dict(bias_timeframe="1m", entry_timeframe="1m", fractal_k=1, ob_swing=1,
                atr_period=3, min_zone_atr=0.0, stop_atr=0.0, watch_atr=10.0,
                close_watch_atr=10.0, use_trades=False)
    base.update(kw)
    return Hunter.Params(**base)


def session(rows, **kw):
    ph = Hunter(small(**kw), instruments=[IID], timeframe="1m")
    return ph, run_session([ph], bars(IID, rows), [PERP], cash=10_000, fill="ohlc")


# ---- pieces ---------------------------------------------------------------------------------

def test_structure_bias_follows_the_last_fractal_break():
    sb = StructureBias(k=1)
    seen = [sb.update(b) for b in bars(IID, RALLY[:5] + [(106, 107, 99, 99.5)])]
    assert seen == [0, 0, 0, 0, 1, 1]  # the close at 106 breaks the fractal high 105
    # no fractal low has been confirmed yet, so a lower close does not flip it...
    low = bars(IID, [(99.5, 101, 97, 100), (100, 102, 99, 101), (101, 101, 95, 96)],
               start=bars(IID, RALLY)[-1].ts_event)
    assert [sb.update(b) for b in low] == [1, 1, -1]  # ...until 97 is one and 96 breaks it


def test_zone_tracker_picks_the_nearest_aligned_zone_below_price():
    zt = ZoneTracker(ob_left=1, ob_right=1, max_zones=8)
    for o, h, lo, c in RALLY:
        zt.update(o, h, lo, c)
    z = zt.best(1, 114.0, min_size=0.0, max_age=10)
    assert (z.kind, z.bottom, z.top, z.edge, z.far) == ("fvg", 106.0, 109.0, 109.0, 106.0)
    assert zt.best(-1, 114.0, min_size=0.0, max_age=10) is None
    assert zt.best(1, 114.0, min_size=3.5, max_age=10) is None  # the gap is 3 tall
    assert zt.best(1, 108.0, min_size=0.0, max_age=10) is None  # price inside: no retest


def test_flow_delta_is_the_signed_aggressor_volume_of_real_trades():
    series = load_trades(DATA / "binance-usdm_BTCUSDT_trades_20240808T2358.csv.gz", IID)
    trades = list(series.events())
    flow = FlowConfirm(bars=2)
    marks = []
    for i, t in enumerate(trades):
        flow.on_trade(t)
        if i in (999, 1999, 2999):
            flow.on_bar_close()
            marks.append(i)
    signed = series.size * series.side  # numpy, independent of the indicator
    assert flow.delta() == pytest.approx(float(np.sum(signed[1000:3000])), abs=1e-9)
    side = 1 if flow.delta() > 0 else -1
    assert flow.confirms(side, trades[0].ts_event) and not flow.confirms(-side, trades[0].ts_event)
    assert flow.confirms(-side, trades[-1].ts_event + 1)  # no recent trades: nothing to confirm


# ---- whole trades ---------------------------------------------------------------------------

def test_retest_entry_is_a_post_only_limit_and_targets_scale_out():
    # entry 109 (gap top), stop 106 (gap bottom), R = 3: tp1 112 for half, then stop to 109,
    # tp2 118. Size: 0.5 % of 10,000 / 3 = 16.666 BTC (floored to the 0.001 lot).
    rows = RALLY + [(114, 116, 110, 115), (115, 115, 108, 110), (110, 113, 110, 112),
                    (112, 119, 111, 118), (118, 118, 116, 117)]
    ph, s = session(rows)
    S, L, M = ev.Side, ev.OrderType.LIMIT, ev.OrderType.MARKET
    assert [(o.side, o.order_type, o.quantity, o.price, o.post_only, o.reduce_only, o.tag)
            for o in s.submits] == [
        (S.BUY, L, Decimal("16.666"), Decimal("109"), True, False, "entry:fvg"),
        (S.SELL, M, Decimal("8.333"), None, False, True, "tp1"),
        (S.SELL, M, Decimal("8.333"), None, False, True, "tp2")]
    fills = s.fills
    assert [(f.last_price, f.liquidity) for f in fills] == [
        (Decimal("109"), ev.Liquidity.MAKER), (Decimal("112"), ev.Liquidity.TAKER),
        (Decimal("118"), ev.Liquidity.TAKER)]
    fees = sum((f.fee for f in fills), Decimal(0))
    assert s.pnl("hunter") == Decimal("8.333") * 3 + Decimal("8.333") * 9 - fees
    assert ph.setups[IID].state is SetupState.IDLE


def test_after_the_first_target_the_stop_sits_at_the_entry():
    rows = RALLY + [(114, 116, 110, 115), (115, 115, 108, 110), (110, 113, 110, 112),
                    (112, 112, 108.5, 109), (109, 110, 108, 109)]
    _, s = session(rows)
    assert [o.tag for o in s.submits] == ["entry:fvg", "tp1", "stop"]
    assert s.fills[-1].last_price == Decimal("109")  # the breakeven stop, at the next open


def test_an_entry_left_behind_by_a_bias_flip_is_canceled_or_closed_if_it_filled_first():
    # the bias turns bearish on the 4th bar after the entry; the next bar trades down to 109
    rows = RALLY + [(114, 117, 113, 116), (116, 118, 112, 117), (117, 119, 114, 118),
                    (118, 118, 110, 111), (111, 111, 108, 109.5), (109.5, 110, 109, 109.8)]
    ph, s = session(rows)
    (entry,) = s.submits
    cancels = [m for m in s.messages if isinstance(m, ev.CancelOrder)]
    assert [(c.client_order_id, c.reason) for c in cancels] == [(entry.client_order_id, "bias changed")]
    assert s.fills == [] and s.state.position_qty(IID, "hunter") == 0  # canceled before 109 traded
    assert ph.setups[IID].history[-1].reason == "entry canceled: bias changed"
    # with 30 s of order latency the cancel lands after the fill: the orphan is closed at once
    from titan.backtest.runner import BacktestRunner

    ph = Hunter(small(), instruments=[IID], timeframe="1m")
    runner = BacktestRunner([ph], [PERP], [bars(IID, [*rows, (109.8, 110, 109, 109.5)])],
                            cash=10_000, fill="ohlc", latency_ns=30 * 10**9)
    result = runner.run()
    assert [(o.side, o.reduce_only, o.tag) for o in runner.record.orders.values()] == [
        (ev.Side.BUY, False, "entry:fvg"), (ev.Side.SELL, True, "orphan:bias changed")]
    assert result.venue_positions.get(IID, 0) == 0


def test_a_resting_entry_is_canceled_when_price_runs_away_from_the_zone():
    # after the entry rests at 109, price climbs 5 a bar: a watched setup would be dropped
    # once the close is 1.5 x watch_atr ATR past the zone's edge, and so is the resting entry
    rows = RALLY + [(114, 116, 110, 115), (115, 121, 114, 120), (120, 126, 119, 125),
                    (125, 131, 124, 130), (130, 136, 129, 135)]
    ph, s = session(rows, watch_atr=2.0, close_watch_atr=2.0)
    (entry,) = s.submits
    cancels = [m for m in s.messages if isinstance(m, ev.CancelOrder)]
    assert [(c.client_order_id, c.reason) for c in cancels] == [
        (entry.client_order_id, "price left the zone behind")]
    assert s.fills == [] and ph.setups[IID].state is SetupState.IDLE
    atr = float(ph._sym[IID].atr.value)
    assert rows[-1][3] - 109 > 1.5 * 2.0 * atr  # the run-away rule, by the phase's own ATR
    ph, s = session(rows, watch_atr=3.0, close_watch_atr=3.0)  # 4.5 ATR: not yet
    assert len(s.submits) == 1 and not any(isinstance(m, ev.CancelOrder) for m in s.messages)
    assert ph.setups[IID].state is SetupState.IN_TRADE


def test_flow_against_the_setup_blocks_the_entry():
    # the same rally, with real-time trades that are all sellers' during the retest bars
    rows = bars(IID, RALLY)
    sells = [ev.Trade(instrument_id=IID, price=b.close, size=5.0, aggressor=ev.Side.SELL,
                      ts_event=b.ts_event - 1, ts_init=b.ts_event - 1) for b in rows]
    events = sorted([*rows, *sells], key=lambda e: e.ts_event)
    for use, expect in ((True, 0), (False, 1)):
        ph = Hunter(small(use_trades=use), instruments=[IID], timeframe="1m")
        s = run_session([ph], events, [PERP], cash=10_000, fill="ohlc")
        assert len(s.submits) == expect


# ---- real candles ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_run():
    series = load_bars(DATA / "binance-usdm_BTCUSDT-PERP_1m_20250504-0511.csv.gz", IID, "1m")
    events = list(series.events())
    ph = Hunter(instruments=[IID], timeframe="1m")
    return ph, run_session([ph], events, [PERP], cash=10_000, fill="ohlc"), events


def test_real_candles_entries_are_post_only_at_the_zone_and_exits_reduce(real_run):
    ph, s, _ = real_run
    entries = [o for o in s.submits if o.tag.startswith("entry:")]
    assert entries
    assert all(o.post_only and o.order_type is ev.OrderType.LIMIT and not o.reduce_only
               for o in entries)
    assert all(o.reduce_only for o in s.submits if o not in entries)
    armed = [h.ts for h in ph.setups[IID].history if h.new is SetupState.IN_TRADE]
    assert [o.ts_init for o in entries] == armed


def test_real_candles_run_is_deterministic(real_run):
    _, s, events = real_run
    again = run_session([Hunter(instruments=[IID], timeframe="1m")], events, [PERP],
                        cash=10_000, fill="ohlc")
    assert [(o.side, o.quantity, o.price, o.tag) for o in again.submits] == [
        (o.side, o.quantity, o.price, o.tag) for o in s.submits]


def test_the_backtest_engine_makes_the_same_decisions_and_the_money_reconciles(real_run):
    from titan.backtest.runner import BacktestRunner
    from titan.backtest.summary import summarise

    _, s, _ = real_run
    series = load_bars(DATA / "binance-usdm_BTCUSDT-PERP_1m_20250504-0511.csv.gz", IID, "1m")
    runner = BacktestRunner([Hunter(instruments=[IID], timeframe="1m")], [PERP], [series],
                            cash=10_000, fill="ohlc")
    result = runner.run()
    assert [(o.side, o.quantity, o.price, o.tag, o.ts_init) for o in runner.record.orders.values()] \
        == [(o.side, o.quantity, o.price, o.tag, o.ts_init) for o in s.submits]
    assert summarise(result).reconciliation.ok


def test_a_refused_entry_is_not_retried_before_retry_min():
    # the venue's margin (0.1x leverage) cannot carry the order: INSUFFICIENT_FUNDS; then the
    # limit sits more than 500 bps under the mark and the Brain refuses it
    rows = RALLY + [(114, 116, 110, 115)] * 6
    counts = {}
    for retry in (0.0, 30.0):
        ph = Hunter(small(retry_min=retry), instruments=[IID], timeframe="1m")
        s = run_session([ph], bars(IID, rows), [PERP], cash=10_000, fill="ohlc", leverage=0.1)
        rejected = [m for m in s.messages if isinstance(m, ev.OrderRejected)]
        assert rejected[0].kind is ev.ErrorKind.INSUFFICIENT_FUNDS
        counts[retry] = len(s.submits) + len(s.denials)  # later tries: the Brain's price band
    assert counts[30.0] == 1 and counts[0.0] == 6

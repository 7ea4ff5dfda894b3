"""Sentinel: carry arithmetic, equal legs, and the trade through the real kernel, Brain and
SimVenue - on real Bybit and Binance spot/perp data and on hand-built sequences."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tests.unit.phases.builtin_session import T0, bars, run_session
from titan.core import events as ev
from titan.core.clock import SimClock
from titan.core.instruments import Instrument, InstrumentKind, InstrumentRegistry
from titan.core.state import ShadowState
from titan.feeds.history import load_bars, load_funding, load_trades
from titan.feeds.replay import ReplayFeed
from titan.phases.base import PhaseContext
from titan.phases.sentinel import Sentinel
from titan.phases.sentinel.basis import annualised, basis_bps, expected_edge_bps
from titan.phases.sentinel.legs import base_step, equal_legs, spot_of
from titan.phases.setups import SetupState

DATA = Path(__file__).resolve().parents[2] / "data" / "phases"
D = Decimal
H8 = 8 * 3600 * 10**9
MIN = 60 * 10**9


def inst(symbol: str, lot: str = "0.001", cs: str = "1") -> Instrument:
    perp = ":" in symbol
    return Instrument(symbol=symbol, venue="sim", base="BTC", quote="USDT",
                      kind=InstrumentKind.PERPETUAL if perp else InstrumentKind.SPOT,
                      settle="USDT" if perp else "", tick_size=D("0.01"), lot_size=D(lot),
                      min_qty=D(lot), contract_size=D(cs), taker_fee=D("0.00055"),
                      maker_fee=D("0.0002"), max_leverage=D(125 if perp else 1))


SPOT, PERP = inst("BTC/USDT"), inst("BTC/USDT:USDT")


def funding(rate: float, ts: int) -> ev.FundingRate:
    return ev.FundingRate(instrument_id=PERP.id, rate=rate, ts_event=ts, ts_init=ts)


# ---- arithmetic -----------------------------------------------------------------------------

def test_carry_arithmetic_by_hand():
    assert annualised(0.0001, H8) == pytest.approx(0.1095)
    assert basis_bps(100.1, 100.0) == pytest.approx(10.0)
    # 10.95 %/y for 7 days = 21 bps, + 5 bps basis - 22 bps of fees
    assert expected_edge_bps(funding_apr=0.1095, basis=5.0, horizon_days=7.0,
                             round_trip_fees_bps=22.0) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="interval_ns"):
        annualised(0.0001, 0)


def test_legs_are_equal_in_base_units_across_lots_and_contract_sizes():
    assert spot_of("BTC/USDT:USDT@bybit") == "BTC/USDT@bybit"
    with pytest.raises(ValueError, match="not a perpetual"):
        spot_of("BTC/USDT@bybit")
    assert base_step(inst("BTC/USDT", "0.0001"), inst("BTC/USDT:USDT", "0.001")) == D("0.001")
    assert base_step(inst("BTC/USDT", "0.00001"), inst("BTC/USDT:USDT", "1", "0.01")) == D("0.01")
    assert base_step(inst("BTC/USDT", "0.0003"), inst("BTC/USDT:USDT", "0.0004")) == D("0.0012")
    spot_q, contracts = equal_legs(D("0.12345"), inst("BTC/USDT", "0.00001"),
                                   inst("BTC/USDT:USDT", "1", "0.01"))
    assert (spot_q, contracts) == (D("0.12"), D("12"))  # 12 contracts of 0.01 BTC = 0.12 BTC


# ---- hand-built sequences through the kernel -------------------------------------------------

def pair_bars(spot_px: list[float], perp_px: list[float], start: int = T0) -> list[ev.Bar]:
    s = bars(SPOT.id, [(p, p, p, p) for p in spot_px], start=start)
    p = bars(PERP.id, [(x, x, x, x) for x in perp_px], start=start)
    return sorted(s + p, key=lambda b: (b.ts_event, b.instrument_id != SPOT.id))


def test_enters_equal_legs_on_rich_carry_and_unwinds_when_funding_flips():
    # funding 0.03 %/8 h = 32.85 %/y; basis +20 bps; edge over 7 d = 63 + 20 - 22 = 61 bps
    flat = pair_bars([100.0] * 6, [100.2] * 6)
    events = [funding(0.0003, T0 + 30 * 10**9), *flat[:6],
              funding(-0.0001, T0 + 3 * MIN + 30 * 10**9), *flat[6:]]
    ph = Sentinel(Sentinel.Params(funding_window=1), instruments=[PERP.id])
    s = run_session([ph], events, [SPOT, PERP], cash=100_000)
    # 40 % of 100,000 at 100 = 400 BTC on each leg; flip -> both legs closed, reduce-only
    assert [(o.instrument_id, o.side, o.quantity, o.reduce_only, o.tag) for o in s.submits] == [
        (SPOT.id, ev.Side.BUY, D("400"), False, "carry:spot"),
        (PERP.id, ev.Side.SELL, D("400"), False, "carry:perp"),
        (SPOT.id, ev.Side.SELL, D("400"), True, "unwind:spot"),
        (PERP.id, ev.Side.BUY, D("400"), True, "unwind:perp")]
    hist = [(h.old.value, h.new.value) for h in ph.setups[PERP.id].history]
    assert hist == [("IDLE", "WATCH"), ("WATCH", "IN_TRADE"), ("IN_TRADE", "IDLE")]
    assert ph.setups[PERP.id].history[-1].reason.startswith("unwound: funding flipped")


def test_no_entry_when_the_fees_eat_the_carry_or_the_perp_is_at_a_discount():
    for perp_px, rate in ((100.0, 0.0001), (99.9, 0.0003)):  # edge 21 - 22 bps; basis -10
        events = [funding(rate, T0 + 30 * 10**9), *pair_bars([100.0] * 5, [perp_px] * 5)]
        ph = Sentinel(Sentinel.Params(funding_window=1), instruments=[PERP.id])
        s = run_session([ph], events, [SPOT, PERP], cash=100_000)
        assert s.submits == []
        assert ph.setups[PERP.id].state is SetupState.WATCH  # funding alone qualifies


def test_converged_basis_unwinds_only_when_funding_no_longer_pays():
    # enter at +20 bps and 32.85 %/y; the basis then closes to 0 while funding cools to
    # 5.5 %/y (< 10 % to enter, > 0 to hold): after min_hold_h the legs come off
    events = [funding(0.0003, T0 + 30 * 10**9), *pair_bars([100.0] * 3, [100.2] * 3),
              funding(0.00005, T0 + 3 * MIN + 30 * 10**9),
              *pair_bars([100.0] * 3, [100.0] * 3, start=T0 + 3 * MIN),
              *pair_bars([100.0] * 3, [100.0] * 3, start=T0 + 90 * MIN)]
    ph = Sentinel(Sentinel.Params(funding_window=1, min_hold_h=1.0), instruments=[PERP.id])
    s = run_session([ph], events, [SPOT, PERP], cash=100_000)
    unwinds = [o for o in s.submits if o.tag.startswith("unwind")]
    assert len(unwinds) == 2 and min(o.ts_init for o in unwinds) >= T0 + 90 * MIN
    assert "basis converged" in ph.setups[PERP.id].history[-1].reason


# ---- legs out of balance (the state is folded by hand: a partial fill) -------------------------

def bound(spot_qty: str, perp_qty: str) -> tuple[Sentinel, ShadowState]:
    reg = InstrumentRegistry([SPOT, PERP])
    state = ShadowState(reg)
    clock = SimClock(T0)
    ph = Sentinel(Sentinel.Params(funding_window=1), instruments=[PERP.id])
    ph.bind(PhaseContext("sentinel", clock, state, reg))
    ph.on_start()
    for i, (iid, q) in enumerate(((SPOT.id, D(spot_qty)), (PERP.id, D(perp_qty)))):
        if q == 0:
            continue
        side = ev.Side.BUY if q > 0 else ev.Side.SELL
        cid = f"TST-sentinel-{i}"
        state.apply(ev.SubmitOrder(client_order_id=cid, phase="sentinel", instrument_id=iid,
                                   side=side, order_type=ev.OrderType.MARKET, quantity=abs(q),
                                   ts_init=T0))
        state.apply(ev.OrderFilled(client_order_id=cid, venue_order_id=cid, trade_id=cid,
                                   instrument_id=iid, side=side, last_qty=abs(q),
                                   last_price=D(100), fee=D(0), fee_currency="USDT",
                                   liquidity=ev.Liquidity.TAKER, ts_event=T0, ts_init=T0))
    ph.on_funding(funding(0.0003, T0))
    return ph, state


@pytest.mark.parametrize("spot_qty, perp_qty, expect", [
    ("400", "-300", (ev.Side.SELL, D("100"), False)),  # the perp leg part-filled: add to it
    ("300", "-400", (ev.Side.BUY, D("100"), True)),  # the spot leg part-filled: buy back
    ("400", "-396", None),  # 1 % off: within rebalance_pct, left alone
    ("0", "-400", (ev.Side.BUY, D("400"), True)),  # a naked perp: closed
])
def test_rebalance_brings_the_perp_back_to_hedge_the_spot(spot_qty, perp_qty, expect):
    ph, _ = bound(spot_qty, perp_qty)
    out = None
    for b in pair_bars([100.0], [100.2]):
        out = ph.on_bar(b) or out
    m = ph.setups[PERP.id]
    assert m.state is SetupState.IN_TRADE and m.history[-1].reason == "adopted the legs held"
    if expect is None:
        assert out is None
    else:
        (intent,) = out
        assert (intent.instrument_id, intent.side, intent.quantity, intent.reduce_only) == (
            PERP.id, *expect)


# ---- real data --------------------------------------------------------------------------------

def test_real_bybit_day_of_negative_funding_never_enters():
    spot_id, perp_id = "BTC/USDT@sim", "BTC/USDT:USDT@sim"
    spot = load_bars(DATA / "bybit-spot_BTCUSDT_1m_20221213.csv.gz", spot_id, "1m")
    perp = load_bars(DATA / "bybit-linear_BTCUSDT-PERP_1m_20221213.csv.gz", perp_id, "1m")
    fund = load_funding(DATA / "bybit-linear_BTCUSDT-PERP_funding_rate_20221213.csv.gz", perp_id)
    ph = Sentinel(instruments=[perp_id])
    s = run_session([ph], ReplayFeed(fund, spot, perp), [SPOT, PERP], cash=100_000)
    assert s.submits == []
    assert all(h.new is not SetupState.IN_TRADE for h in ph.setups[perp_id].history)
    assert ph._pairs[perp_id].funding.apr < 0  # shorts paid longs all day: no carry to earn


def test_real_binance_trades_enter_equal_legs_and_the_short_collects_funding():
    # thresholds opened up so the real (thin) carry of that night is traded: the test is about
    # the mechanics on real prices - equal legs, and the 00:00 settlement paid to the short
    spot = load_trades(DATA / "binance-spot_BTCUSDT_trades_20240808T2358.csv.gz", SPOT.id)
    perp = load_trades(DATA / "binance-usdm_BTCUSDT_trades_20240808T2358.csv.gz", PERP.id)
    fund = load_funding(DATA / "binance-usdm_BTCUSDT-PERP_funding_rate_20240808.csv.gz", PERP.id)
    params = Sentinel.Params(prices="trade", enter_funding_apr=0.02, enter_basis_bps=-20.0,
                             min_edge_bps=-100.0)
    ph = Sentinel(params, instruments=[PERP.id])
    s = run_session([ph], ReplayFeed(fund, spot, perp), [SPOT, PERP], cash=100_000)
    legs = {o.instrument_id: o for o in s.submits}
    assert [o.tag for o in s.submits] == ["carry:spot", "carry:perp"]
    assert legs[SPOT.id].quantity == legs[PERP.id].quantity > 0
    qty = s.state.position_qty(SPOT.id, "sentinel")
    assert qty == -s.state.position_qty(PERP.id, "sentinel") == legs[SPOT.id].quantity
    paid = [m for m in s.messages if isinstance(m, ev.FundingPaid)]
    assert len(paid) == 1 and paid[0].instrument_id == PERP.id
    assert paid[0].rate == D("0.00004994") and paid[0].amount > 0  # longs pay shorts
    mark = float(paid[0].amount) / (float(qty) * 0.00004994)
    assert 61_000 < mark < 62_500  # paid on the perp's own price that minute


def test_the_backtest_engine_runs_both_legs_with_recorded_funding_and_reconciles():
    from titan.backtest.runner import BacktestRunner
    from titan.backtest.summary import summarise

    spot = load_trades(DATA / "binance-spot_BTCUSDT_trades_20240808T2358.csv.gz", SPOT.id)
    perp = load_trades(DATA / "binance-usdm_BTCUSDT_trades_20240808T2358.csv.gz", PERP.id)
    fund = load_funding(DATA / "binance-usdm_BTCUSDT-PERP_funding_rate_20240808.csv.gz", PERP.id)
    params = Sentinel.Params(prices="trade", enter_funding_apr=0.02, enter_basis_bps=-20.0,
                             min_edge_bps=-100.0)
    ph = Sentinel(params, instruments=[PERP.id])
    runner = BacktestRunner([ph], [SPOT, PERP], [spot, perp, fund], cash=100_000, fill="next_open")
    result = runner.run()
    orders = list(runner.record.orders.values())
    assert [o.tag for o in orders] == ["carry:spot", "carry:perp"]
    assert orders[0].quantity == orders[1].quantity
    assert result.venue_positions[SPOT.id] == -result.venue_positions[PERP.id] == orders[0].quantity
    assert len(result.funding) == 1 and result.funding[0].amount > 0
    assert summarise(result).reconciliation.ok


def test_a_refused_leg_unwinds_the_other_instead_of_holding_it_naked():
    import msgspec

    from titan.config import TitanConfig

    base = TitanConfig()
    config = msgspec.structs.replace(
        base, brain=msgspec.structs.replace(base.brain, max_orders_per_minute=1))
    events = [funding(0.0003, T0 + 30 * 10**9), *pair_bars([100.0] * 6, [100.2] * 6)]
    ph = Sentinel(Sentinel.Params(funding_window=1, retry_min=60.0), instruments=[PERP.id])
    s = run_session([ph], events, [SPOT, PERP], cash=100_000, config=config)
    assert [(d.instrument_id, d.intent.tag) for d in s.denials] == [(PERP.id, "carry:perp")]
    assert [(o.instrument_id, o.tag, o.reduce_only) for o in s.submits] == [
        (SPOT.id, "carry:spot", False), (SPOT.id, "unwind:spot", True)]
    assert s.state.position_qty(SPOT.id, "sentinel") == 0
    assert "a leg was refused" in ph.setups[PERP.id].history[-1].reason

from decimal import Decimal as D

import pytest

from titan.backtest.runner import BacktestRunner
from titan.backtest.spec import BacktestSpec, prepare
from titan.config import config_from_dict
from titan.core.instruments import to_decimal
from titan.phases.base import Phase, Stream

from .world import (
    BYBIT_1M,
    PERP,
    RECORDING,
    SPOT,
    Scripted,
    as_events,
    bars,
    funding,
    instrument,
    run,
)

MIN = 60_000_000_000


def test_bar_close_fills_at_the_signal_bars_close_and_the_clock_is_the_bars_time():
    series = bars(n=300)
    phase = Scripted({5: ("buy", "0.01"), 40: ("close", None), 41: ("sell", "0.02"), 90: ("close", None)},
                     instruments=[series.instrument_id])
    result, summary = run([phase], instrument(), [series])
    assert phase.seen == series.ts_event.tolist()
    got = [(f.side.value, f.last_qty, f.last_price, f.ts_event) for f in result.fills]
    want = [(side, D(q), to_decimal(float(series.close[i])), int(series.ts_event[i]))
            for side, q, i in (("buy", "0.01", 5), ("sell", "0.01", 40), ("sell", "0.02", 41), ("buy", "0.02", 90))]
    assert got == want
    assert [t.side for t in summary.trades] == ["long", "short"] and summary.reconciliation.ok


def test_next_open_waits_for_the_next_bar_and_latency_delays_the_fill():
    series = bars(n=100)
    phase = Scripted({10: ("buy", "0.01")}, instruments=[series.instrument_id])
    result, _ = run([phase], instrument(), [series], fill="next_open")
    (f,) = result.fills
    assert (f.last_price, f.ts_event) == (to_decimal(float(series.open[11])), int(series.ts_event[11]))
    phase = Scripted({10: ("buy", "0.01")}, instruments=[series.instrument_id])
    result, _ = run([phase], instrument(), [series], latency_ns=90_000_000_000)
    (f,) = result.fills
    assert (f.last_price, f.ts_event) == (to_decimal(float(series.close[12])), int(series.ts_event[12]))


def test_the_fast_candle_loop_and_the_general_loop_write_the_same_log():
    series = bars(n=1500)
    script = {i: ("buy", "0.01") if i % 200 == 0 else ("close", None) for i in range(30, 1500, 100)}
    a, _ = run([Scripted(script, instruments=[series.instrument_id])], instrument(), [series])
    b, _ = run([Scripted(script, instruments=[series.instrument_id])], instrument(), [as_events(series)])
    c, _ = run([Scripted(script, instruments=[series.instrument_id])], instrument(), [series])
    assert a.digest == b.digest == c.digest and a.journal_entries == b.journal_entries > 0
    assert [(f.client_order_id, f.last_price) for f in a.fills] == [(f.client_order_id, f.last_price) for f in b.fills]
    d, _ = run([Scripted({**script, 31: ("buy", "0.01")}, instruments=[series.instrument_id])], instrument(), [series])
    assert d.digest != a.digest


class Timed(Phase):
    name = "timed"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.fired: list[tuple[str, int, int]] = []
        self.n = 0

    def on_start(self):
        self.ctx.set_timer("every7", 7 * MIN)

    def on_bar(self, bar):
        self.n += 1
        if self.n == 10:
            self.ctx.set_alert("once", bar.ts_event + 90_000_000_000)  # between two bars
        return None

    def on_timer(self, event):
        self.fired.append((event.name, event.ts_event, self.ctx.now_ns()))
        return None


def test_timers_fire_on_time_in_both_loops():
    series = bars(n=120)
    fast, slow = Timed(instruments=[series.instrument_id]), Timed(instruments=[series.instrument_id])
    a, _ = run([fast], instrument(), [series])
    b, _ = run([slow], instrument(), [as_events(series)])
    assert fast.fired == slow.fired and a.digest == b.digest
    start = int(series.ts_event[0])
    every = [t for name, t, now in fast.fired if name == "every7"]
    assert every == list(range(start + 7 * MIN, int(series.ts_event[-1]) + 1, 7 * MIN))
    assert [(t, now) for name, t, now in fast.fired if name == "once"] == [
        (int(series.ts_event[9]) + 90_000_000_000,) * 2]


def test_perpetual_funding_settles_on_the_position_held_and_reconciles():
    series = bars(BYBIT_1M)
    ts = series.ts_event.tolist()
    rates = funding()
    eight = int(rates.ts_event[1])  # 08:00 UTC settlement
    exit_bar = ts.index(eight + 120 * MIN)
    # the loaded series, and its events as any other stream (settlement records: each rate is
    # paid at its own time, never announced for the next settlement)
    for streams in ([series, rates], [as_events(series), rates], [as_events(series), list(rates.events())]):
        phase = Scripted({0: ("buy", "0.01"), exit_bar: ("close", None)}, instruments=[series.instrument_id])
        result, summary = run([phase], instrument(), streams)
        (paid,) = result.funding
        mark = float(series.close[ts.index(eight - MIN)])  # funding settles before the 08:00 bar
        rate = to_decimal(float(rates.rate[1]))
        assert paid.ts_event == eight and paid.rate == rate
        assert paid.amount == -D("0.01") * to_decimal(mark) * rate
        assert summary.metrics.funding == paid.amount == summary.trades[0].funding
        rec = summary.reconciliation
        assert rec.ok and rec.expected_balances["USDT"] == rec.venue_balances["USDT"]


def test_spot_balances_reconcile_exactly_with_fees():
    series = bars(symbol=SPOT, n=2000)
    script = {i: ("buy", "0.004") if (i // 50) % 2 == 0 else ("sell", "0.002") for i in range(10, 2000, 50)}
    result, summary = run([Scripted(script, instruments=[series.instrument_id])], instrument(SPOT), [series])
    rec = summary.reconciliation
    assert len(result.fills) == len(script) and rec.ok
    assert rec.expected_balances == rec.venue_balances  # BTC and USDT, to the last digit
    assert rec.final_equity == rec.venue_equity == rec.state_equity
    assert summary.metrics.fees == sum(f.fee for f in result.fills) > 0
    assert sum((t.net_pnl for t in summary.trades), D(0)) == summary.metrics.net_pnl


class Greedy(Phase):
    name = "greedy"

    def on_bar(self, bar):
        return [self.buy(bar.instrument_id, "0.001"), self.buy(bar.instrument_id, "0.001")]


def test_brain_denials_are_reported():
    series = bars(n=30)
    config = config_from_dict({"brain": {"max_orders_per_minute": 1}})
    result, summary = run([Greedy(instruments=[series.instrument_id])], instrument(), [series], config=config)
    assert result.counters["denied"] == len(result.denials) == summary.brain["denied"] == 30
    assert summary.brain["denial_reasons"]["order_rate"]["count"] == 30
    assert all(d.phase == "greedy" for d in result.denials)


class TradeFlipper(Phase):
    """Buys on every 1500th trade while flat, closes on the next."""

    name = "flipper"

    def __init__(self, iid: str, **kw):
        super().__init__(**kw)
        self.iid = iid
        self.n = 0

    def subscriptions(self):
        return (Stream(kind="trade", instrument_id=self.iid),)

    def on_trade(self, trade):
        self.n += 1
        if self.n % 1500:
            return None
        return [self.buy(self.iid, "0.01") if self.position(self.iid) == 0 else self.close(self.iid)]


@pytest.mark.parametrize("fill", ["bar_close", "book"])
def test_a_raw_websocket_recording_backtests_deterministically(fill):
    _, inst, streams = prepare(BacktestSpec(strategy="-", data=str(RECORDING), fee_bps=2))
    assert inst.id == "BTC/USDT:USDT@binanceusdm"  # the capture's venue, as the live feed names it
    runs = [run([TradeFlipper(inst.id)], inst, list(streams), fill=fill) for _ in range(2)]
    (a, sa), (b, _) = runs
    assert a.digest == b.digest and len(a.fills) == 3 and sa.reconciliation.ok
    assert a.events == sum(len(s) for s in streams)


def test_bad_runner_input():
    series = bars(n=10)
    other = instrument("ETH/USDT:USDT")
    with pytest.raises(ValueError, match="not among the instruments"):
        BacktestRunner([Greedy(instruments=[series.instrument_id])], [other], [series])
    with pytest.raises(ValueError, match="cash: must be > 0"):
        BacktestRunner([Greedy()], [instrument()], [series], cash=0)
    with pytest.raises(ValueError, match="no market data"):
        BacktestRunner([Greedy()], [instrument()], [])
    assert instrument(PERP).id == series.instrument_id


class Arrivals(TradeFlipper):
    def __init__(self, iid: str, **kw):
        super().__init__(iid, **kw)
        self.clock: list[tuple[int, int]] = []

    def subscriptions(self):
        return (Stream(kind="trade", instrument_id=self.iid), Stream(kind="quote", instrument_id=self.iid))

    def on_trade(self, trade):
        self.clock.append((trade.ts_init, self.ctx.now_ns()))
        return super().on_trade(trade)

    def on_quote(self, quote):
        self.clock.append((quote.ts_init, self.ctx.now_ns()))


def test_arrival_order_replays_a_recording_as_the_live_feed_received_it():
    _, inst, streams = prepare(BacktestSpec(strategy="-", data=str(RECORDING)))
    phase = Arrivals(inst.id)
    result, summary = run([phase], inst, list(streams), arrival=True)
    received = [t for t, _ in phase.clock]
    assert received == sorted(received) and len(received) > 20_000
    assert all(now == t for t, now in phase.clock)  # the clock is the receive time
    assert len(result.fills) == 3 and summary.reconciliation.ok
    by_event, _ = run([Arrivals(inst.id)], inst, list(streams))
    assert by_event.digest != result.digest  # exchange-time order differs from arrival order here

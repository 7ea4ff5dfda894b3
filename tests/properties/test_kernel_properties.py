"""The kernel journals everything that changes money and orders: folding its event log into a
fresh ShadowState gives the state the kernel ended with, for any market path and any intents
(approved, clipped, denied, rejected by the venue, resting and filled later)."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.backtest.world import instrument
from tests.unit.kernel.test_kernel import BTC, World
from titan.core.state import ShadowState
from titan.phases.base import Phase


class Orders(Phase):
    """Sends the scripted intents of each bar (market and limit, buys, sells, closes)."""

    def __init__(self, name: str, script: dict[int, list[tuple]]) -> None:
        super().__init__(name=name, instruments=[BTC.id])
        self.script = script
        self.n = 0

    def on_bar(self, bar):
        self.n += 1
        out = []
        for kind, side, lots, offset in self.script.get(self.n, []):
            if kind == "close":
                out.append(self.close(BTC.id))
                continue
            price = None if kind == "market" else round(bar.close * (1 + offset / 1000), 1)
            out.append(self.intent(BTC.id, side, D(lots) / 1000, price=price))
        return [i for i in out if i is not None]


intent = st.tuples(st.sampled_from(["market", "limit", "close"]), st.sampled_from(["buy", "sell"]),
                   st.integers(1, 400), st.integers(-5, 5))
script = st.dictionaries(st.integers(1, 40), st.lists(intent, max_size=3), max_size=15)


@given(st.lists(st.integers(-30, 30), min_size=5, max_size=40), script, script)
def test_the_journal_folds_into_the_kernels_state(moves, script_a, script_b):
    from titan.core.events import Side

    fix = {"buy": Side.BUY, "sell": Side.SELL}
    a = Orders("alpha", {k: [(x, fix[s], n, o) for x, s, n, o in v] for k, v in script_a.items()})
    b = Orders("beta", {k: [(x, fix[s], n, o) for x, s, n, o in v] for k, v in script_b.items()})
    w = World(a, b)
    price = 30_000.0
    for m in moves:
        price = round(price * (1 + m / 1000), 1)
        w.bar(price)
    folded = ShadowState(w.state.instruments)
    for entry in w.log.entries():
        folded.apply(entry.msg)
    mine, theirs = w.state.to_dict(), folded.to_dict()
    for key in ("balances", "positions", "orders", "open_orders"):
        assert mine[key] == theirs[key], key
    assert w.state.position_qty(BTC.id) == w.venue.position(BTC.id)
    assert instrument().id == BTC.id

"""Brain invariants over random sessions: intents, fills, marks (equity moves), timers, halts.

Every step goes through a real ShadowState and the Brain exactly as the kernel drives them. The
caps are recomputed here from the state and the config (worst case: every working order
filled), independently of the Brain's running sums.
"""

from __future__ import annotations

from decimal import Decimal as D

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.brain.world import BTC, ETH, SEC, SOL, World, intent
from titan.brain.allocator import Allocator
from titan.brain.owners import strategy_owner
from titan.config import PHASE_NAMES, TitanConfig, config_from_dict
from titan.core import events as ev
from titan.core.events import BreakerState

CFG = config_from_dict({
    "brain": {"max_total_leverage": 12},
    "strategies": [{"path": "strategies/ema_cross.py:EmaCross", "phase": "hunter",
                    "max_position_pct": 0.1, "leverage": 4}],
})
STRAT = strategy_owner(CFG.strategies[0])
OWNERS = ("hunter", "scavenger", STRAT)
INSTS = (BTC, ETH, SOL)
TOL = 1e-9

intents = st.tuples(
    st.just("intent"), st.sampled_from(OWNERS), st.sampled_from(INSTS), st.sampled_from(["buy", "sell"]),
    st.sampled_from(["0.001", "0.01", "0.1", "0.5", "2", "30"]),
    st.sampled_from(["market", "market", "limit", "reduce"]), st.integers(-300, 300), st.booleans())
pairs = st.tuples(st.just("pair"), st.sampled_from(INSTS), st.sampled_from(["0.01", "0.1", "1"]),
                  st.sampled_from(["0.01", "0.1", "1"]), st.booleans())
fills = st.tuples(st.just("fill"), st.integers(0, 50), st.sampled_from([1.0, 1.0, 0.5]),
                  st.integers(-50, 50))
marks = st.tuples(st.just("mark"), st.sampled_from(INSTS), st.floats(-0.3, 0.3))
timers = st.tuples(st.just("timer"), st.integers(1, 25))
# weights by repetition: mostly trading, sometimes a settle, rarely an operator halt
action = st.one_of(intents, intents, intents, pairs, fills, fills, fills, marks, marks, marks,
                   timers, st.tuples(st.just("settle")),
                   st.integers(0, 3).map(lambda n: ("halt",) if n == 0 else ("settle",)))
sessions = st.lists(action, min_size=1, max_size=50)


# ---- independent cap arithmetic -----------------------------------------------------------------


def worst(w: World, owner: str, iid: str) -> D:
    q = w.state.position_qty(iid, owner)
    buys = sells = D(0)
    for o in w.state.open_orders(owner, iid):
        if not o.reduce_only:
            if o.side is ev.Side.BUY:
                buys += o.leaves_qty
            else:
                sells += o.leaves_qty
    return max(abs(q + buys), abs(q - sells))


def owners_in(w: World) -> set[str]:
    found = {p.phase for p in w.state.positions()} | {o.phase for o in w.state.open_orders()}
    return found | set(OWNERS)


def exposures(w: World) -> dict[tuple[str, str], float]:
    """Worst-case notional per (owner, instrument)."""
    out = {}
    for owner in owners_in(w):
        for inst in INSTS:
            m = w.state.mark(inst.id) or D(0)
            out[(owner, inst.id)] = float(worst(w, owner, inst.id) * m * inst.contract_size)
    return out


def phase_of(owner: str) -> str:
    return "hunter" if owner == STRAT else owner


def limits(cfg: TitanConfig, owner: str):
    return cfg.strategy_limits(cfg.strategies[0]) if owner == STRAT else cfg.phase_limits(owner)


def caps(w: World, breaker: BreakerState) -> tuple[dict[str, float], dict[str, float], dict[str, float], float]:
    """(position cap per owner, leverage cap per owner, per phase, total) in notional."""
    eq = float(w.state.equity())
    scale = w.brain.allocator.lev_scale
    d = CFG.brain.defensive_size_scale if breaker is BreakerState.DEFENSIVE else 1.0
    pos, own, phase = {}, {}, {}
    for owner in OWNERS:
        lim = limits(CFG, owner)
        budget = w.brain.allocator.shares[phase_of(owner)] * eq
        own[owner] = lim.leverage * scale * d * budget
        pos[owner] = lim.max_position_pct * own[owner]
    for p in ("hunter", "scavenger"):
        phase[p] = CFG.phase_limits(p).leverage * scale * d * w.brain.allocator.shares[p] * eq
    return pos, own, phase, CFG.brain.max_total_leverage * d * eq


def grew(after: float, before: float) -> bool:
    return after > before * (1 + TOL) + 1e-9


def over(x: float, cap: float) -> bool:
    return x > cap * (1 + TOL) + 1e-9


# ---- driving a session ----------------------------------------------------------------------


def filled_now(w: World, out: list[ev.Message], now: bool) -> list[ev.Message]:
    """The venue fills market orders at once (``now``), as a bar-close fill model would."""
    if now:
        for o in [m for m in out if isinstance(m, ev.SubmitOrder)]:
            if o.order_type is ev.OrderType.MARKET:
                w.fill(o)
    return out


def step(w: World, a: tuple) -> list[ev.Message]:
    kind = a[0]
    if kind == "intent":
        _, owner, inst, side, qty, how, band, now = a
        kw = {}
        if how == "limit":
            m = w.state.mark(inst.id)
            kw = {"order_type": ev.OrderType.LIMIT, "price": m * (1 + D(band) / 10_000)}
        elif how == "reduce":
            kw = {"reduce_only": True}
        return filled_now(w, w.decide(intent(owner, inst, side, qty, **kw)), now)
    if kind == "pair":  # opposing intents of two phases in one tick
        _, inst, q1, q2, now = a
        out = w.decide(intent("hunter", inst, "buy", q1), intent("scavenger", inst, "sell", q2))
        return filled_now(w, out, now)
    if kind == "fill":
        _, idx, frac, slip = a
        orders = sorted(w.state.open_orders(), key=lambda o: o.client_order_id)
        if not orders:
            return []
        o = orders[idx % len(orders)]
        inst = w.reg[o.instrument_id]
        qty = inst.round_qty(o.leaves_qty * D(repr(frac))) or o.leaves_qty
        price = o.price if o.price is not None else w.state.mark(o.instrument_id) * (1 + D(slip) / 10_000)
        cmd = ev.SubmitOrder(client_order_id=o.client_order_id, phase=o.phase, instrument_id=o.instrument_id,
                             side=o.side, order_type=o.order_type, quantity=o.leaves_qty, ts_init=w.now)
        return w.fill(cmd, price=str(inst.round_price(price, o.side)), qty=qty, fee="0.01")
    if kind == "mark":
        _, inst, move = a
        return w.mark(inst, float(w.state.mark(inst.id)) * (1 + move), dt=SEC)
    if kind == "timer":
        return w.timer(dt=a[1] * SEC)
    if kind == "settle":
        return w.settle()
    return w.apply(w.brain.halt("property", w.now))


def fresh() -> World:
    return World(CFG, equity=3_536)


@given(sessions)
def test_no_order_breaches_a_cap_and_halted_sends_only_reduce_only(session):
    w = fresh()
    for a in session:
        before = exposures(w)
        state_before = w.brain.breaker
        out = step(w, a)
        orders = [m for m in out if isinstance(m, ev.SubmitOrder)]
        if state_before is BreakerState.HALTED or w.brain.breaker is BreakerState.HALTED:
            assert all(o.reduce_only for o in orders), out
        risky = [o for o in orders if not o.reduce_only]
        if not risky or a[0] not in ("intent", "pair"):
            continue
        after = exposures(w)
        pos, own, phase, total = caps(w, w.brain.breaker)
        for o in risky:
            key = (o.phase, o.instrument_id)
            assert not (over(after[key], pos[o.phase]) and grew(after[key], before.get(key, 0.0))), (
                f"position cap: {o}")
        for owner in {o.phase for o in risky}:
            a_o = sum(v for (ow, _), v in after.items() if ow == owner)
            b_o = sum(v for (ow, _), v in before.items() if ow == owner)
            assert not (over(a_o, own[owner]) and grew(a_o, b_o)), f"{owner} leverage"
        for p in {phase_of(o.phase) for o in risky}:
            a_p = sum(v for (ow, _), v in after.items() if phase_of(ow) == p)
            b_p = sum(v for (ow, _), v in before.items() if phase_of(ow) == p)
            assert not (over(a_p, phase[p]) and grew(a_p, b_p)), f"{p} phase leverage"
        a_t, b_t = sum(after.values()), sum(before.values())
        assert not (over(a_t, total) and grew(a_t, b_t)), "total leverage"


@given(sessions)
def test_the_portfolio_drawdown_rule_always_flattens(session):
    w = fresh()
    peak = float(w.state.equity())
    for a in session:
        step(w, a)
        eq = float(w.state.equity())
        has_risk = any(True for _ in w.state.positions())
        if eq <= peak * (1 - CFG.brain.portfolio_flatten_drawdown) * (1 - 1e-9) and has_risk:
            assert w.brain.emergency, f"equity {eq} vs peak {peak}"
            assert w.brain.breaker is BreakerState.HALTED
            assert any(isinstance(m, ev.EmergencyFlatten) for m in w.log)
            w.settle()  # the venue fills the reduce-only closes and confirms the cancels
            w.timer(dt=SEC)  # what could not close (orders still working) is closed now
            w.settle()
            assert not list(w.state.positions()) and not list(w.state.open_orders())
            return
        peak = max(peak, eq)
        if w.brain.emergency:
            return  # flattened earlier (venue errors cannot happen here; the operator did not)


@settings(max_examples=40)
@given(sessions)
def test_decisions_are_deterministic(session):
    logs = []
    for _ in range(2):
        w = fresh()
        for a in session:
            step(w, a)
        logs.append(msgspec.msgpack.encode(w.log))
    assert logs[0] == logs[1]


@given(st.floats(0, 1e7), st.sampled_from(["", "trending", "ranging", "volatile", "crash"]),
       st.dictionaries(st.sampled_from(["scavenger", "hunter", "sentinel"]), st.floats(-3, 3)),
       st.sets(st.sampled_from(list(PHASE_NAMES))))
def test_allocations_sum_to_at_most_equity_and_stay_in_range(equity, regime, perf, disabled):
    a = Allocator(TitanConfig())
    if regime:
        a.set_regime(regime)
    a.set_performance(perf)
    for p in disabled:
        a.set_enabled(p, False)
    a.update(equity, 0)
    budgets = a.budgets(D(repr(equity)))
    assert sum(budgets.values()) <= D(repr(equity))
    assert budgets["ai_quant"] == 0
    for p, b in budgets.items():
        assert b >= 0
        if b > 0:
            cfg = TitanConfig().phase(p)
            assert cfg.equity_min <= equity and (not cfg.equity_max or equity <= cfg.equity_max)
            assert p not in disabled and a.allowed(p)
    shares = a.shares
    assert sum(shares.values()) <= 1 + 1e-12

"""Execution algorithms: one parent ``OrderIntent`` becomes child intents over time.

A schedule is pure arithmetic - TWAP (equal slices), VWAP (slices in proportion to a volume
profile), Almgren-Chriss (the risk-averse optimal trajectory) - turned into lot-sized ``Decimal``
slices that sum to the parent quantity *exactly*: each slice is the lot-floored cumulative target
minus what earlier slices took, so rounding is carried forward, never lost; slices under the
instrument's minimum are merged into the next one.

:class:`ExecAlgo` releases the slices as child intents when the clock's alert fires
(``start(clock)``, then ``on_timer(evt)`` from the phase's timer hook). Children are ordinary
intents of the parent's phase, so every one still passes the Brain and goes to the same client;
the algo never touches a venue. Given the same inputs it emits the same children.

Almgren-Chriss (Almgren & Chriss, "Optimal execution of portfolio transactions", 2000), discrete
form: with ``N`` intervals of ``tau`` seconds, holdings after interval ``j`` are
``x_j = X sinh(kappa (T - t_j)) / sinh(kappa T)``, where
``cosh(kappa tau) = 1 + tau^2 lambda sigma^2 / (2 eta~)`` and ``eta~ = eta - gamma tau / 2``.
``sigma`` is the price volatility in price units per sqrt(second), ``eta``/``gamma`` the temporary
and permanent impact coefficients, ``lambda`` the risk aversion; ``lambda = 0`` gives TWAP.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import ROUND_FLOOR, Decimal

import msgspec

from titan.core.clock import Clock
from titan.core.events import Bar, OrderIntent, TimeEvent
from titan.core.instruments import to_decimal

NS = 1_000_000_000
DAY_NS = 86_400 * NS
ZERO = Decimal(0)


class Slice(msgspec.Struct, frozen=True, kw_only=True):
    """Release ``quantity`` at ``ts_ns``."""

    ts_ns: int
    quantity: Decimal


# ---- splitting -------------------------------------------------------------------------------


def split(total: Decimal, weights: Sequence[float], lot: Decimal,
          min_qty: Decimal = ZERO) -> list[Decimal]:
    """Lot-sized parts of ``total`` in proportion to ``weights``, summing to ``total`` exactly.

    Part ``i`` is ``floor_lot(total x W_i) - floor_lot(total x W_{i-1})`` (``W`` the cumulative
    weight share), the last part takes what is left; parts below ``min_qty`` are carried into
    the next part (the final carry joins the last non-zero part). Zeros mark skipped slices.
    """
    total = to_decimal(total)
    lot = to_decimal(lot)
    if lot <= 0:
        raise ValueError(f"lot: must be > 0, got {lot}")
    if total <= 0 or total % lot:
        raise ValueError(f"quantity: {total} is not a positive multiple of the lot {lot}")
    if not weights:
        raise ValueError("weights: at least one slice is required")
    ws = [float(w) for w in weights]
    if any(not math.isfinite(w) or w < 0 for w in ws) or sum(ws) <= 0:
        raise ValueError(f"weights: must be finite, >= 0 and not all 0, got {list(weights)}")
    acc, taken, parts = 0.0, ZERO, []
    grand = math.fsum(ws)
    for i, w in enumerate(ws):
        acc += w
        if i == len(ws) - 1:
            target = total
        else:  # 12 places: float noise (0.29999999999999993) must not cost a lot
            share = to_decimal(round(min(acc / grand, 1.0), 12))
            target = ((total * share) / lot).to_integral_value(rounding=ROUND_FLOOR) * lot
        parts.append(max(target - taken, ZERO))
        taken += parts[-1]
    return _merge_small(parts, min_qty)


def _merge_small(parts: list[Decimal], min_qty: Decimal) -> list[Decimal]:
    if not min_qty or min_qty <= 0:
        return parts
    out, carry, last = [], ZERO, -1
    for p in parts:
        carry += p
        if carry >= min_qty:
            out.append(carry)
            last = len(out) - 1
            carry = ZERO
        else:
            out.append(ZERO)
    if carry:
        if last < 0:  # the whole order is below the minimum: one slice, at the end
            out[-1] = carry
        else:
            out[last] += carry
    return out


def _times(start_ns: int, end_ns: int, n: int) -> list[int]:
    if n < 1:
        raise ValueError(f"slices: must be >= 1, got {n}")
    if end_ns <= start_ns:
        raise ValueError(f"end_ns: must be after start_ns ({start_ns}), got {end_ns}")
    step = (end_ns - start_ns) // n
    return [start_ns + i * step for i in range(n)]


def _schedule(times: list[int], parts: list[Decimal]) -> tuple[Slice, ...]:
    return tuple(Slice(ts_ns=t, quantity=q) for t, q in zip(times, parts, strict=True) if q > 0)


# ---- the three schedules ---------------------------------------------------------------------


def twap(total: Decimal, start_ns: int, end_ns: int, slices: int, lot: Decimal,
         min_qty: Decimal = ZERO) -> tuple[Slice, ...]:
    """Equal slices at ``start_ns + i x (end - start) / slices``."""
    times = _times(start_ns, end_ns, slices)
    return _schedule(times, split(total, [1.0] * slices, lot, min_qty))


def vwap(total: Decimal, start_ns: int, end_ns: int, profile: Sequence[float], lot: Decimal,
         min_qty: Decimal = ZERO) -> tuple[Slice, ...]:
    """Slices in proportion to ``profile`` (expected volume per equal time bucket)."""
    times = _times(start_ns, end_ns, len(profile))
    return _schedule(times, split(total, profile, lot, min_qty))


def intraday_profile(bars: Iterable[Bar], start_ns: int, end_ns: int, slices: int) -> list[float]:
    """Expected volume per bucket of the window, from historical bars at the same time of day
    (a bar counts in the bucket its open falls in, on any day)."""
    _times(start_ns, end_ns, slices)  # validates the window
    step = (end_ns - start_ns) // slices
    span = end_ns - start_ns
    if span > DAY_NS:
        raise ValueError(f"end_ns: an intraday profile covers at most one day, got {span} ns")
    out = [0.0] * slices
    origin = start_ns % DAY_NS
    for b in bars:
        offset = (b.ts_open % DAY_NS - origin) % DAY_NS
        if offset < step * slices:
            out[min(offset // step, slices - 1)] += b.volume
    return out


def ac_trajectory(total: float, slices: int, tau_s: float, *, risk_aversion: float,
                  volatility: float, eta: float, gamma: float = 0.0) -> list[float]:
    """Almgren-Chriss holdings ``x_0 = X .. x_N = 0`` (see the module docstring)."""
    if tau_s <= 0:
        raise ValueError(f"tau_s: must be > 0, got {tau_s}")
    eta_t = eta - gamma * tau_s / 2
    if eta <= 0 or eta_t <= 0:
        raise ValueError(f"eta: must exceed gamma * tau / 2 ({gamma * tau_s / 2}), got {eta}")
    if risk_aversion < 0 or volatility < 0:
        raise ValueError("risk_aversion and volatility: must be >= 0")
    c = 1 + tau_s * tau_s * risk_aversion * volatility * volatility / (2 * eta_t)
    kappa = math.acosh(c) / tau_s
    big_t = slices * tau_s
    if kappa * big_t < 1e-9:  # risk neutral: the straight line
        return [total * (1 - j / slices) for j in range(slices + 1)]
    # sinh(k(T - t)) / sinh(kT) = exp(-kt) (1 - exp(-2k(T - t))) / (1 - exp(-2kT)): no overflow
    denom = -math.expm1(-2 * kappa * big_t)
    out = []
    for j in range(slices + 1):
        t = j * tau_s
        out.append(total * math.exp(-kappa * t) * -math.expm1(-2 * kappa * (big_t - t)) / denom)
    return out


def almgren_chriss(total: Decimal, start_ns: int, end_ns: int, slices: int, lot: Decimal, *,
                   risk_aversion: float, volatility: float, eta: float, gamma: float = 0.0,
                   min_qty: Decimal = ZERO) -> tuple[Slice, ...]:
    """Slice ``j`` trades ``x_{j-1} - x_j`` of the trajectory, released at the interval's start."""
    times = _times(start_ns, end_ns, slices)
    tau_s = (end_ns - start_ns) / slices / NS
    x = ac_trajectory(1.0, slices, tau_s, risk_aversion=risk_aversion, volatility=volatility,
                      eta=eta, gamma=gamma)
    trades = [max(x[j - 1] - x[j], 0.0) for j in range(1, slices + 1)]
    return _schedule(times, split(total, trades, lot, min_qty))


# ---- the driver ------------------------------------------------------------------------------


class ExecAlgo:
    """Releases a parent intent's schedule as child intents on the clock's alerts.

    ``start(clock)`` arms an alert named :attr:`timer_name` for the first slice; the phase
    passes every ``TimeEvent`` to :meth:`on_timer`, which returns the children now due (slices
    that fell due together are merged into one child) and re-arms for the next slice.
    """

    def __init__(self, parent: OrderIntent, schedule: Sequence[Slice], *, name: str) -> None:
        if not name:
            raise ValueError("name: must not be empty")
        total = sum((s.quantity for s in schedule), ZERO)
        if total != parent.quantity:
            raise ValueError(f"schedule: sums to {total}, the parent wants {parent.quantity}")
        if any(b.ts_ns < a.ts_ns for a, b in zip(schedule, schedule[1:], strict=False)):
            raise ValueError("schedule: slice times must not go backwards")
        self.parent = parent
        self.schedule = tuple(schedule)
        self.name = name
        self.timer_name = f"algo:{name}"
        self.released = ZERO
        self._next = 0
        self._children = 0
        self._clock: Clock | None = None

    @property
    def done(self) -> bool:
        return self._next >= len(self.schedule)

    @property
    def remaining(self) -> Decimal:
        return self.parent.quantity - self.released

    def start(self, clock: Clock) -> None:
        self._clock = clock
        self._arm()

    def stop(self) -> Decimal:
        """Release nothing more; returns the quantity never released."""
        if self._clock is not None:
            self._clock.cancel_timer(self.timer_name)
        left = self.remaining
        self._next = len(self.schedule)
        return left

    def on_timer(self, evt: TimeEvent) -> list[OrderIntent]:
        if evt.name != self.timer_name:
            return []
        children = self.due(evt.ts_event)
        self._arm()
        return children

    def due(self, now_ns: int) -> list[OrderIntent]:
        """The child for every slice due at ``now_ns`` not yet released (merged), or []."""
        qty = ZERO
        while self._next < len(self.schedule) and self.schedule[self._next].ts_ns <= now_ns:
            qty += self.schedule[self._next].quantity
            self._next += 1
        if not qty:
            return []
        self.released += qty
        self._children += 1
        tag = f"{self.parent.tag}/{self.name}#{self._children}" if self.parent.tag else \
            f"{self.name}#{self._children}"
        return [msgspec.structs.replace(self.parent, quantity=qty, tag=tag, ts_init=now_ns)]

    def _arm(self) -> None:
        if self._clock is not None and not self.done:
            self._clock.set_alert(self.timer_name, self.schedule[self._next].ts_ns)

"""Sentinel: delta-neutral basis and funding carry, for large accounts.

Seed phase 3 ($50,000+, 1-3x). Long spot and short the linear perpetual in *equal base
quantity*: price moves cancel, and the position earns the funding longs pay shorts plus the
perp's premium as it converges to spot (the cash-and-carry trade; see e.g. BIS Working Paper
1087, Schmeling, Schrimpf & Todorov, "Crypto carry", 2023). The legs are priced by ``prices``
(bar closes - decided when both legs' bars of a minute are in - or quotes or trades); the perp
mark stands in until its own price is known. Per pair (``basis``, ``legs``):

    enter   mean annualised funding of the last ``funding_window`` prints >= enter_funding_apr,
            basis >= enter_basis_bps, and the edge over ``horizon_days`` (funding + basis - the
            four taker fees) >= min_edge_bps: buy spot, sell perp, same base quantity
    unwind  the funding flips (its mean < exit_funding_apr), or after ``min_hold_h`` the basis
            has converged (<= exit_basis_bps) while funding no longer pays the entry threshold
    balance a leg off by more than ``rebalance_pct`` of the position (a partial fill, a capped
            leg): the perp is brought back to hedge the spot held

Only the positive-carry direction is traded (shorting spot needs a margin loan Titan does not
manage). Nothing happens while either leg's price is older than ``max_price_age_s``. The size
is ``notional_fraction`` of the budget per pair; the perp's margin uses the phase leverage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from msgspec import Meta

from titan.core import events as ev
from titan.feeds.bars import timeframe_ns
from titan.phases.base import Params, Stream, bar_stream
from titan.phases.common.desk import Desk
from titan.phases.sentinel.basis import FundingEstimate, basis_bps, expected_edge_bps
from titan.phases.sentinel.legs import equal_legs, hedge_contracts, spot_of
from titan.phases.setups import SetupBook, SetupMachine, SetupState

if TYPE_CHECKING:
    from titan.config import SentinelConfig

NS = 1_000_000_000
IDLE, WATCH, TRADE = SetupState.IDLE, SetupState.WATCH, SetupState.IN_TRADE


class SentinelParams(Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Sentinel parameters; funding as a yearly fraction, basis and edge in basis points."""

    enter_funding_apr: float = 0.10  # 10 %/year = 0.0091 % per 8 h
    exit_funding_apr: float = 0.0  # the funding has flipped: shorts would pay
    enter_basis_bps: float = 0.0  # never sell the perp at a discount to spot
    exit_basis_bps: float = 0.0  # converged
    horizon_days: Annotated[float, Meta(gt=0, le=365)] = 7.0  # the edge is judged over this
    min_edge_bps: float = 10.0
    funding_window: Annotated[int, Meta(ge=1, le=100)] = 3
    min_hold_h: Annotated[float, Meta(ge=0)] = 8.0
    notional_fraction: Annotated[float, Meta(gt=0, le=1)] = 0.4  # of the budget, per pair
    rebalance_pct: Annotated[float, Meta(gt=0, le=0.5)] = 0.02
    max_price_age_s: Annotated[float, Meta(gt=0)] = 180.0
    spot_for: dict[str, str] = {}  # perp id -> spot id, when not the same symbol and venue
    prices: Literal["bar", "quote", "trade"] = "bar"  # which stream prices the legs
    retry_min: Annotated[float, Meta(ge=0)] = 60.0  # wait after an entry that did not fill


@dataclass(slots=True)
class _Pair:
    perp: str
    spot: str
    funding: FundingEstimate
    prices: dict[str, tuple[float, int]] = field(default_factory=dict)  # iid -> (price, ts)
    entered_ns: int = 0
    retry_ns: int = 0  # no new entry before this (after a refused or failed one)


class Sentinel(Desk):
    name = "sentinel"
    family = "sentinel"
    Params = SentinelParams

    def __init__(self, params: SentinelParams | None = None, **kw: Any) -> None:
        super().__init__(params, **kw)
        p: SentinelParams = self.params  # type: ignore[assignment]
        timeframe_ns(self.timeframe)
        perps = [iid for iid in self.instruments if ":" in iid.rpartition("@")[0]]
        self._pairs: dict[str, _Pair] = {}
        self._leg_of: dict[str, _Pair] = {}
        for perp in perps:
            spot = p.spot_for.get(perp) or spot_of(perp)
            pair = _Pair(perp, spot, FundingEstimate(p.funding_window))
            self._pairs[perp] = pair
            self._leg_of[perp] = self._leg_of[spot] = pair
        self.setups = SetupBook()

    @classmethod
    def from_config(cls, section: SentinelConfig) -> Sentinel:
        from titan.phases.registry import build_params

        params = build_params(cls, section.params, source="phases.sentinel")
        tfs = section.timeframes or ["1m"]
        return cls(params, instruments=section.symbols, timeframe=min(tfs, key=timeframe_ns))

    def subscriptions(self) -> tuple[Stream, ...]:
        out: list[Stream] = []
        kind = self.params.prices  # type: ignore[attr-defined]
        for pair in self._pairs.values():
            for leg in (pair.spot, pair.perp):
                out.append(bar_stream(leg, self.timeframe) if kind == "bar"
                           else Stream(kind=kind, instrument_id=leg))
            out += [Stream(kind="funding", instrument_id=pair.perp),
                    Stream(kind="mark", instrument_id=pair.perp)]
        return tuple(out)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """(spot, perp) instrument ids of every traded pair."""
        return [(p.spot, p.perp) for p in self._pairs.values()]

    # ---- hooks ---------------------------------------------------------------------------------

    def on_bar(self, bar: ev.Bar) -> list[ev.OrderIntent] | None:
        """Bars of the two legs close together: decide on the second one, when both prices are
        of the same minute (and both marks are fresh for the Brain)."""
        pair = self._leg_of.get(bar.instrument_id)
        if pair is None or not bar.closed:
            return None
        other = pair.perp if bar.instrument_id == pair.spot else pair.spot
        pair.prices[bar.instrument_id] = (bar.close, bar.ts_event)
        seen = pair.prices.get(other)
        if seen is None or seen[1] < bar.ts_event:
            return None
        return self._decide(pair, bar.ts_event)

    def on_quote(self, quote: ev.Quote) -> list[ev.OrderIntent] | None:
        return self._price(quote.instrument_id, (quote.bid + quote.ask) / 2, quote.ts_event)

    def on_trade(self, trade: ev.Trade) -> list[ev.OrderIntent] | None:
        return self._price(trade.instrument_id, trade.price, trade.ts_event)

    def on_mark(self, mark: ev.MarkPrice) -> list[ev.OrderIntent] | None:
        pair = self._pairs.get(mark.instrument_id)
        if pair is None or pair.perp in pair.prices:
            return None  # the traded price, once known, is what the legs fill at
        return self._price(mark.instrument_id, mark.mark, mark.ts_event)

    def on_funding(self, funding: ev.FundingRate) -> list[ev.OrderIntent] | None:
        pair = self._pairs.get(funding.instrument_id)
        if pair is None:
            return None
        pair.funding.add(funding.rate, funding.interval_ns)
        return self._decide(pair, funding.ts_event)

    def on_order(self, event: ev.Message) -> None:
        if isinstance(event, ev.OrderDenied):
            pair = self._leg_of.get(event.instrument_id)
            m = self.setups[pair.perp] if pair is not None else None
            if m is not None and m.state is TRADE:
                m.data["denied"] = event.reason

    # ---- decisions -----------------------------------------------------------------------------

    def _price(self, iid: str, price: float, ts: int) -> list[ev.OrderIntent] | None:
        pair = self._leg_of.get(iid)
        if pair is None or not price > 0:
            return None
        pair.prices[iid] = (price, ts)
        return self._decide(pair, ts)

    def _decide(self, pair: _Pair, now: int) -> list[ev.OrderIntent] | None:
        spot_px, perp_px = self._fresh(pair, now)
        if spot_px is None or perp_px is None or not pair.funding.ready:
            return None
        if self.working(pair.spot) or self.working(pair.perp):
            return None
        m = self.setups[pair.perp]
        spot_qty, perp_qty = self.position(pair.spot), self.position(pair.perp)
        funding, basis = pair.funding.apr, basis_bps(perp_px, spot_px)
        if m.state is not TRADE and (spot_qty != 0 or perp_qty != 0):
            if m.state is IDLE:
                m.to(WATCH, now, "legs held from before")
            m.to(TRADE, now, "adopted the legs held")  # hedge them, or unwind on the usual rules
            pair.entered_ns = now
        if m.state is TRADE:
            if spot_qty == 0 and perp_qty == 0:
                why = m.data.get("unwinding") or m.data.get("denied")
                pair.retry_ns = now + self._retry_ns()
                m.to(IDLE, now, f"unwound: {why}" if why else "legs never filled")
                return None
            why = m.data.get("unwinding") or self._unwind_reason(pair, funding, basis, now)
            denied = m.data.get("denied")
            if not why and denied:
                why = f"a leg was refused ({denied})"
            if why:
                m.data["unwinding"] = why
                return self._unwind(pair)
            return self._rebalance(pair, spot_qty, perp_qty)
        if now < pair.retry_ns:
            return None
        return self._consider_entry(m, pair, spot_px, funding, basis, now)

    def _consider_entry(self, m: SetupMachine, pair: _Pair, spot_px: float, funding: float,
                        basis: float, now: int) -> list[ev.OrderIntent] | None:
        p: SentinelParams = self.params  # type: ignore[assignment]
        if funding < p.enter_funding_apr:
            if m.state is WATCH:
                m.to(IDLE, now, f"funding {funding:.2%}/y below {p.enter_funding_apr:.2%}")
            return None
        if m.state is IDLE:
            m.to(WATCH, now, f"funding {funding:.2%}/y")
        edge = expected_edge_bps(funding_apr=funding, basis=basis, horizon_days=p.horizon_days,
                                 round_trip_fees_bps=self._fees_bps(pair))
        if basis < p.enter_basis_bps or edge < p.min_edge_bps:
            return None
        spot_inst = self.ctx.instruments.get(pair.spot)
        perp_inst = self.ctx.instruments.get(pair.perp)
        want = Decimal(repr(p.notional_fraction)) * self.budget() / Decimal(repr(spot_px))
        spot_qty, contracts = equal_legs(want, spot_inst, perp_inst)
        if spot_qty <= 0 or (spot_inst and spot_inst.check_order(spot_qty, None)) or (
                perp_inst and perp_inst.check_order(contracts, None)):
            return None
        m.to(TRADE, now, f"funding {funding:.2%}/y, basis {basis:+.1f} bps, edge {edge:.1f} bps "
                     f"over {p.horizon_days:g} d")
        m.data.pop("unwinding", None)
        pair.entered_ns = now
        return [self.buy(pair.spot, spot_qty, tag="carry:spot"),
                self.sell(pair.perp, contracts, tag="carry:perp")]

    def _unwind_reason(self, pair: _Pair, funding: float, basis: float, now: int) -> str:
        p: SentinelParams = self.params  # type: ignore[assignment]
        if funding < p.exit_funding_apr:
            return f"funding flipped to {funding:.2%}/y"
        held = now - pair.entered_ns >= p.min_hold_h * 3600 * NS
        if held and basis <= p.exit_basis_bps and funding < p.enter_funding_apr:
            return f"basis converged to {basis:+.1f} bps, funding {funding:.2%}/y"
        return ""

    def _unwind(self, pair: _Pair) -> list[ev.OrderIntent] | None:
        legs = [self.reduce(pair.spot, 1.0, "unwind:spot"), self.reduce(pair.perp, 1.0, "unwind:perp")]
        out = [x for x in legs if x is not None]
        return out or None

    def _rebalance(self, pair: _Pair, spot_qty: Decimal, perp_qty: Decimal
                   ) -> list[ev.OrderIntent] | None:
        """Bring the short perp back to hedge the spot held (the spot is the position)."""
        p: SentinelParams = self.params  # type: ignore[assignment]
        perp_inst = self.ctx.instruments.get(pair.perp)
        cs = perp_inst.contract_size if perp_inst else Decimal(1)
        target = -hedge_contracts(max(spot_qty, Decimal(0)), perp_inst)
        diff = target - perp_qty  # contracts to buy (> 0) or sell (< 0)
        if diff == 0:
            return None
        size = max(abs(spot_qty), abs(perp_qty * cs))
        if size > 0 and abs(diff * cs) < Decimal(repr(p.rebalance_pct)) * size and target != 0:
            return None
        if perp_inst is not None and perp_inst.check_order(abs(diff), None) is not None:
            return None
        if diff > 0:  # too short: buy back, never past flat
            return [self.buy(pair.perp, diff, reduce_only=True, tag="rebalance:perp")]
        return [self.sell(pair.perp, -diff, tag="rebalance:perp")]

    # ---- helpers -------------------------------------------------------------------------------

    def _retry_ns(self) -> int:
        return int(self.params.retry_min * 60 * NS)  # type: ignore[attr-defined]

    def _fresh(self, pair: _Pair, now: int) -> tuple[float | None, float | None]:
        limit = int(self.params.max_price_age_s * NS)  # type: ignore[attr-defined]
        out: list[float | None] = []
        for iid in (pair.spot, pair.perp):
            px = pair.prices.get(iid)
            out.append(px[0] if px is not None and now - px[1] <= limit else None)
        return out[0], out[1]

    def _fees_bps(self, pair: _Pair) -> float:
        total = 0.0
        for iid in (pair.spot, pair.perp):
            inst = self.ctx.instruments.get(iid) if self.ctx is not None else None
            total += float(inst.taker_fee) if inst is not None else 0.0
        return 2.0 * total * 1e4

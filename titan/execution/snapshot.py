"""The live venue's truth for reconciliation: open orders, positions, balances, recent fills."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from titan.core import events as ev
from titan.core.instruments import Instrument, to_decimal
from titan.execution.client import VenueFill, VenueOrder, VenuePosition, VenueSnapshot
from titan.execution.reports import fill_report, order_report

if TYPE_CHECKING:
    from titan.execution.ccxt_client import CcxtExecutionClient

NS_PER_MS = 1_000_000
FILL_LOOKBACK_MS = 24 * 3600 * 1000


def _symbols(client: CcxtExecutionClient) -> list[Instrument]:
    wanted = {s.split("@")[0] for s in client.config.symbols}
    wanted |= {t.symbol for t in client.ledger.open_orders()}
    insts = [i for i in client.instruments if i.venue == client.venue and (not wanted or i.symbol in wanted)]
    return sorted(insts, key=lambda i: i.symbol)


def _order_type(order: dict[str, Any]) -> ev.OrderType:
    stop = order.get("triggerPrice") or order.get("stopPrice")
    if order.get("type") == "market":
        return ev.OrderType.STOP_MARKET if stop else ev.OrderType.MARKET
    return ev.OrderType.STOP_LIMIT if stop else ev.OrderType.LIMIT


def _venue_order(order: dict[str, Any], inst: Instrument) -> VenueOrder:
    rep = order_report(order)
    price = order.get("price")
    return VenueOrder(
        client_order_id=rep.client_order_id, venue_order_id=rep.venue_order_id, instrument_id=inst.id,
        side=ev.Side(order.get("side") or "buy"), order_type=_order_type(order),
        quantity=rep.amount or Decimal(0), filled_qty=rep.filled or Decimal(0),
        price=to_decimal(price) if price else None, reduce_only=bool(order.get("reduceOnly")),
        ts_event=int(order.get("timestamp") or 0) * NS_PER_MS,
    )


def _venue_fill(trade: dict[str, Any], inst: Instrument) -> VenueFill | None:
    rep = fill_report(trade, fee_currency=inst.settle_currency if not inst.is_spot else inst.quote)
    if rep is None:
        return None
    return VenueFill(
        client_order_id=rep.client_order_id, venue_order_id=rep.venue_order_id, trade_id=rep.trade_id,
        instrument_id=inst.id, side=ev.Side(trade.get("side") or "buy"), quantity=rep.qty, price=rep.price,
        fee=rep.fee, fee_currency=rep.fee_currency, liquidity=rep.liquidity, ts_event=rep.ts_ms * NS_PER_MS,
    )


async def take_snapshot(client: CcxtExecutionClient) -> VenueSnapshot:
    """Queries go through the client's limiter and retry policy; a failure raises (the caller
    reconciles later) rather than returning a partial truth."""
    ex = client.exchange
    insts = _symbols(client)
    orders: list[VenueOrder] = []
    fills: list[VenueFill] = []
    since = int(time.time() * 1000) - FILL_LOOKBACK_MS
    for inst in insts:
        for order in await client.call(client.open_orders, inst.symbol):
            orders.append(_venue_order(order, inst))
        for trade in await client.call(client.my_trades, inst.symbol, since):
            vf = _venue_fill(trade, inst)
            if vf is not None:
                fills.append(vf)
    positions: list[VenuePosition] = []
    contracts = [i for i in insts if not i.is_spot]
    if contracts:
        by_symbol = {i.symbol: i for i in contracts}
        for pos in await client.call(ex.fetch_positions, [i.symbol for i in contracts]):
            inst = by_symbol.get(pos.get("symbol"))
            size = to_decimal(pos.get("contracts") or 0)
            if inst is None or not size:
                continue
            signed = -size if pos.get("side") == "short" else size
            positions.append(VenuePosition(instrument_id=inst.id, quantity=signed,
                                           avg_price=to_decimal(pos.get("entryPrice") or 0)))
    balance = await client.call(ex.fetch_balance)
    balances = {cur: to_decimal(v) for cur, v in (balance.get("total") or {}).items() if v}
    return VenueSnapshot(venue=client.venue, ts=client.clock.now_ns(), open_orders=tuple(orders),
                         positions=tuple(positions), balances=balances, fills=tuple(fills))

"""MEXC spot v3 REST (``/api/v3``); no websockets (MEXC's private stream is protobuf).

MEXC signs the query string for every method (POST included). There is no recorded MEXC data,
so its BTCUSDT book replays the Binance spot capture (documented in SOURCES.md). A post-only
(``LIMIT_MAKER``) order that would cross is accepted and immediately canceled - an assumption;
MEXC's documentation does not say.
"""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from tests.kit.emulator.engine import EmuOrder, EngineError, Exchange, MarketSpec, Reject, Status
from tests.kit.emulator.limits import Cost, Rule, mexc_cost
from tests.kit.emulator.server import CODE, VenueApp
from tests.kit.emulator.signing import verify_query_signed
from tests.kit.emulator.tape import load_l2

D = Decimal

MARKETS = [MarketSpec("BTCUSDT", "spot", "BTC", "USDT", tick=D("0.01"), lot=D("0.000001"), min_qty=D("0.000001"),
                      max_qty=D("10000"), min_notional=D("1"), maker_fee=D("0"), taker_fee=D("0.0005"))]
DEFAULT_BALANCES = {"USDT": D("100000"), "BTC": D("1")}
ERRORS = {
    Reject.UNKNOWN_SYMBOL: (400, -1121, "Invalid symbol."),
    Reject.BAD_QTY: (400, 30002, "The minimum transaction volume cannot be less than the minimum."),
    Reject.BAD_PRICE: (400, 30087, "Order price exceeds allowed range"),
    Reject.MIN_NOTIONAL: (400, 30002, "The minimum transaction volume cannot be less than the minimum."),
    Reject.INSUFFICIENT_FUNDS: (400, 30004, "Insufficient position"),
    Reject.DUPLICATE_ID: (400, 30005, "Duplicate clientOrderId."),
    Reject.UNKNOWN_ORDER: (400, -2011, "Unknown order sent."),
    Reject.NO_LIQUIDITY: (400, 30016, "trading disabled"),
    Reject.FOK: (400, 30005, "Order would not be filled completely."),
    Reject.REDUCE_ONLY: (400, 700008, "Illegal characters found in parameter 'reduceOnly'."),
    Reject.POST_ONLY: (400, 30005, "Order would immediately match and take."),
}
STATUS = {Status.NEW: "NEW", Status.PARTIALLY_FILLED: "PARTIALLY_FILLED", Status.FILLED: "FILLED",
          Status.CANCELED: "CANCELED", Status.REJECTED: "CANCELED", Status.EXPIRED: "CANCELED",
          Status.UNTRIGGERED: "NEW"}


def _s(x: Decimal | None) -> str:
    return "0" if x is None else format(x.normalize(), "f") if x else "0"


class MexcApp(VenueApp):
    name = "mexc"

    def reset_state(self) -> None:
        tape = load_l2("binance-spot_BTCUSDT_book.csv.gz", "binance-spot_BTCUSDT_trades.csv.gz", self.emu.data_dir)
        self.ex = Exchange("mexc", MARKETS, {"BTCUSDT": tape}, self.emu.balances.get("mexc", DEFAULT_BALANCES),
                           numeric_ids=False, post_only_cross="cancel", client_id_scope="all")
        self.exchanges["spot"] = self.ex

    def setup(self) -> None:
        r = self.app.router
        r.add_get("/api/v3/ping", self.ping)
        r.add_get("/api/v3/time", self.time)
        r.add_get("/api/v3/exchangeInfo", self.exchange_info)
        r.add_get("/api/v3/depth", self.depth)
        r.add_get("/api/v1/contract/detail", self.contract_detail)
        r.add_get("/api/v3/account", self.account)
        r.add_post("/api/v3/order", self.create)
        r.add_get("/api/v3/order", self.get_order)
        r.add_delete("/api/v3/order", self.cancel)
        r.add_get("/api/v3/openOrders", self.open_orders)
        r.add_get("/api/v3/allOrders", self.all_orders)
        r.add_get("/api/v3/myTrades", self.my_trades)

    def cost(self, request: web.Request, params: dict[str, str]) -> Cost:
        return mexc_cost(request.method, request.path)

    def rate_limited(self, request: web.Request, rule: Rule | None) -> web.Response:
        request[CODE] = 429
        return web.json_response({"code": 429, "msg": "Too Many Requests"}, status=429)

    def err(self, request: web.Request, status: int, code: int, msg: str) -> web.Response:
        request[CODE] = code
        return web.json_response({"code": code, "msg": msg}, status=status)

    def signed(self, request: web.Request) -> tuple[web.Response | None, dict[str, str]]:
        fail, params = verify_query_signed(request.headers.get("X-MEXC-APIKEY", ""), request.query_string,
                                           "", self.emu.keys, self.server_ms(), 5000)
        if fail is None:
            return None, params
        if fail.kind in ("missing_key", "bad_key"):
            return self.err(request, 400, 700001, "API-key format invalid."), params
        if fail.kind == "bad_signature":
            return self.err(request, 400, 700002, "Signature for this request is not valid."), params
        return self.err(request, 400, 700003, "Timestamp for this request is outside of the recvWindow."), params

    async def ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": self.server_ms()})

    async def contract_detail(self, request: web.Request) -> web.Response:
        return web.json_response({"success": True, "code": 0, "data": []})

    async def exchange_info(self, request: web.Request) -> web.Response:
        symbols = [{
            "symbol": m.symbol, "status": "1", "baseAsset": m.base, "baseAssetPrecision": 6,
            "quoteAsset": m.quote, "quotePrecision": 2, "quoteAssetPrecision": 2, "baseCommissionPrecision": 6,
            "quoteCommissionPrecision": 2, "orderTypes": ["LIMIT", "MARKET", "LIMIT_MAKER"],
            "isSpotTradingAllowed": True, "isMarginTradingAllowed": False, "quoteAmountPrecision": _s(m.min_notional),
            "baseSizePrecision": _s(m.min_qty), "permissions": ["SPOT"], "filters": [],
            "maxQuoteAmount": "2000000", "makerCommission": _s(m.maker_fee), "takerCommission": _s(m.taker_fee),
            "quoteAmountPrecisionMarket": "1", "maxQuoteAmountMarket": "100000", "fullName": "Bitcoin",
            "tradeSideType": 1,
        } for m in MARKETS]
        return web.json_response({"timezone": "CST", "serverTime": self.server_ms(), "rateLimits": [],
                                  "exchangeFilters": [], "symbols": symbols})

    async def depth(self, request: web.Request) -> web.Response:
        book = self.ex.books.get(request.query.get("symbol", ""))
        if book is None:
            return self.err(request, 400, -1121, "Invalid symbol.")
        n = int(request.query.get("limit", "100"))
        return web.json_response({"lastUpdateId": book.last_update_id, "timestamp": self.server_ms(),
                                  "bids": [[_s(p), _s(q)] for p, q in book.depth("b", n)],
                                  "asks": [[_s(p), _s(q)] for p, q in book.depth("a", n)]})

    async def account(self, request: web.Request) -> web.Response:
        bad, _ = self.signed(request)
        if bad is not None:
            return bad
        acct = self.ex.account
        return web.json_response({
            "makerCommission": None, "takerCommission": None, "buyerCommission": None, "sellerCommission": None,
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "updateTime": None, "accountType": "SPOT",
            "balances": [{"asset": c, "free": _s(acct.free(c)), "locked": _s(acct.locked.get(c, D(0))),
                          "available": _s(acct.free(c))} for c in sorted(acct.balances)],
            "permissions": ["SPOT"],
        })

    async def create(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        if p.get("symbol") not in self.ex.markets:
            return self.err(request, 400, -1121, "Invalid symbol.")
        known = {"symbol", "side", "type", "quantity", "price", "newClientOrderId", "timestamp", "recvWindow",
                 "signature", "quoteOrderQty"}
        extra = [k for k in p if k not in known]
        if extra:
            return self.err(request, 400, 700008, f"Illegal characters found in parameter '{extra[0]}'.")
        side = {"BUY": "buy", "SELL": "sell"}.get(p.get("side", ""))
        types = {"LIMIT": ("limit", "GTC"), "MARKET": ("market", "IOC"), "LIMIT_MAKER": ("limit", "PostOnly"),
                 "IMMEDIATE_OR_CANCEL": ("limit", "IOC"), "FILL_OR_KILL": ("limit", "FOK")}
        if side is None or p.get("type") not in types:
            return self.err(request, 400, 700008, "Illegal characters found in parameter 'type'.")
        otype, tif = types[p["type"]]
        try:
            qty = D(p["quantity"])
            price = D(p["price"]) if otype == "limit" else None
        except (ArithmeticError, KeyError):
            return self.err(request, 400, 700004, "Mandatory parameter 'quantity' or 'price' missing.")
        try:
            order = self.ex.place(p["symbol"], side, otype, qty, price, tif=tif, client_id=p.get("newClientOrderId", ""))
        except EngineError as e:
            return self.err(request, *ERRORS[e.reject])
        return web.json_response({"symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
                                  "price": _s(order.price), "origQty": _s(order.qty), "type": p["type"],
                                  "side": p["side"], "transactTime": order.created_ms})

    def _find(self, p: dict[str, str]) -> EmuOrder | None:
        order = self.ex.find(order_id=p.get("orderId", ""), client_id=p.get("origClientOrderId", ""))
        return order if order is not None and order.symbol == p.get("symbol") else None

    def _order(self, o: EmuOrder) -> dict:
        t = {"PostOnly": "LIMIT_MAKER", "IOC": "IMMEDIATE_OR_CANCEL", "FOK": "FILL_OR_KILL"}.get(o.tif, "LIMIT")
        return {"symbol": o.symbol, "orderId": o.order_id, "orderListId": -1, "clientOrderId": o.client_id,
                "price": _s(o.price), "origQty": _s(o.qty), "executedQty": _s(o.filled),
                "cummulativeQuoteQty": _s(o.cum_quote), "status": STATUS[o.status], "timeInForce": None,
                "type": "MARKET" if o.type == "market" else t, "side": o.side.upper(), "stopPrice": None,
                "icebergQty": None, "time": o.created_ms, "updateTime": o.updated_ms, "isWorking": True,
                "origQuoteOrderQty": _s(o.cum_quote)}

    async def get_order(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        order = self._find(p)
        if order is None:
            return self.err(request, 400, -2013, "Order does not exist.")
        return web.json_response(self._order(order))

    async def cancel(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        order = self._find(p)
        if order is None or not order.status.is_open:
            return self.err(request, 400, -2011, "Unknown order sent.")
        self.ex.cancel(order.symbol, order_id=order.order_id)
        data = self._order(order)
        data["origClientOrderId"] = order.client_id
        return web.json_response(data)

    async def open_orders(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        return web.json_response([self._order(o) for o in self.ex.open_orders(p.get("symbol"))])

    async def all_orders(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        return web.json_response([self._order(o) for o in self.ex.orders.values() if o.symbol == p.get("symbol")])

    async def my_trades(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        out = []
        for f in self.ex.fills:
            if f.symbol != p.get("symbol") or (p.get("orderId") and f.order_id != p["orderId"]):
                continue
            if p.get("startTime") and f.ts_ms < int(p["startTime"]):
                continue
            out.append({"symbol": f.symbol, "id": f.trade_id, "orderId": f.order_id, "orderListId": -1,
                        "price": _s(f.price), "qty": _s(f.qty), "quoteQty": _s(f.price * f.qty),
                        "commission": _s(f.fee), "commissionAsset": f.fee_currency, "time": f.ts_ms,
                        "isBuyer": f.side == "buy", "isMaker": f.is_maker, "isBestMatch": True,
                        "isSelfTrade": False, "clientOrderId": f.client_id})
        return web.json_response(out[-int(p.get("limit", "100")):])

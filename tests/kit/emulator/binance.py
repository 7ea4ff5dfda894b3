"""Binance spot (``/api/v3``) and USD-M futures (``/fapi``) on one port, with websockets.

Spot private streams use the WebSocket API (``/ws-api/ws-api/v3``,
``userDataStream.subscribe.signature``); USD-M uses a listenKey (``POST /fapi/v1/listenKey`` then
``/fstream/private/ws?listenKey=``). Public streams: ``/stream/ws/<n>`` (spot) and
``/fstream/{public,market}/ws/<n>`` (USD-M), with one update-id sequence shared with REST depth.
Error bodies are Binance's (``{"code": -2010, "msg": ...}``) with its HTTP statuses.
"""

from __future__ import annotations

import json
import secrets
from decimal import Decimal
from urllib.parse import urlencode

from aiohttp import web

from tests.kit.emulator import history
from tests.kit.emulator.engine import (
    EmuOrder,
    EngineError,
    Exchange,
    Fill,
    MarketSpec,
    Reject,
    Status,
)
from tests.kit.emulator.limits import Cost, Rule, binance_cost
from tests.kit.emulator.server import BODY, CODE, SECTION, PushSocket, VenueApp
from tests.kit.emulator.signing import hmac_hex, verify_query_signed
from tests.kit.emulator.tape import load_candles, load_funding, load_l2

D = Decimal

SPOT = [MarketSpec("BTCUSDT", "spot", "BTC", "USDT", tick=D("0.01"), lot=D("0.00001"), min_qty=D("0.00001"),
                   max_qty=D("9000"), min_notional=D("5"), maker_fee=D("0.001"), taker_fee=D("0.001"))]
USDM = [MarketSpec("BTCUSDT", "linear", "BTC", "USDT", tick=D("0.10"), lot=D("0.001"), min_qty=D("0.001"),
                   max_qty=D("1000"), min_notional=D("100"), maker_fee=D("0.0002"), taker_fee=D("0.0005"),
                   max_leverage=D("125"))]
DEFAULT_SPOT = {"USDT": D("100000"), "BTC": D("1")}
DEFAULT_USDM = {"USDT": D("100000")}

SPOT_ERRORS = {
    Reject.UNKNOWN_SYMBOL: (400, -1121, "Invalid symbol."),
    Reject.BAD_QTY: (400, -1013, "Filter failure: LOT_SIZE"),
    Reject.BAD_PRICE: (400, -1013, "Filter failure: PRICE_FILTER"),
    Reject.MIN_NOTIONAL: (400, -1013, "Filter failure: NOTIONAL"),
    Reject.INSUFFICIENT_FUNDS: (400, -2010, "Account has insufficient balance for requested action."),
    Reject.POST_ONLY: (400, -2010, "Order would immediately match and take."),
    Reject.DUPLICATE_ID: (400, -2010, "Duplicate order sent."),
    Reject.UNKNOWN_ORDER: (400, -2011, "Unknown order sent."),
    Reject.NO_LIQUIDITY: (400, -2010, "Market is closed."),
    Reject.FOK: (400, -2010, "Order would not be filled completely."),
    Reject.REDUCE_ONLY: (400, -1104, "Not all sent parameters were read."),
}
USDM_ERRORS = {
    Reject.UNKNOWN_SYMBOL: (400, -1121, "Invalid symbol."),
    Reject.BAD_QTY: (400, -1111, "Precision is over the maximum defined for this asset."),
    Reject.BAD_PRICE: (400, -1111, "Precision is over the maximum defined for this asset."),
    Reject.MIN_NOTIONAL: (400, -4164, "Order's notional must be no smaller than 100 (unless you choose reduce only)."),
    Reject.INSUFFICIENT_FUNDS: (400, -2019, "Margin is insufficient."),
    Reject.POST_ONLY: (400, -5022, "Due to the order could not be executed as maker, the Post Only order will be rejected. The order will not be recorded in the order history"),
    Reject.DUPLICATE_ID: (400, -4116, "ClientOrderId is duplicated."),
    Reject.UNKNOWN_ORDER: (400, -2011, "Unknown order sent."),
    Reject.REDUCE_ONLY: (400, -2022, "ReduceOnly Order is rejected."),
    Reject.NO_LIQUIDITY: (400, -2010, "Market is closed."),
    Reject.FOK: (400, -5021, "Due to the order could not be filled immediately, the FOK order has been rejected."),
}
STATUS = {Status.NEW: "NEW", Status.PARTIALLY_FILLED: "PARTIALLY_FILLED", Status.FILLED: "FILLED",
          Status.CANCELED: "CANCELED", Status.REJECTED: "REJECTED", Status.EXPIRED: "EXPIRED",
          Status.UNTRIGGERED: "NEW"}


def _s(x: Decimal | None, places: int = 8) -> str:
    if x is None:
        return "0"
    return format(x.quantize(Decimal(1).scaleb(-places)), "f")


class BinanceApp(VenueApp):
    name = "binance"

    def reset_state(self) -> None:
        dd = self.emu.data_dir
        spot = Exchange("binance-spot", SPOT,
                        {"BTCUSDT": load_l2("binance-spot_BTCUSDT_book.csv.gz", "binance-spot_BTCUSDT_trades.csv.gz", dd)},
                        self.emu.balances.get("binance", DEFAULT_SPOT), numeric_ids=True,
                        post_only_cross="reject", client_id_scope="open")
        usdm = Exchange("binance-usdm", USDM,
                        {"BTCUSDT": load_l2("binance-usdm_BTCUSDT_book.csv.gz", "binance-usdm_BTCUSDT_trades.csv.gz", dd)},
                        self.emu.balances.get("binanceusdm", DEFAULT_USDM), numeric_ids=True,
                        post_only_cross="reject", client_id_scope="open", default_leverage=D(20))
        first_ts = usdm.tapes["BTCUSDT"].ts_ms
        usdm.funding_schedule["BTCUSDT"] = [(ts, r) for ts, r in self.funding if ts > first_ts]
        self.exchanges.update(spot=spot, usdm=usdm)
        # Update ids of what the streams sent last (the recorded ones; recorded updates whose
        # levels all fell outside the slice's price band are missing, so U/pu chain to these).
        self._last_u = {(sec, sym): ex.books[sym].last_update_id
                        for sec, ex in self.exchanges.items() for sym in ex.books}
        spot.listeners.append(lambda k, p: self._on_engine("spot", k, p))
        usdm.listeners.append(lambda k, p: self._on_engine("usdm", k, p))
        self.listen_keys: set[str] = set()

    def setup(self) -> None:
        dd = self.emu.data_dir
        self.candles = {"spot": load_candles("binance-spot_BTCUSDT_1m.csv.gz", dd),
                        "usdm": load_candles("binance-usdm_BTCUSDT_1m.csv.gz", dd)}
        self.funding = load_funding("binance-usdm_BTCUSDT_funding.csv.gz", dd)
        r = self.app.router
        for prefix, sec in (("/api/v3", "spot"), ("/fapi/v1", "usdm")):
            r.add_get(prefix + "/ping", self._wrap(self.ping, sec))
            r.add_get(prefix + "/time", self._wrap(self.time, sec))
            r.add_get(prefix + "/exchangeInfo", self._wrap(self.exchange_info, sec))
            r.add_get(prefix + "/depth", self._wrap(self.depth, sec))
            r.add_get(prefix + "/klines", self._wrap(self.klines, sec))
            r.add_post(prefix + "/order", self._wrap(self.create, sec))
            r.add_get(prefix + "/order", self._wrap(self.get_order, sec))
            r.add_delete(prefix + "/order", self._wrap(self.cancel, sec))
            r.add_get(prefix + "/openOrders", self._wrap(self.open_orders, sec))
            r.add_get(prefix + "/allOrders", self._wrap(self.all_orders, sec))
        r.add_get("/api/v3/ticker/bookTicker", self._wrap(self.book_ticker, "spot"))
        r.add_get("/fapi/v1/ticker/bookTicker", self._wrap(self.book_ticker, "usdm"))
        r.add_get("/api/v3/myTrades", self._wrap(self.my_trades, "spot"))
        r.add_get("/fapi/v1/userTrades", self._wrap(self.my_trades, "usdm"))
        r.add_get("/api/v3/account", self._wrap(self.spot_account, "spot"))
        r.add_delete("/api/v3/openOrders", self._wrap(self.cancel_all, "spot"))
        r.add_delete("/fapi/v1/allOpenOrders", self._wrap(self.cancel_all, "usdm"))
        r.add_get("/fapi/v3/account", self._wrap(self.usdm_account, "usdm"))
        r.add_get("/fapi/v2/balance", self._wrap(self.usdm_balance, "usdm"))
        r.add_get("/fapi/v3/positionRisk", self._wrap(self.position_risk, "usdm"))
        r.add_get("/fapi/v2/positionRisk", self._wrap(self.position_risk, "usdm"))
        r.add_get("/fapi/v1/leverageBracket", self._wrap(self.leverage_bracket, "usdm"))
        r.add_get("/fapi/v1/symbolConfig", self._wrap(self.symbol_config, "usdm"))
        r.add_post("/fapi/v1/leverage", self._wrap(self.set_leverage, "usdm"))
        r.add_post("/fapi/v1/marginType", self._wrap(self.margin_type, "usdm"))
        r.add_get("/fapi/v1/premiumIndex", self._wrap(self.premium_index, "usdm"))
        r.add_get("/fapi/v1/fundingRate", self._wrap(self.funding_rate, "usdm"))
        r.add_get("/fapi/v1/commissionRate", self._wrap(self.commission_rate, "usdm"))
        r.add_post("/fapi/v1/listenKey", self._wrap(self.listen_key, "usdm"))
        r.add_put("/fapi/v1/listenKey", self._wrap(self.listen_key, "usdm"))
        r.add_delete("/fapi/v1/listenKey", self._wrap(self.listen_key, "usdm"))
        r.add_get("/stream/ws/{n}", self.ws_public_spot)
        r.add_get("/stream/ws", self.ws_public_spot)
        r.add_get("/fstream/{cat}/ws/{n}", self.ws_public_usdm)
        r.add_get("/fstream/{cat}/ws", self.ws_public_usdm)
        r.add_get("/fstream/private/ws", self.ws_private_usdm)
        r.add_get("/ws-api/ws-api/v3", self.ws_api)

    def _wrap(self, fn, section: str):
        async def handler(request: web.Request) -> web.StreamResponse:
            request[SECTION] = section
            return await fn(request)
        return handler

    # ------------------------------------------------------------------ plumbing

    def cost(self, request: web.Request, params: dict[str, str]) -> Cost:
        return binance_cost(request.method, request.path, params)

    def rate_limited(self, request: web.Request, rule: Rule | None) -> web.Response:
        if rule is not None and rule.name.startswith("ORDERS"):
            request[CODE] = -1015
            return web.json_response({"code": -1015, "msg": f"Too many new orders; current limit is {rule.limit} orders per {int(rule.window_s)} SECOND."},
                                     status=429, headers={"Retry-After": "1"})
        limit = rule.limit if rule is not None else 6000
        request[CODE] = -1003
        return web.json_response({"code": -1003, "msg": f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."},
                                 status=429, headers={"Retry-After": "1"})

    def err(self, request: web.Request, status: int, code: int, msg: str) -> web.Response:
        request[CODE] = code
        return web.json_response({"code": code, "msg": msg}, status=status)

    def engine_err(self, request: web.Request, e: EngineError) -> web.Response:
        table = SPOT_ERRORS if request[SECTION] == "spot" else USDM_ERRORS
        return self.err(request, *table[e.reject])

    def ex(self, request: web.Request) -> Exchange:
        return self.exchanges[request[SECTION]]

    def signed(self, request: web.Request) -> tuple[web.Response | None, dict[str, str]]:
        fail, params = verify_query_signed(request.headers.get("X-MBX-APIKEY", ""), request.query_string,
                                           request[BODY], self.emu.keys, self.server_ms(), 5000)
        if fail is None:
            return None, params
        if fail.kind == "missing_key":
            return self.err(request, 401, -2014, "API-key format invalid."), params
        if fail.kind == "bad_key":
            return self.err(request, 401, -2015, "Invalid API-key, IP, or permissions for action."), params
        if fail.kind == "bad_signature":
            return self.err(request, 400, -1022, "Signature for this request is not valid."), params
        return self.err(request, 400, -1021, "Timestamp for this request is outside of the recvWindow."), params

    def keyed(self, request: web.Request) -> web.Response | None:
        key = request.headers.get("X-MBX-APIKEY", "")
        if not key:
            return self.err(request, 401, -2014, "API-key format invalid.")
        if key not in self.emu.keys:
            return self.err(request, 401, -2015, "Invalid API-key, IP, or permissions for action.")
        return None

    def spec(self, request: web.Request, symbol: str) -> MarketSpec | None:
        return self.ex(request).markets.get(symbol)

    # ------------------------------------------------------------------ public

    async def ping(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def time(self, request: web.Request) -> web.Response:
        return web.json_response({"serverTime": self.server_ms()})

    async def exchange_info(self, request: web.Request) -> web.Response:
        sec = request[SECTION]
        if sec == "spot":
            symbols = [self._spot_symbol(m) for m in SPOT]
            limits = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                      {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50},
                      {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000},
                      {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000}]
            return web.json_response({"timezone": "UTC", "serverTime": self.server_ms(), "rateLimits": limits,
                                      "exchangeFilters": [], "symbols": symbols})
        limits = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
                  {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
                  {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300}]
        return web.json_response({"timezone": "UTC", "serverTime": self.server_ms(), "futuresType": "U_MARGINED",
                                  "rateLimits": limits, "exchangeFilters": [],
                                  "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
                                  "symbols": [self._usdm_symbol(m) for m in USDM]})

    def _spot_symbol(self, m: MarketSpec) -> dict:
        return {
            "symbol": m.symbol, "status": "TRADING", "baseAsset": m.base, "baseAssetPrecision": 8,
            "quoteAsset": m.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True, "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True, "cancelReplaceAllowed": True, "amendAllowed": True,
            "isSpotTradingAllowed": True, "isMarginTradingAllowed": True,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": _s(m.tick), "maxPrice": "1000000.00000000", "tickSize": _s(m.tick)},
                {"filterType": "LOT_SIZE", "minQty": _s(m.min_qty), "maxQty": _s(m.max_qty), "stepSize": _s(m.lot)},
                {"filterType": "ICEBERG_PARTS", "limit": 10},
                {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "100.00000000", "stepSize": "0.00000000"},
                {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
                 "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
                {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
                 "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
                {"filterType": "NOTIONAL", "minNotional": _s(m.min_notional), "applyMinToMarket": True,
                 "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
                {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
            ],
            "permissions": [], "permissionSets": [["SPOT", "MARGIN"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }

    def _usdm_symbol(self, m: MarketSpec) -> dict:
        return {
            "symbol": m.symbol, "pair": m.symbol, "contractType": "PERPETUAL", "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000, "status": "TRADING", "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000", "baseAsset": m.base, "quoteAsset": m.quote, "marginAsset": m.quote,
            "pricePrecision": 2, "quantityPrecision": 3, "baseAssetPrecision": 8, "quotePrecision": 8,
            "underlyingType": "COIN", "underlyingSubType": ["PoW"], "settlePlan": 0, "triggerProtect": "0.0500",
            "liquidationFee": "0.012500", "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "556.80", "maxPrice": "4529764", "tickSize": format(m.tick, "f")},
                {"filterType": "LOT_SIZE", "stepSize": format(m.lot, "f"), "maxQty": format(m.max_qty, "f"), "minQty": format(m.min_qty, "f")},
                {"filterType": "MARKET_LOT_SIZE", "stepSize": format(m.lot, "f"), "maxQty": "120", "minQty": format(m.min_qty, "f")},
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                {"filterType": "MIN_NOTIONAL", "notional": format(m.min_notional, "f")},
                {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": "4"},
            ],
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"], "permissionSets": ["GRID", "COPY"],
        }

    async def depth(self, request: web.Request) -> web.Response:
        ex = self.ex(request)
        sym = request.query.get("symbol", "")
        if sym not in ex.markets:
            return self.err(request, 400, -1121, "Invalid symbol.")
        book = ex.books[sym]
        n = int(request.query.get("limit", "100"))
        data = {"lastUpdateId": book.last_update_id,
                "bids": [[format(p, "f"), format(q, "f")] for p, q in book.depth("b", n)],
                "asks": [[format(p, "f"), format(q, "f")] for p, q in book.depth("a", n)]}
        if request[SECTION] == "usdm":
            data.update(E=self.server_ms(), T=self.server_ms())
        return web.json_response(data)

    async def book_ticker(self, request: web.Request) -> web.Response:
        ex = self.ex(request)
        out = []
        for sym in ex.markets:
            if request.query.get("symbol", sym) != sym:
                continue
            book = ex.books[sym]
            b, a = book.depth("b", 1), book.depth("a", 1)
            out.append({"symbol": sym, "bidPrice": format(b[0][0], "f"), "bidQty": format(b[0][1], "f"),
                        "askPrice": format(a[0][0], "f"), "askQty": format(a[0][1], "f")})
        return web.json_response(out[0] if "symbol" in request.query and out else out)

    async def klines(self, request: web.Request) -> web.Response:
        q = request.query
        sec = request[SECTION]
        if q.get("symbol") != "BTCUSDT":
            return self.err(request, 400, -1121, "Invalid symbol.")
        minutes = history.binance_interval_minutes(q.get("interval", ""))
        if minutes is None:
            return self.err(request, 400, -1120, "Invalid interval.")
        max_limit = 1000 if sec == "spot" else 1500
        rows = history.select(history.resample(self.candles[sec], minutes), q.get("startTime"), q.get("endTime"),
                              int(q.get("limit", "500")), max_limit, newest_first=False)
        step = minutes * 60_000
        out = [[c.ts_ms, c.open, c.high, c.low, c.close, c.volume, c.ts_ms + step - 1, history.turnover(c),
                0, "0", "0", "0"] for c in rows]
        return web.json_response(out)

    async def premium_index(self, request: web.Request) -> web.Response:
        ex = self.ex(request)
        sym = request.query.get("symbol", "BTCUSDT")
        if sym not in ex.markets:
            return self.err(request, 400, -1121, "Invalid symbol.")
        mark = ex.mark.get(sym) or ex.reference_price(sym)
        now = self.server_ms()
        data = {"symbol": sym, "markPrice": _s(mark), "indexPrice": _s(mark), "estimatedSettlePrice": _s(mark),
                "lastFundingRate": format(self.funding[-1][1], "f"), "interestRate": "0.00010000",
                "nextFundingTime": (now // 28_800_000 + 1) * 28_800_000, "time": now}
        return web.json_response(data if "symbol" in request.query else [data])

    async def funding_rate(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("symbol", "BTCUSDT") != "BTCUSDT":
            return web.json_response([])
        rows = history.select_points(self.funding, q.get("startTime"), q.get("endTime"),
                                     int(q.get("limit", "100")), 1000, newest_first=False)
        return web.json_response([{"symbol": "BTCUSDT", "fundingTime": ts, "fundingRate": format(r, "f"),
                                   "markPrice": ""} for ts, r in rows])

    # ------------------------------------------------------------------ orders

    async def create(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        sec = request[SECTION]
        m = self.spec(request, p.get("symbol", ""))
        if m is None:
            return self.err(request, 400, -1121, "Invalid symbol.")
        known = {"symbol", "side", "type", "quantity", "price", "timeInForce", "newClientOrderId",
                 "newOrderRespType", "timestamp", "recvWindow", "signature", "stopPrice",
                 "selfTradePreventionMode", "quoteOrderQty"}
        if sec == "usdm":
            known |= {"reduceOnly", "positionSide", "workingType", "priceProtect", "closePosition"}
        extra = [k for k in p if k not in known]
        if extra:
            return self.err(request, 400, -1104, f"Not all sent parameters were read; read {len(p) - len(extra)} parameter(s) but was sent {len(p)}.")
        side = {"BUY": "buy", "SELL": "sell"}.get(p.get("side", ""))
        btype = p.get("type", "")
        mapping = {"LIMIT": "limit", "MARKET": "market", "LIMIT_MAKER": "limit", "STOP_LOSS": "market",
                   "STOP_LOSS_LIMIT": "limit", "STOP_MARKET": "market", "STOP": "limit"}
        if sec == "usdm" and btype in ("LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT"):
            return self.err(request, 400, -1116, "Invalid orderType.")
        if sec == "spot" and btype in ("STOP_MARKET", "STOP"):
            return self.err(request, 400, -1116, "Invalid orderType.")
        otype = mapping.get(btype)
        if side is None or otype is None:
            return self.err(request, 400, -1116, "Invalid orderType.")
        tif = p.get("timeInForce", "GTC")
        if btype == "LIMIT_MAKER" or tif == "GTX":
            tif = "PostOnly"
        if otype == "limit" and btype != "LIMIT_MAKER" and "timeInForce" not in p:
            return self.err(request, 400, -1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
        if "quantity" not in p:
            return self.err(request, 400, -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
        cid = p.get("newClientOrderId", "") or f"emu{secrets.token_hex(8)}"
        try:
            qty = D(p["quantity"])
            price = D(p["price"]) if otype == "limit" else None
            stop = D(p["stopPrice"]) if btype in ("STOP_LOSS", "STOP_LOSS_LIMIT", "STOP_MARKET", "STOP") else None
        except (ArithmeticError, KeyError):
            return self.err(request, 400, -1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
        direction = 0
        if stop is not None:
            direction = 1 if side == "buy" else 2
        try:
            order = self.ex(request).place(p["symbol"], side, otype, qty, price, tif=tif,
                                           reduce_only=p.get("reduceOnly") == "true", client_id=cid,
                                           trigger_price=stop, trigger_direction=direction)
        except EngineError as e:
            return self.engine_err(request, e)
        order.meta_type = btype  # type: ignore[attr-defined]
        if sec == "usdm":
            return web.json_response(self._usdm_order(order))
        data = self._spot_order(order, full=True)
        if p.get("newOrderRespType", "FULL") == "FULL":
            ex = self.ex(request)
            data["fills"] = [{"price": _s(f.price), "qty": _s(f.qty), "commission": _s(f.fee),
                              "commissionAsset": f.fee_currency, "tradeId": int(f.trade_id)}
                             for f in ex.fills if f.order_id == order.order_id]
        return web.json_response(data)

    def _find(self, request: web.Request, p: dict[str, str]) -> EmuOrder | None:
        ex = self.ex(request)
        order = ex.find(order_id=p.get("orderId", ""), client_id=p.get("origClientOrderId", ""))
        if order is None or order.symbol != p.get("symbol"):
            return None
        return order

    async def get_order(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        if self.spec(request, p.get("symbol", "")) is None:
            return self.err(request, 400, -1121, "Invalid symbol.")
        if not p.get("orderId") and not p.get("origClientOrderId"):
            return self.err(request, 400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        order = self._find(request, p)
        if order is None:
            return self.err(request, 400, -2013, "Order does not exist.")
        return web.json_response(self._order_json(request, order))

    async def cancel(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        if self.spec(request, p.get("symbol", "")) is None:
            return self.err(request, 400, -1121, "Invalid symbol.")
        order = self._find(request, p)
        if order is None:
            return self.err(request, 400, -2011, "Unknown order sent.")
        try:
            self.ex(request).cancel(order.symbol, order_id=order.order_id)
        except EngineError as e:
            return self.engine_err(request, e)
        data = self._order_json(request, order)
        if request[SECTION] == "spot":
            data["origClientOrderId"] = order.client_id
            data["clientOrderId"] = p.get("newClientOrderId") or f"emucx{secrets.token_hex(6)}"
            data["transactTime"] = self.server_ms()
        return web.json_response(data)

    async def cancel_all(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        done = self.ex(request).cancel_all(p.get("symbol"))
        if request[SECTION] == "usdm":
            return web.json_response({"code": 200, "msg": "The operation of cancel all open order is done."})
        return web.json_response([self._spot_order(o) for o in done])

    async def open_orders(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        orders = self.ex(request).open_orders(p.get("symbol"))
        return web.json_response([self._order_json(request, o) for o in orders])

    async def all_orders(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        ex = self.ex(request)
        orders = [o for o in ex.orders.values() if o.symbol == p.get("symbol")]
        return web.json_response([self._order_json(request, o) for o in orders][-int(p.get("limit", "500")):])

    async def my_trades(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        ex = self.ex(request)
        out = []
        for f in ex.fills:
            if f.symbol != p.get("symbol"):
                continue
            if p.get("orderId") and f.order_id != p["orderId"]:
                continue
            if p.get("startTime") and f.ts_ms < int(p["startTime"]):
                continue
            if p.get("endTime") and f.ts_ms > int(p["endTime"]):
                continue
            if p.get("fromId") and int(f.trade_id) < int(p["fromId"]):
                continue
            out.append(self._trade_json(request[SECTION], f))
        limit = int(p.get("limit", "500"))
        return web.json_response(out[:limit] if p.get("startTime") or p.get("fromId") else out[-limit:])

    def _trade_json(self, sec: str, f: Fill) -> dict:
        if sec == "spot":
            return {"symbol": f.symbol, "id": int(f.trade_id), "orderId": int(f.order_id), "orderListId": -1,
                    "price": _s(f.price), "qty": _s(f.qty), "quoteQty": _s(f.price * f.qty),
                    "commission": _s(f.fee), "commissionAsset": f.fee_currency, "time": f.ts_ms,
                    "isBuyer": f.side == "buy", "isMaker": f.is_maker, "isBestMatch": True}
        return {"buyer": f.side == "buy", "commission": _s(f.fee), "commissionAsset": f.fee_currency,
                "id": int(f.trade_id), "maker": f.is_maker, "orderId": int(f.order_id), "price": format(f.price, "f"),
                "qty": format(f.qty, "f"), "quoteQty": format(f.price * f.qty, "f"), "realizedPnl": "0",
                "side": f.side.upper(), "positionSide": "BOTH", "symbol": f.symbol, "time": f.ts_ms}

    def _order_json(self, request: web.Request, o: EmuOrder) -> dict:
        return self._spot_order(o) if request[SECTION] == "spot" else self._usdm_order(o)

    def _btype(self, o: EmuOrder, futures: bool) -> str:
        t = getattr(o, "meta_type", "")
        if t:
            return t
        if o.is_post_only and not futures:
            return "LIMIT_MAKER"
        return "LIMIT" if o.type == "limit" else "MARKET"

    def _status(self, o: EmuOrder) -> str:
        if o.status is Status.CANCELED and o.type == "market":
            return "EXPIRED"
        return STATUS[o.status]

    def _spot_order(self, o: EmuOrder, full: bool = False) -> dict:
        d = {
            "symbol": o.symbol, "orderId": int(o.order_id), "orderListId": -1, "clientOrderId": o.client_id,
            "price": _s(o.price), "origQty": _s(o.qty), "executedQty": _s(o.filled),
            "cummulativeQuoteQty": _s(o.cum_quote), "status": self._status(o),
            "timeInForce": "GTC" if o.tif == "PostOnly" else o.tif, "type": self._btype(o, False),
            "side": o.side.upper(), "workingTime": o.created_ms if o.status is not Status.UNTRIGGERED else -1,
            "selfTradePreventionMode": "EXPIRE_MAKER", "origQuoteOrderQty": "0.00000000",
        }
        if full:
            d["transactTime"] = o.created_ms
        else:
            d.update(stopPrice=_s(o.trigger_price), icebergQty="0.00000000", time=o.created_ms,
                     updateTime=o.updated_ms, isWorking=o.status is not Status.UNTRIGGERED)
        return d

    def _usdm_order(self, o: EmuOrder) -> dict:
        btype = self._btype(o, True)
        return {
            "orderId": int(o.order_id), "symbol": o.symbol, "status": self._status(o),
            "clientOrderId": o.client_id, "price": format(o.price or D(0), "f"),
            "avgPrice": format(o.avg_price, "f"), "origQty": format(o.qty, "f"),
            "executedQty": format(o.filled, "f"), "cumQty": format(o.filled, "f"),
            "cumQuote": format(o.cum_quote, "f"), "timeInForce": "GTX" if o.tif == "PostOnly" else o.tif,
            "type": btype, "reduceOnly": o.reduce_only, "closePosition": False, "side": o.side.upper(),
            "positionSide": "BOTH", "stopPrice": format(o.trigger_price or D(0), "f"),
            "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": btype, "priceMatch": "NONE",
            "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0, "updateTime": o.updated_ms,
            "time": o.created_ms,
        }

    # ------------------------------------------------------------------ accounts

    async def spot_account(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        acct = self.exchanges["spot"].account
        balances = [{"asset": c, "free": _s(acct.free(c)), "locked": _s(acct.locked.get(c, D(0)))}
                    for c in sorted(acct.balances)]
        return web.json_response({
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False, "updateTime": self.server_ms(),
            "accountType": "SPOT", "balances": balances, "permissions": ["SPOT"], "uid": 1,
        })

    def _usdm_assets(self) -> list[dict]:
        ex = self.exchanges["usdm"]
        acct = ex.account
        out = []
        for cur, bal in sorted(acct.balances.items()):
            upnl, pos_im = D(0), D(0)
            for sym, pos in acct.positions.items():
                if pos.size:
                    mark = ex.mark.get(sym) or pos.entry
                    upnl += (mark - pos.entry) * pos.size
                    pos_im += abs(pos.size) * pos.entry / ex.leverage(sym)
            order_im = acct.locked.get(cur, D(0))
            avail = ex.available_margin(cur)
            out.append({"asset": cur, "walletBalance": _s(bal), "unrealizedProfit": _s(upnl),
                        "marginBalance": _s(bal + upnl), "maintMargin": "0", "initialMargin": _s(pos_im + order_im),
                        "positionInitialMargin": _s(pos_im), "openOrderInitialMargin": _s(order_im),
                        "crossWalletBalance": _s(bal), "crossUnPnl": _s(upnl), "availableBalance": _s(avail),
                        "maxWithdrawAmount": _s(avail), "updateTime": self.server_ms()})
        return out

    async def usdm_account(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        assets = self._usdm_assets()
        usdt = next((a for a in assets if a["asset"] == "USDT"), None)
        tot = (lambda k: usdt[k] if usdt else "0")
        return web.json_response({
            "totalInitialMargin": tot("initialMargin"), "totalMaintMargin": "0",
            "totalWalletBalance": tot("walletBalance"), "totalUnrealizedProfit": tot("unrealizedProfit"),
            "totalMarginBalance": tot("marginBalance"), "totalPositionInitialMargin": tot("positionInitialMargin"),
            "totalOpenOrderInitialMargin": tot("openOrderInitialMargin"), "totalCrossWalletBalance": tot("walletBalance"),
            "totalCrossUnPnl": tot("unrealizedProfit"), "availableBalance": tot("availableBalance"),
            "maxWithdrawAmount": tot("availableBalance"), "assets": assets,
            "positions": [self._position_json(sym, short=True) for sym, pos in
                          self.exchanges["usdm"].account.positions.items() if pos.size],
        })

    async def usdm_balance(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        return web.json_response([{"accountAlias": "emu", "asset": a["asset"], "balance": a["walletBalance"],
                                   "crossWalletBalance": a["crossWalletBalance"], "crossUnPnl": a["crossUnPnl"],
                                   "availableBalance": a["availableBalance"], "maxWithdrawAmount": a["maxWithdrawAmount"],
                                   "marginAvailable": True, "updateTime": a["updateTime"]} for a in self._usdm_assets()])

    def _position_json(self, sym: str, short: bool = False) -> dict:
        ex = self.exchanges["usdm"]
        pos = ex.position(sym)
        mark = ex.mark.get(sym) or pos.entry
        lev = ex.leverage(sym)
        d = {"symbol": sym, "positionSide": "BOTH", "positionAmt": format(pos.size, "f"),
             "unrealizedProfit": _s((mark - pos.entry) * pos.size), "isolatedMargin": "0",
             "notional": _s(pos.size * mark), "isolatedWallet": "0",
             "initialMargin": _s(abs(pos.size) * mark / lev), "maintMargin": "0", "updateTime": pos.updated_ms}
        if short:
            return d
        d.update(entryPrice=format(pos.entry, "f"), breakEvenPrice=format(pos.entry, "f"), markPrice=_s(mark),
                 unRealizedProfit=d.pop("unrealizedProfit"), liquidationPrice="0", marginAsset="USDT",
                 positionInitialMargin=d["initialMargin"], openOrderInitialMargin="0", adl=0,
                 bidNotional="0", askNotional="0")
        return d

    async def position_risk(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        ex = self.exchanges["usdm"]
        out = []
        for sym in ex.markets:
            if p.get("symbol", sym) != sym:
                continue
            if request.path.startswith("/fapi/v3") and not ex.position(sym).size:
                continue
            d = self._position_json(sym)
            if request.path.startswith("/fapi/v2"):
                d.update(leverage=format(ex.leverage(sym), "f"),
                         marginType="isolated" if ex.account.margin_mode == "isolated" else "cross",
                         maxNotionalValue="1000000")
            out.append(d)
        return web.json_response(out)

    async def leverage_bracket(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        brackets = [{"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0,
                     "maintMarginRatio": 0.004, "cum": 0.0},
                    {"bracket": 2, "initialLeverage": 100, "notionalCap": 600000, "notionalFloor": 50000,
                     "maintMarginRatio": 0.005, "cum": 50.0}]
        return web.json_response([{"symbol": m.symbol, "notionalCoef": 1.0, "brackets": brackets}
                                  for m in USDM if p.get("symbol", m.symbol) == m.symbol])

    async def symbol_config(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        ex = self.exchanges["usdm"]
        return web.json_response([{"symbol": m.symbol, "marginType": "ISOLATED" if ex.account.margin_mode == "isolated" else "CROSSED",
                                   "isAutoAddMargin": "false", "leverage": int(ex.leverage(m.symbol)),
                                   "maxNotionalValue": "1000000"} for m in USDM if p.get("symbol", m.symbol) == m.symbol])

    async def set_leverage(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        ex = self.exchanges["usdm"]
        if p.get("symbol") not in ex.markets:
            return self.err(request, 400, -1121, "Invalid symbol.")
        try:
            lev = D(p.get("leverage", ""))
            ex.set_leverage(p["symbol"], lev)
        except (ArithmeticError, EngineError):
            return self.err(request, 400, -4028, "Leverage is not valid")
        return web.json_response({"leverage": int(lev), "maxNotionalValue": "1000000", "symbol": p["symbol"]})

    async def margin_type(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        ex = self.exchanges["usdm"]
        mode = {"ISOLATED": "isolated", "CROSSED": "cross"}.get(p.get("marginType", ""))
        if mode is None or p.get("symbol") not in ex.markets:
            return self.err(request, 400, -1102, "Mandatory parameter 'marginType' was not sent, was empty/null, or malformed.")
        if ex.account.margin_mode == mode:
            return self.err(request, 400, -4046, "No need to change margin type.")
        ex.account.margin_mode = mode
        return web.json_response({"code": 200, "msg": "success"})

    async def commission_rate(self, request: web.Request) -> web.Response:
        bad, p = self.signed(request)
        if bad is not None:
            return bad
        m = USDM[0]
        return web.json_response({"symbol": p.get("symbol", m.symbol), "makerCommissionRate": format(m.maker_fee, "f"),
                                  "takerCommissionRate": format(m.taker_fee, "f")})

    async def listen_key(self, request: web.Request) -> web.Response:
        if (bad := self.keyed(request)) is not None:
            return bad
        if request.method == "POST":
            key = secrets.token_hex(32)
            self.listen_keys.add(key)
            return web.json_response({"listenKey": key})
        return web.json_response({})

    # ------------------------------------------------------------------ websockets

    def _on_engine(self, sec: str, kind: str, payload: object) -> None:
        now = self.server_ms()
        mine = (lambda s: s.meta.get("section") == sec)
        if kind == "order":
            o: EmuOrder = payload  # type: ignore[assignment]
            if o.status in (Status.FILLED, Status.PARTIALLY_FILLED):
                return  # the fill's own report carries this status
            if sec == "spot":
                msg = {"subscriptionId": 0, "event": self._execution_report(o, None)}
            else:
                msg = {"e": "ORDER_TRADE_UPDATE", "T": now, "E": now, "o": self._otu(o, None)}
            self.push(json.dumps(msg), kind="private", select=mine)
        elif kind == "fill":
            f: Fill = payload  # type: ignore[assignment]
            o = self.exchanges[sec].orders[f.order_id]
            if sec == "spot":
                msg = {"subscriptionId": 0, "event": self._execution_report(o, f)}
            else:
                msg = {"e": "ORDER_TRADE_UPDATE", "T": now, "E": now, "o": self._otu(o, f)}
            self.push(json.dumps(msg), kind="private", select=mine)
        elif kind == "position" and sec == "usdm":
            sym, pos = payload  # type: ignore[misc]
            acct = self.exchanges["usdm"].account
            self.push(json.dumps({"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {"m": "ORDER", "B": [
                {"a": c, "wb": _s(b), "cw": _s(b), "bc": "0"} for c, b in acct.balances.items()], "P": [
                {"s": sym, "pa": format(pos.size, "f"), "ep": format(pos.entry, "f"), "bep": format(pos.entry, "f"),
                 "cr": _s(pos.realised), "up": "0", "mt": "cross", "iw": "0", "ps": "BOTH"}]}}),
                kind="private", select=mine)
        elif kind in ("book", "trade"):
            self._push_public(sec, kind, payload)

    def _exec_type(self, o: EmuOrder, f: Fill | None) -> str:
        if f is not None:
            return "TRADE"
        if o.status is Status.CANCELED:
            return "EXPIRED" if o.type == "market" else "CANCELED"
        return "NEW"

    def _execution_report(self, o: EmuOrder, f: Fill | None) -> dict:
        x = self._exec_type(o, f)
        return {
            "e": "executionReport", "E": self.server_ms(), "s": o.symbol, "c": o.client_id, "S": o.side.upper(),
            "o": self._btype(o, False), "f": "GTC" if o.tif == "PostOnly" else o.tif, "q": _s(o.qty),
            "p": _s(o.price), "P": _s(o.trigger_price), "F": "0.00000000", "g": -1,
            "C": o.client_id if x == "CANCELED" else "", "x": x, "X": self._status(o), "r": "NONE",
            "i": int(o.order_id), "l": _s(f.qty if f else D(0)), "z": _s(o.filled),
            "L": _s(f.price if f else D(0)), "n": _s(f.fee if f else D(0)), "N": f.fee_currency if f else None,
            "T": f.ts_ms if f else o.updated_ms, "t": int(f.trade_id) if f else -1, "v": 0, "I": 0,
            "w": o.status.is_open, "m": f.is_maker if f else False, "M": False, "O": o.created_ms,
            "Z": _s(o.cum_quote), "Y": _s(f.price * f.qty if f else D(0)), "Q": "0.00000000",
            "W": o.created_ms, "V": "EXPIRE_MAKER",
        }

    def _otu(self, o: EmuOrder, f: Fill | None) -> dict:
        return {"s": o.symbol, "c": o.client_id, "x": self._exec_type(o, f), "X": self._status(o),
                "i": int(o.order_id), **self._otu_common(o, f)}

    def _otu_common(self, o: EmuOrder, f: Fill | None) -> dict:
        btype = self._btype(o, True)
        return {"S": o.side.upper(), "o": btype, "f": "GTX" if o.tif == "PostOnly" else o.tif,
                "q": format(o.qty, "f"), "p": format(o.price or D(0), "f"), "ap": format(o.avg_price, "f"),
                "sp": format(o.trigger_price or D(0), "f"), "l": format(f.qty if f else D(0), "f"),
                "z": format(o.filled, "f"), "L": format(f.price if f else D(0), "f"),
                "N": f.fee_currency if f else "USDT", "n": _s(f.fee if f else D(0)),
                "T": f.ts_ms if f else o.updated_ms, "t": int(f.trade_id) if f else 0, "b": "0", "a": "0",
                "m": f.is_maker if f else False, "R": o.reduce_only, "wt": "CONTRACT_PRICE", "ot": btype,
                "ps": "BOTH", "cp": False, "rp": "0", "pP": False, "si": 0, "ss": 0, "V": "EXPIRE_MAKER",
                "pm": "NONE", "gtd": 0}

    def _push_public(self, sec: str, kind: str, payload) -> None:
        sym, item = payload
        low = sym.lower()
        now = self.server_ms()
        if kind == "book":
            prev = self._last_u.get((sec, sym), item.first_update_id - 1)
            self._last_u[(sec, sym)] = item.last_update_id
            first = prev + 1 if sec == "spot" else min(item.first_update_id, prev + 1)
            d = {"e": "depthUpdate", "E": now, "s": sym, "U": first, "u": item.last_update_id,
                 "b": [[format(p, "f"), format(q, "f")] for p, q in item.bids],
                 "a": [[format(p, "f"), format(q, "f")] for p, q in item.asks]}
            if sec == "usdm":
                d["T"] = item.ts_ms
                d["pu"] = prev
            for stream in (f"{low}@depth", f"{low}@depth@100ms", f"{low}@depth@0ms", f"{low}@depth@500ms"):
                self._push_stream(sec, stream, d)
            book = self.exchanges[sec].books[sym]
            b, a = book.depth("b", 1), book.depth("a", 1)
            if b and a:
                bt = {"u": item.last_update_id, "s": sym, "b": format(b[0][0], "f"), "B": format(b[0][1], "f"),
                      "a": format(a[0][0], "f"), "A": format(a[0][1], "f")}
                if sec == "usdm":
                    bt.update(e="bookTicker", E=now, T=item.ts_ms)
                self._push_stream(sec, f"{low}@bookTicker", bt)
        else:
            t = {"e": "trade", "E": now, "s": sym, "t": int(item.trade_id) if item.trade_id.isdigit() else 0,
                 "p": format(item.price, "f"), "q": format(item.qty, "f"), "T": item.ts_ms,
                 "m": item.side == "sell", "M": True}
            if sec == "usdm":
                t.pop("M")
                t["X"] = "MARKET"
            self._push_stream(sec, f"{low}@trade", t)

    def _push_stream(self, sec: str, stream: str, data: dict) -> None:
        self.push(json.dumps(data), kind="public", topic=stream, select=lambda s: s.meta.get("section") == sec)

    async def ws_public_spot(self, request: web.Request) -> web.StreamResponse:
        return await self.serve_ws(request, "public", self._public_msg, lambda s: s.meta.update(section="spot"))

    async def ws_public_usdm(self, request: web.Request) -> web.StreamResponse:
        if request.match_info.get("cat") == "private":
            return await self.ws_private_usdm(request)
        return await self.serve_ws(request, "public", self._public_msg, lambda s: s.meta.update(section="usdm"))

    def _public_msg(self, sock: PushSocket, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        method, params = msg.get("method"), msg.get("params") or []
        if method == "SUBSCRIBE":
            sock.topics.update(params)
        elif method == "UNSUBSCRIBE":
            sock.topics.difference_update(params)
        sock.send(json.dumps({"result": None, "id": msg.get("id")}))

    async def ws_private_usdm(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("listenKey") not in self.listen_keys:
            return web.json_response({"code": -1125, "msg": "This listenKey does not exist."}, status=400)

        def on_open(sock: PushSocket) -> None:
            sock.meta["section"] = "usdm"
            sock.authed = True

        return await self.serve_ws(request, "private", lambda s, t: None, on_open)

    async def ws_api(self, request: web.Request) -> web.StreamResponse:
        return await self.serve_ws(request, "private", self._ws_api_msg, lambda s: s.meta.update(section="spot"))

    def _ws_api_msg(self, sock: PushSocket, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        mid, method, params = msg.get("id"), msg.get("method"), dict(msg.get("params") or {})
        if method == "userDataStream.subscribe.signature":
            sig = params.pop("signature", "")
            key = params.get("apiKey", "")
            payload = urlencode(sorted(params.items()))
            ts, window = str(params.get("timestamp", "")), str(params.get("recvWindow", "5000"))
            if key not in self.emu.keys:
                err = {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
            elif hmac_hex(self.emu.keys[key], payload) != sig:
                err = {"code": -1022, "msg": "Signature for this request is not valid."}
            elif not (ts.isdigit() and window.isdigit()
                      and self.server_ms() - int(window) <= int(ts) < self.server_ms() + 1000):
                err = {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
            else:
                err = None
            if err is not None:
                sock.send(json.dumps({"id": mid, "status": 400, "error": err}))
                return
            sock.authed = True
            sock.send(json.dumps({"id": mid, "status": 200, "result": {"subscriptionId": 0}}))
        elif method == "ping":
            sock.send(json.dumps({"id": mid, "status": 200, "result": {}}))
        else:
            sock.send(json.dumps({"id": mid, "status": 400, "error": {"code": -1100, "msg": f"unsupported method {method}"}}))

"""Bybit v5 (unified trading account): REST under ``/v5``, websockets under ``/stream/v5``.

Response shapes and error codes follow Bybit's documentation and the examples ccxt 4.5.90 parses
(see shared research venues.md, section 2.1 and 3.1). One unified account trades both categories.
"""

from __future__ import annotations

import json
from decimal import Decimal

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
from tests.kit.emulator.limits import Cost, Rule, bybit_cost
from tests.kit.emulator.server import BODY, CODE, PushSocket, VenueApp
from tests.kit.emulator.signing import hmac_hex, verify_bybit
from tests.kit.emulator.tape import load_candles, load_funding, load_quote_bars

D = Decimal

MARKETS = [
    MarketSpec("BTCUSDT", "linear", "BTC", "USDT", tick=D("0.5"), lot=D("0.001"), min_qty=D("0.001"),
               max_qty=D("100"), min_notional=D("5"), maker_fee=D("0.0002"), taker_fee=D("0.00055"),
               max_leverage=D("100")),
    MarketSpec("BTCUSDT", "spot", "BTC", "USDT", tick=D("0.01"), lot=D("0.000001"), min_qty=D("0.000048"),
               max_qty=D("71"), min_notional=D("1"), maker_fee=D("0.001"), taker_fee=D("0.001")),
]
DEFAULT_BALANCES = {"USDT": D("100000"), "BTC": D("1")}

ERRORS = {
    Reject.UNKNOWN_SYMBOL: (10001, "params error: symbol invalid"),
    Reject.BAD_QTY: (10001, "params error: Qty invalid"),
    Reject.BAD_PRICE: (10001, "params error: price invalid"),
    Reject.MIN_NOTIONAL: (110094, "Order does not meet minimum order value"),
    Reject.INSUFFICIENT_FUNDS: (110007, "ab not enough for new order"),
    Reject.REDUCE_ONLY: (110017, "current position is zero, cannot fix reduce-only order qty"),
    Reject.DUPLICATE_ID: (110072, "OrderLinkedID is duplicate"),
    Reject.UNKNOWN_ORDER: (110001, "Order does not exist."),
    Reject.NO_LIQUIDITY: (10001, "params error: no liquidity"),
    Reject.FOK: (10001, "params error: FOK cannot be filled"),
}
SPOT_ERRORS = {
    Reject.INSUFFICIENT_FUNDS: (170131, "Insufficient balance."),
    Reject.MIN_NOTIONAL: (170140, "Order value exceeded lower limit."),
    Reject.BAD_QTY: (170136, "Order quantity exceeded lower limit."),
    Reject.DUPLICATE_ID: (170141, "Duplicate clientOrderId."),
    Reject.UNKNOWN_ORDER: (170213, "Order does not exist."),
}
STATUS = {
    Status.NEW: "New", Status.PARTIALLY_FILLED: "PartiallyFilled", Status.FILLED: "Filled",
    Status.CANCELED: "Cancelled", Status.REJECTED: "Rejected", Status.EXPIRED: "Deactivated",
    Status.UNTRIGGERED: "Untriggered",
}


def _s(x: Decimal | None) -> str:
    return "" if x is None else format(x.normalize(), "f") if x == x.to_integral() else format(x, "f")


def _key(symbol: str, kind: str) -> str:
    """Engine symbol: spot and linear BTCUSDT live in one unified account."""
    return symbol if kind == "linear" else f"{symbol}:spot"


class BybitApp(VenueApp):
    name = "bybit"

    def reset_state(self) -> None:
        specs = [MarketSpec(**{**m.__dict__, "symbol": _key(m.symbol, m.kind)}) for m in MARKETS]
        tapes = {
            _key("BTCUSDT", "linear"): load_quote_bars("bybit-linear_BTCUSDT_quote_1m.csv.gz",
                                                       "bybit-linear_BTCUSDT_1m.csv.gz", self.emu.data_dir),
            _key("BTCUSDT", "spot"): load_quote_bars("bybit-spot_BTCUSDT_quote_1m.csv.gz",
                                                     "bybit-spot_BTCUSDT_1m.csv.gz", self.emu.data_dir),
        }
        ex = Exchange("bybit", specs, tapes, self.emu.balances.get("bybit", DEFAULT_BALANCES),
                      post_only_cross="cancel", client_id_scope="all")
        first_ts = tapes[_key("BTCUSDT", "linear")].ts_ms
        ex.funding_schedule["BTCUSDT"] = [(ts, r) for ts, r in self.funding["BTCUSDT"] if ts > first_ts]
        ex.listeners.append(self._on_engine)
        self.exchanges["unified"] = ex
        self.ex = ex

    def setup(self) -> None:
        self.candles = {
            ("linear", "BTCUSDT"): load_candles("bybit-linear_BTCUSDT_1m.csv.gz", self.emu.data_dir),
            ("spot", "BTCUSDT"): load_candles("bybit-spot_BTCUSDT_1m.csv.gz", self.emu.data_dir),
        }
        self.funding = {"BTCUSDT": load_funding("bybit-linear_BTCUSDT_funding.csv.gz", self.emu.data_dir)}
        r = self.app.router
        for path, fn in [
            ("/v5/market/time", self.time), ("/v5/market/instruments-info", self.instruments),
            ("/v5/market/tickers", self.tickers), ("/v5/market/orderbook", self.orderbook),
            ("/v5/market/kline", self.kline), ("/v5/market/funding/history", self.funding_history),
            ("/v5/asset/coin/query-info", self.coin_info), ("/v5/user/query-api", self.query_api),
            ("/v5/account/info", self.account_info), ("/v5/account/wallet-balance", self.wallet),
            ("/v5/account/fee-rate", self.fee_rate), ("/v5/order/realtime", self.realtime),
            ("/v5/order/history", self.order_history), ("/v5/execution/list", self.executions),
            ("/v5/position/list", self.positions),
        ]:
            r.add_get(path, fn)
        for path, fn in [
            ("/v5/order/create", self.create), ("/v5/order/cancel", self.cancel),
            ("/v5/order/cancel-all", self.cancel_all), ("/v5/position/set-leverage", self.set_leverage),
            ("/v5/account/set-margin-mode", self.set_margin_mode),
        ]:
            r.add_post(path, fn)
        r.add_get("/stream/v5/public/{category}", self.ws_public)
        r.add_get("/stream/v5/private", self.ws_private)

    # ------------------------------------------------------------------ plumbing

    def cost(self, request: web.Request, params: dict[str, str]) -> Cost:
        category = params.get("category", "")
        if request.method == "POST":
            try:
                category = json.loads(request[BODY] or "{}").get("category", "")
            except ValueError:
                pass
        return bybit_cost(request.path, category)

    def rate_limited(self, request: web.Request, rule: Rule | None) -> web.Response:
        if rule is not None and rule.name == "bybit.ip":
            request[CODE] = 403
            return web.Response(status=403, text="403 Forbidden: access too frequent")
        return self._json(request, 10006, "Too many visits!")

    def _json(self, request: web.Request | None, code: int = 0, msg: str = "OK", result=None) -> web.Response:
        if request is not None:
            request[CODE] = code
        return web.json_response({
            "retCode": code, "retMsg": msg, "result": {} if result is None else result,
            "retExtInfo": {}, "time": self.server_ms(),
        })

    def ok(self, request: web.Request, result) -> web.Response:
        return self._json(request, 0, "OK", result)

    def err(self, request: web.Request, code: int, msg: str) -> web.Response:
        return self._json(request, code, msg)

    def engine_err(self, request: web.Request, e: EngineError, spot: bool) -> web.Response:
        code, msg = (SPOT_ERRORS.get(e.reject) if spot else None) or ERRORS[e.reject]
        return self.err(request, code, msg)

    def auth(self, request: web.Request) -> web.Response | None:
        fail = verify_bybit(request.headers, request.query_string, request[BODY], request.method,
                            self.emu.keys, self.server_ms())
        if fail is None:
            return None
        if fail.kind in ("missing_key", "bad_key"):
            return self.err(request, 10003, "API key is invalid.")
        if fail.kind == "bad_signature":
            return self.err(request, 10004, f"error sign! origin_string[{fail.detail}]")
        return self.err(request, 10002, "invalid request, please check your server timestamp or recv_window param. " + fail.detail)

    def body(self, request: web.Request) -> dict:
        try:
            return json.loads(request[BODY] or "{}")
        except ValueError:
            return {}

    def spec(self, symbol: str, category: str) -> MarketSpec | None:
        return self.ex.markets.get(_key(symbol, category))

    # ------------------------------------------------------------------ public REST

    async def time(self, request: web.Request) -> web.Response:
        ms = self.server_ms()
        return self.ok(request, {"timeSecond": str(ms // 1000), "timeNano": str(ms * 1_000_000)})

    async def instruments(self, request: web.Request) -> web.Response:
        q = request.query
        category = q.get("category", "")
        items = []
        if q.get("status") != "PreLaunch":
            for m in MARKETS:
                if m.kind == category and q.get("symbol", m.symbol) == m.symbol:
                    items.append(self._instrument(m))
        return self.ok(request, {"category": category, "list": items, "nextPageCursor": ""})

    def _instrument(self, m: MarketSpec) -> dict:
        if m.kind == "spot":
            return {
                "symbol": m.symbol, "baseCoin": m.base, "quoteCoin": m.quote, "innovation": "0",
                "status": "Trading", "marginTrading": "utaOnly", "stTag": "0",
                "lotSizeFilter": {"basePrecision": _s(m.lot), "quotePrecision": "0.00000001",
                                  "minOrderQty": _s(m.min_qty), "maxOrderQty": _s(m.max_qty),
                                  "minOrderAmt": _s(m.min_notional), "maxOrderAmt": "2000000"},
                "priceFilter": {"tickSize": _s(m.tick)},
                "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            }
        return {
            "symbol": m.symbol, "contractType": "LinearPerpetual", "status": "Trading",
            "baseCoin": m.base, "quoteCoin": m.quote, "launchTime": "1585526400000",
            "deliveryTime": "0", "deliveryFeeRate": "", "priceScale": "2",
            "leverageFilter": {"minLeverage": "1", "maxLeverage": _s(m.max_leverage), "leverageStep": "0.01"},
            "priceFilter": {"minPrice": _s(m.tick), "maxPrice": "1999999.80", "tickSize": _s(m.tick)},
            "lotSizeFilter": {"maxOrderQty": _s(m.max_qty), "minOrderQty": _s(m.min_qty),
                              "qtyStep": _s(m.lot), "postOnlyMaxOrderQty": _s(m.max_qty),
                              "maxMktOrderQty": _s(m.max_qty), "minNotionalValue": _s(m.min_notional)},
            "unifiedMarginTrade": True, "fundingInterval": m.funding_interval_h * 60,
            "settleCoin": m.quote, "copyTrading": "both", "upperFundingRate": "0.00375",
            "lowerFundingRate": "-0.00375", "isPreListing": False, "preListingInfo": None,
        }

    async def tickers(self, request: web.Request) -> web.Response:
        category = request.query.get("category", "linear")
        items = []
        for m in MARKETS:
            if m.kind != category or request.query.get("symbol", m.symbol) != m.symbol:
                continue
            key = _key(m.symbol, m.kind)
            items.append(self._ticker(m, key))
        return self.ok(request, {"category": category, "list": items})

    def _ticker(self, m: MarketSpec, key: str) -> dict:
        book = self.ex.books[key]
        last = self.ex.last_price.get(key) or book.mid() or D(0)
        bid, ask = book.depth("b", 1), book.depth("a", 1)
        t = {
            "symbol": m.symbol, "lastPrice": _s(last), "prevPrice24h": _s(last), "price24hPcnt": "0",
            "highPrice24h": _s(last), "lowPrice24h": _s(last), "turnover24h": "0", "volume24h": "0",
            "bid1Price": _s(bid[0][0]) if bid else "", "bid1Size": _s(bid[0][1]) if bid else "",
            "ask1Price": _s(ask[0][0]) if ask else "", "ask1Size": _s(ask[0][1]) if ask else "",
        }
        if m.kind == "spot":
            t["usdIndexPrice"] = _s(last)
        else:
            mark = self.ex.mark.get(key) or last
            rates = self.funding.get(m.symbol) or [(0, D(0))]
            t.update({"markPrice": _s(mark), "indexPrice": _s(mark), "openInterest": "0",
                      "openInterestValue": "0", "fundingRate": _s(rates[-1][1]),
                      "nextFundingTime": str(_next_funding(self.server_ms(), m.funding_interval_h)),
                      "predictedDeliveryPrice": "", "basisRate": "", "deliveryFeeRate": "",
                      "deliveryTime": "0", "basis": "", "fundingIntervalHour": str(m.funding_interval_h)})
        return t

    async def orderbook(self, request: web.Request) -> web.Response:
        q = request.query
        m = self.spec(q.get("symbol", ""), q.get("category", "linear"))
        if m is None:
            return self.err(request, 10001, "params error: symbol invalid")
        book = self.ex.books[m.symbol if m.kind == "linear" else _key(m.symbol, "spot")]
        n = int(q.get("limit", "25"))
        return self.ok(request, self._book_data(m.symbol, book, n))

    def _book_data(self, symbol: str, book, n: int) -> dict:
        return {"s": symbol, "b": [[_s(p), _s(q)] for p, q in book.depth("b", n)],
                "a": [[_s(p), _s(q)] for p, q in book.depth("a", n)], "ts": book.ts_ms,
                "u": book.last_update_id, "seq": book.last_update_id, "cts": book.ts_ms}

    async def kline(self, request: web.Request) -> web.Response:
        q = request.query
        category = q.get("category", "linear")
        candles = self.candles.get((category, q.get("symbol", "")))
        if candles is None:
            return self.err(request, 10001, "params error: symbol invalid")
        minutes = history.bybit_interval_minutes(q.get("interval", ""))
        if minutes is None:
            return self.err(request, 10001, "params error: interval invalid")
        rows = history.select(history.resample(candles, minutes), q.get("start"), q.get("end"),
                              int(q.get("limit", "200")), 1000, newest_first=True)
        out = [[str(c.ts_ms), c.open, c.high, c.low, c.close, c.volume, history.turnover(c)] for c in rows]
        return self.ok(request, {"symbol": q.get("symbol"), "category": category, "list": out})

    async def funding_history(self, request: web.Request) -> web.Response:
        q = request.query
        rates = self.funding.get(q.get("symbol", ""))
        if rates is None:
            return self.err(request, 10001, "params error: symbol invalid")
        if q.get("startTime") and not q.get("endTime"):
            return self.err(request, 10001, "params error: startTime and endTime must be passed together")
        rows = history.select_points(rates, q.get("startTime"), q.get("endTime"),
                                     int(q.get("limit", "200")), 200, newest_first=True)
        out = [{"symbol": q["symbol"], "fundingRate": _s(r), "fundingRateTimestamp": str(ts)} for ts, r in rows]
        return self.ok(request, {"category": "linear", "list": out})

    # ------------------------------------------------------------------ account

    async def coin_info(self, request: web.Request) -> web.Response:
        if (bad := self.auth(request)) is not None:
            return bad
        rows = [{"name": c, "coin": c, "remainAmount": "1000000", "chains": [{
            "chain": c, "chainType": c, "confirmation": "1", "withdrawFee": "0", "depositMin": "0",
            "withdrawMin": "0", "minAccuracy": "8", "chainDeposit": "1", "chainWithdraw": "1",
            "withdrawPercentageFee": "0", "contractAddress": ""}]} for c in ("BTC", "USDT")]
        return self.ok(request, {"rows": rows})

    async def query_api(self, request: web.Request) -> web.Response:
        if (bad := self.auth(request)) is not None:
            return bad
        return self.ok(request, {"id": "1", "note": "emulator", "apiKey": request.headers["X-BAPI-API-KEY"],
                                 "readOnly": 0, "secret": "", "permissions": {"ContractTrade": ["Order", "Position"],
                                 "Spot": ["SpotTrade"], "Wallet": ["AccountTransfer"]}, "ips": ["*"], "type": 1,
                                 "deadlineDay": 90, "expiredAt": "", "createdAt": "", "unified": 0, "uta": 1,
                                 "userID": 1, "inviterID": 0, "vipLevel": "No VIP", "mktMakerLevel": "0",
                                 "affiliateID": 0, "rsaPublicKey": "", "isMaster": True})

    async def account_info(self, request: web.Request) -> web.Response:
        if (bad := self.auth(request)) is not None:
            return bad
        mode = "ISOLATED_MARGIN" if self.ex.account.margin_mode == "isolated" else "REGULAR_MARGIN"
        return self.ok(request, {"unifiedMarginStatus": 6, "marginMode": mode, "isMasterTrader": False,
                                 "spotHedgingStatus": "OFF", "updatedTime": str(self.server_ms()),
                                 "dcpStatus": "OFF", "timeWindow": 10, "smpGroup": 0})

    async def wallet(self, request: web.Request) -> web.Response:
        if (bad := self.auth(request)) is not None:
            return bad
        acct = self.ex.account
        coins = []
        for cur, bal in sorted(acct.balances.items()):
            pos_im, upnl = self._position_margin(cur)
            locked = D(0)
            order_im = D(0)
            for o in self.ex.open_orders():
                if o.lock_currency == cur:
                    if self.ex.markets[o.symbol].is_spot:
                        locked += o.locked
                    else:
                        order_im += o.locked
            coins.append({
                "coin": cur, "walletBalance": _s(bal), "equity": _s(bal + upnl), "usdValue": _s(bal),
                "locked": _s(locked), "totalOrderIM": _s(order_im), "totalPositionIM": _s(pos_im),
                "totalPositionMM": "0", "unrealisedPnl": _s(upnl), "cumRealisedPnl": "0",
                "borrowAmount": "0", "availableToWithdraw": "", "availableToBorrow": "", "bonus": "0",
                "accruedInterest": "0", "collateralSwitch": True, "marginCollateral": True,
                "spotHedgingQty": "0",
            })
        total = sum((acct.balances.get(c, D(0)) for c in ("USDT",)), D(0))
        return self.ok(request, {"list": [{
            "accountType": "UNIFIED", "totalEquity": _s(total), "totalWalletBalance": _s(total),
            "totalMarginBalance": _s(total), "totalAvailableBalance": _s(total), "totalPerpUPL": "0",
            "totalInitialMargin": "0", "totalMaintenanceMargin": "0", "accountIMRate": "0",
            "accountMMRate": "0", "accountLTV": "0", "coin": coins}]})

    def _position_margin(self, cur: str) -> tuple[Decimal, Decimal]:
        im, upnl = D(0), D(0)
        for sym, pos in self.ex.account.positions.items():
            m = self.ex.markets[sym]
            if m.is_spot or not pos.size or m.quote != cur:
                continue
            mark = self.ex.mark.get(sym) or pos.entry
            im += abs(pos.size) * pos.entry / self.ex.leverage(sym)
            upnl += (mark - pos.entry) * pos.size
        return im, upnl

    async def fee_rate(self, request: web.Request) -> web.Response:
        if (bad := self.auth(request)) is not None:
            return bad
        category = request.query.get("category", "linear")
        items = [{"symbol": m.symbol, "baseCoin": m.base if category == "spot" else "",
                  "makerFeeRate": _s(m.maker_fee), "takerFeeRate": _s(m.taker_fee)}
                 for m in MARKETS if m.kind == category
                 and request.query.get("symbol", m.symbol) == m.symbol]
        return self.ok(request, {"category": category, "list": items})

    async def set_margin_mode(self, request: web.Request) -> web.Response:
        if (bad := self.auth(request)) is not None:
            return bad
        mode = self.body(request).get("setMarginMode", "")
        if mode not in ("ISOLATED_MARGIN", "REGULAR_MARGIN", "PORTFOLIO_MARGIN"):
            return self.err(request, 10001, "params error: setMarginMode invalid")
        self.ex.account.margin_mode = "isolated" if mode == "ISOLATED_MARGIN" else "cross"
        return self.ok(request, {"reasons": []})

    async def set_leverage(self, request: web.Request) -> web.Response:
        if (bad := self.auth(request)) is not None:
            return bad
        b = self.body(request)
        if b.get("category") != "linear" or self.spec(b.get("symbol", ""), "linear") is None:
            return self.err(request, 10001, "params error: symbol invalid")
        buy, sell = b.get("buyLeverage"), b.get("sellLeverage")
        if buy is None or buy != sell:
            return self.err(request, 10001, "params error: buyLeverage must equal sellLeverage")
        try:
            changed = self.ex.set_leverage(b["symbol"], D(buy))
        except (EngineError, ArithmeticError):
            return self.err(request, 10001, "params error: leverage invalid")
        if not changed:
            return self.err(request, 110043, "Set leverage not modified")
        return self.ok(request, {})

    async def positions(self, request: web.Request) -> web.Response:
        if (bad := self.auth(request)) is not None:
            return bad
        q = request.query
        if q.get("category") != "linear":
            return self.err(request, 10001, "params error: category only support linear or inverse")
        if not q.get("symbol") and not q.get("settleCoin"):
            return self.err(request, 10001, "params error: symbol or settleCoin is required")
        items = []
        for m in MARKETS:
            if m.kind != "linear" or q.get("symbol", m.symbol) != m.symbol:
                continue
            if q.get("settleCoin", m.quote) != m.quote:
                continue
            pos = self.ex.position(m.symbol)
            if not pos.size and not q.get("symbol"):
                continue
            items.append(self._position(m.symbol, pos))
        return self.ok(request, {"category": "linear", "list": items, "nextPageCursor": ""})

    def _position(self, symbol: str, pos) -> dict:
        mark = self.ex.mark.get(symbol) or pos.entry
        lev = self.ex.leverage(symbol)
        size = abs(pos.size)
        return {
            "positionIdx": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": symbol,
            "side": "" if not pos.size else ("Buy" if pos.size > 0 else "Sell"), "size": _s(size),
            "avgPrice": _s(pos.entry), "positionValue": _s(size * pos.entry), "tradeMode": 1 if self.ex.account.margin_mode == "isolated" else 0,
            "positionStatus": "Normal", "autoAddMargin": 0, "adlRankIndicator": 0,
            "leverage": _s(lev), "positionBalance": "0", "markPrice": _s(mark), "liqPrice": "",
            "bustPrice": "", "positionMM": "0", "positionIM": _s(size * pos.entry / lev),
            "tpslMode": "Full", "takeProfit": "0", "stopLoss": "0", "trailingStop": "0",
            "unrealisedPnl": _s((mark - pos.entry) * pos.size), "curRealisedPnl": _s(pos.realised),
            "cumRealisedPnl": _s(pos.realised), "seq": 1, "isReduceOnly": False,
            "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": "", "sessionAvgPrice": "",
            "createdTime": str(pos.updated_ms), "updatedTime": str(pos.updated_ms),
        }

    # ------------------------------------------------------------------ orders

    async def create(self, request: web.Request) -> web.Response:
        if (bad := self.auth(request)) is not None:
            return bad
        b = self.body(request)
        category, symbol = b.get("category", ""), b.get("symbol", "")
        m = self.spec(symbol, category)
        if m is None:
            return self.err(request, 10001, f"params error: category/symbol {category}/{symbol} invalid")
        spot = m.kind == "spot"
        side = {"Buy": "buy", "Sell": "sell"}.get(b.get("side", ""))
        otype = {"Limit": "limit", "Market": "market"}.get(b.get("orderType", ""))
        if side is None or otype is None:
            return self.err(request, 10001, "params error: side or orderType invalid")
        if spot and "reduceOnly" in b and b["reduceOnly"]:
            return self.err(request, 170130, "Data sent for paramter 'reduceOnly' is not valid.")
        if spot and otype == "market" and side == "buy" and b.get("marketUnit") != "baseCoin":
            return self.err(request, 10001, "params error: emulator supports marketUnit=baseCoin only")
        link = b.get("orderLinkId", "")
        if len(link) > 36:
            return self.err(request, 10001, "params error: orderLinkId is too long")
        try:
            qty = D(str(b.get("qty", "")))
            price = D(str(b["price"])) if otype == "limit" and "price" in b else None
            trigger = D(str(b["triggerPrice"])) if b.get("triggerPrice") else None
        except ArithmeticError:
            return self.err(request, 10001, "params error: qty or price invalid")
        tif = b.get("timeInForce", "GTC" if otype == "limit" else "IOC")
        if tif not in ("GTC", "IOC", "FOK", "PostOnly"):
            return self.err(request, 10001, "params error: timeInForce invalid")
        direction = int(b.get("triggerDirection", 0) or 0)
        if trigger is not None and not spot and direction not in (1, 2):
            return self.err(request, 10001, "params error: triggerDirection invalid")
        try:
            order = self.ex.place(_key(symbol, category), side, otype, qty, price, tif=tif,
                                  reduce_only=bool(b.get("reduceOnly", False)), client_id=link,
                                  trigger_price=trigger, trigger_direction=direction)
        except EngineError as e:
            return self.engine_err(request, e, spot)
        return self.ok(request, {"orderId": order.order_id, "orderLinkId": order.client_id})

    async def cancel(self, request: web.Request) -> web.Response:
        if (bad := self.auth(request)) is not None:
            return bad
        b = self.body(request)
        category, symbol = b.get("category", ""), b.get("symbol", "")
        m = self.spec(symbol, category)
        if m is None:
            return self.err(request, 10001, "params error: symbol invalid")
        if not b.get("orderId") and not b.get("orderLinkId"):
            return self.err(request, 10001, "params error: orderId or orderLinkId is required")
        try:
            order = self.ex.cancel(_key(symbol, category), order_id=b.get("orderId", ""),
                                   client_id=b.get("orderLinkId", ""))
        except EngineError as e:
            return self.engine_err(request, e, m.kind == "spot")
        return self.ok(request, {"orderId": order.order_id, "orderLinkId": order.client_id})

    async def cancel_all(self, request: web.Request) -> web.Response:
        if (bad := self.auth(request)) is not None:
            return bad
        b = self.body(request)
        category = b.get("category", "")
        symbol = b.get("symbol")
        done = [o for o in self.ex.cancel_all(_key(symbol, category) if symbol else None)
                if self.ex.markets[o.symbol].kind == category]
        return self.ok(request, {"list": [{"orderId": o.order_id, "orderLinkId": o.client_id} for o in done],
                                 "success": "1"})

    def _orders_query(self, request: web.Request, open_: bool) -> web.Response:
        q = request.query
        category = q.get("category", "")
        if category not in ("spot", "linear"):
            return self.err(request, 10001, "params error: category invalid")
        if category == "linear" and open_ and not (q.get("symbol") or q.get("settleCoin") or q.get("baseCoin")):
            return self.err(request, 10001, "params error: symbol, settleCoin or baseCoin is required")
        orders = self.ex.open_orders() if open_ else self.ex.closed_orders()
        if open_ and q.get("openOnly") == "1":
            orders = self.ex.closed_orders()[-500:]
        out = []
        for o in sorted(orders, key=lambda o: o.created_ms, reverse=True):
            m = self.ex.markets[o.symbol]
            if m.kind != category or q.get("symbol", m.symbol.split(":")[0]) != m.symbol.split(":")[0]:
                continue
            if q.get("orderId") and q["orderId"] != o.order_id:
                continue
            if q.get("orderLinkId") and q["orderLinkId"] != o.client_id:
                continue
            if q.get("orderStatus") and q["orderStatus"] != self._status(o):
                continue
            out.append(self._order(o))
        page, cursor = _page(out, q.get("cursor", ""), q.get("limit", "20"), 50)
        return self.ok(request, {"category": category, "list": page, "nextPageCursor": cursor})

    async def realtime(self, request: web.Request) -> web.Response:
        if (bad := self.auth(request)) is not None:
            return bad
        return self._orders_query(request, True)

    async def order_history(self, request: web.Request) -> web.Response:
        if (bad := self.auth(request)) is not None:
            return bad
        return self._orders_query(request, False)

    def _status(self, o: EmuOrder) -> str:
        if o.status is Status.CANCELED and o.filled > 0:
            return "PartiallyFilledCanceled"
        return STATUS[o.status]

    def _order(self, o: EmuOrder, ws: bool = False) -> dict:
        m = self.ex.markets[o.symbol]
        symbol = o.symbol.split(":")[0]
        d = {
            "symbol": symbol, "orderType": "Limit" if o.type == "limit" else "Market",
            "orderLinkId": o.client_id, "orderId": o.order_id,
            "cancelType": "UNKNOWN" if o.status is not Status.CANCELED else
            ("CancelByUser" if o.cancel_reason == "CancelByUser" else "UNKNOWN"),
            "avgPrice": _s(o.avg_price) if o.filled else ("" if m.is_spot else "0"),
            "orderStatus": self._status(o), "cumExecValue": _s(o.cum_quote), "cumExecFee": _s(o.cum_fee),
            "cumExecQty": _s(o.filled), "price": _s(o.price) if o.price is not None else "0",
            "qty": _s(o.qty), "leavesQty": _s(o.leaves if o.status.is_open else D(0)),
            "leavesValue": _s(o.leaves * (o.price or D(0)) if o.status.is_open else D(0)),
            "createdTime": str(o.created_ms), "updatedTime": str(o.updated_ms),
            "side": "Buy" if o.side == "buy" else "Sell",
            "timeInForce": o.tif, "positionIdx": 0, "reduceOnly": o.reduce_only, "closeOnTrigger": False,
            "triggerPrice": _s(o.trigger_price) if o.trigger_price is not None else "",
            "triggerDirection": o.trigger_direction, "triggerBy": "LastPrice" if o.trigger_price else "",
            "stopOrderType": "Stop" if o.trigger_price is not None else "",
            "takeProfit": "", "stopLoss": "", "tpTriggerBy": "", "slTriggerBy": "",
            "rejectReason": "EC_PostOnlyWillTakeLiquidity" if o.cancel_reason == "EC_PostOnlyWillTakeLiquidity"
            else "EC_NoError", "cumFeeDetail": {o.fee_currency: _s(o.cum_fee)} if o.fee_currency else {},
            "isLeverage": "", "orderIv": "", "blockTradeId": "", "smpType": "None", "smpGroup": 0,
            "smpOrderId": "", "placeType": "", "lastPriceOnCreated": "",
        }
        if ws:
            d["category"] = m.kind
            d["feeCurrency"] = o.fee_currency if m.is_spot else ""
        return d

    async def executions(self, request: web.Request) -> web.Response:
        if (bad := self.auth(request)) is not None:
            return bad
        q = request.query
        category = q.get("category", "")
        out = []
        for f in reversed(self.ex.fills):
            m = self.ex.markets[f.symbol]
            if m.kind != category or q.get("symbol", m.symbol.split(":")[0]) != m.symbol.split(":")[0]:
                continue
            if q.get("orderId") and q["orderId"] != f.order_id:
                continue
            if q.get("orderLinkId") and q["orderLinkId"] != f.client_id:
                continue
            if q.get("startTime") and f.ts_ms < int(q["startTime"]):
                continue
            if q.get("endTime") and f.ts_ms > int(q["endTime"]):
                continue
            out.append(self._execution(f))
        page, cursor = _page(out, q.get("cursor", ""), q.get("limit", "50"), 100)
        return self.ok(request, {"category": category, "list": page, "nextPageCursor": cursor})

    def _execution(self, f: Fill, ws: bool = False) -> dict:
        m = self.ex.markets[f.symbol]
        o = self.ex.orders[f.order_id]
        d = {
            "symbol": f.symbol.split(":")[0], "orderType": "Limit" if o.type == "limit" else "Market",
            "underlyingPrice": "", "orderLinkId": f.client_id, "side": "Buy" if f.side == "buy" else "Sell",
            "indexPrice": "", "orderId": f.order_id, "stopOrderType": "UNKNOWN",
            "leavesQty": _s(o.leaves), "execTime": str(f.ts_ms), "isMaker": f.is_maker,
            "execFee": _s(f.fee), "feeRate": _s(f.fee_rate), "execId": f.trade_id, "tradeIv": "",
            "blockTradeId": "", "markPrice": _s(self.ex.mark.get(f.symbol) or f.price),
            "execPrice": _s(f.price), "markIv": "", "orderQty": _s(o.qty),
            "orderPrice": _s(o.price) if o.price is not None else "0", "execValue": _s(f.price * f.qty),
            "execType": "Trade", "execQty": _s(f.qty), "closedSize": "0", "seq": f.seq,
            "feeCurrency": f.fee_currency,
        }
        if ws:
            d["category"] = m.kind
            d["isLeverage"] = "0"
        return d

    # ------------------------------------------------------------------ websockets

    def _on_engine(self, kind: str, payload: object) -> None:
        now = self.server_ms()
        if kind == "order":
            data = self._order(payload, ws=True)  # type: ignore[arg-type]
            self.push(json.dumps({"id": f"emu-{now}", "topic": "order", "creationTime": now, "data": [data]}),
                      kind="private", topic="order")
        elif kind == "fill":
            data = self._execution(payload, ws=True)  # type: ignore[arg-type]
            self.push(json.dumps({"id": f"emu-{now}", "topic": "execution", "creationTime": now, "data": [data]}),
                      kind="private", topic="execution")
        elif kind == "position":
            symbol, pos = payload  # type: ignore[misc]
            if not self.ex.markets[symbol].is_spot:
                data = self._position(symbol, pos)
                data["category"] = "linear"
                self.push(json.dumps({"id": f"emu-{now}", "topic": "position", "creationTime": now,
                                      "data": [data]}), kind="private", topic="position")
        elif kind in ("book", "trade"):
            symbol, item = payload  # type: ignore[misc]
            m = self.ex.markets[symbol]
            category = "spot" if m.is_spot else "linear"
            sym = symbol.split(":")[0]
            self._push_public(category, sym, kind, item)

    def _push_public(self, category: str, sym: str, kind: str, item) -> None:
        now = self.server_ms()
        key = _key(sym, category)
        if kind == "book":
            book = self.ex.books[key]
            for depth in (1, 50, 200, 500, 1000):
                topic = f"orderbook.{depth}.{sym}"
                data = self._book_data(sym, book, depth)
                self.push(json.dumps({"topic": topic, "type": "snapshot", "ts": now, "data": data, "cts": book.ts_ms}),
                          kind="public", topic=topic, select=lambda s: s.meta.get("category") == category)
            topic = f"tickers.{sym}"
            m = self.spec(sym, category)
            self.push(json.dumps({"topic": topic, "type": "snapshot", "cs": book.last_update_id, "ts": now,
                                  "data": self._ticker(m, key)}),  # type: ignore[arg-type]
                      kind="public", topic=topic, select=lambda s: s.meta.get("category") == category)
        else:
            topic = f"publicTrade.{sym}"
            trade = {"T": item.ts_ms, "s": sym, "S": "Buy" if item.side == "buy" else "Sell",
                     "v": _s(item.qty), "p": _s(item.price), "L": "PlusTick", "i": item.trade_id, "BT": False}
            self.push(json.dumps({"topic": topic, "type": "snapshot", "ts": now, "data": [trade]}),
                      kind="public", topic=topic, select=lambda s: s.meta.get("category") == category)

    async def ws_public(self, request: web.Request) -> web.StreamResponse:
        category = request.match_info["category"]
        if category not in ("spot", "linear"):
            raise web.HTTPNotFound()

        def on_open(sock: PushSocket) -> None:
            sock.meta["category"] = category

        return await self.serve_ws(request, "public", self._public_msg, on_open)

    def _public_msg(self, sock: PushSocket, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        op, req_id = msg.get("op"), msg.get("req_id")
        if op == "ping":
            sock.send(json.dumps({"success": True, "ret_msg": "pong", "conn_id": "emu", "req_id": req_id, "op": "ping"}))
        elif op in ("subscribe", "unsubscribe"):
            args = msg.get("args", [])
            for topic in args:
                (sock.topics.add if op == "subscribe" else sock.topics.discard)(topic)
            sock.send(json.dumps({"success": True, "ret_msg": "", "conn_id": "emu", "req_id": req_id, "op": op}))
            if op == "subscribe":
                category = str(sock.meta["category"])
                for topic in args:
                    self._initial_public(sock, category, topic)

    def _initial_public(self, sock: PushSocket, category: str, topic: str) -> None:
        parts = topic.split(".")
        sym = parts[-1]
        m = self.spec(sym, category)
        if m is None:
            return
        key = _key(sym, category)
        book = self.ex.books[key]
        now = self.server_ms()
        if parts[0] == "orderbook":
            sock.send(json.dumps({"topic": topic, "type": "snapshot", "ts": now,
                                  "data": self._book_data(sym, book, int(parts[1])), "cts": book.ts_ms}))
        elif parts[0] == "tickers":
            sock.send(json.dumps({"topic": topic, "type": "snapshot", "cs": book.last_update_id, "ts": now,
                                  "data": self._ticker(m, key)}))

    async def ws_private(self, request: web.Request) -> web.StreamResponse:
        return await self.serve_ws(request, "private", self._private_msg)

    def _private_msg(self, sock: PushSocket, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        op, req_id = msg.get("op"), msg.get("req_id")
        if op == "auth":
            args = msg.get("args") or ["", "0", ""]
            key, expires, sig = (list(args) + ["", "", ""])[:3]
            ok = (key in self.emu.keys and str(expires).isdigit() and int(expires) > self.server_ms()
                  and hmac_hex(self.emu.keys[key], f"GET/realtime{expires}") == sig)
            sock.authed = ok
            sock.send(json.dumps({"success": ok, "ret_msg": "" if ok else "Request not authorized",
                                  "op": "auth", "conn_id": "emu", "req_id": req_id}))
        elif op == "ping":
            sock.send(json.dumps({"req_id": req_id, "op": "pong", "args": [str(self.server_ms())], "conn_id": "emu"}))
        elif op in ("subscribe", "unsubscribe"):
            if not sock.authed:
                sock.send(json.dumps({"success": False, "ret_msg": "Request not authorized", "op": op,
                                      "conn_id": "emu", "req_id": req_id}))
                return
            for topic in msg.get("args", []):
                (sock.topics.add if op == "subscribe" else sock.topics.discard)(topic)
            sock.send(json.dumps({"success": True, "ret_msg": "", "op": op, "conn_id": "emu", "req_id": req_id}))


def _page(items: list, cursor: str, limit: str, max_limit: int) -> tuple[list, str]:
    """Bybit's cursor paging: the cursor is opaque to clients (here: the next offset);
    ``nextPageCursor`` is "" on the last page (ccxt stops on "")."""
    start = int(cursor) if cursor.isdigit() else 0
    n = max(1, min(int(limit) if limit.isdigit() else 20, max_limit))
    end = start + n
    return items[start:end], str(end) if end < len(items) else ""


def _next_funding(now_ms: int, hours: int) -> int:
    step = hours * 3_600_000
    return (now_ms // step + 1) * step


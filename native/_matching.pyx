# cython: language_level=3
"""Simulated matching core in Cython; twin of ``native/reference/matching.py``.

The rules (price paths, gaps, stops, queue position, book depletion) are documented in the
reference module and implemented here step for step, so both produce the same records for the
same calls. Resting orders are a C array of structs in arrival order; each book side is two
parallel C arrays (integer tick keys, float lot sizes) sorted ascending with the best level last
(bids keyed by price, asks by -price), updated by binary search and ``memmove``. Nothing in the
per-update loops creates a Python object; records are kept in C arrays until ``drain``.
"""

from cpython.float cimport PyFloat_AS_DOUBLE, PyFloat_CheckExact
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.tuple cimport PyTuple_CheckExact, PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.math cimport floor, isfinite
from libc.string cimport memmove

BUY = 1
SELL = -1
MARKET = 0
LIMIT = 1
STOP_MARKET = 2
STOP_LIMIT = 3
FILL = 0
TRIGGER = 1
EXPIRE = 2
PATH_CLOSE = 0
PATH_OPEN_CLOSE = 1
PATH_OHLC = 2
GAP = 0
CONT = 1
TICK = 2
EPS = 1e-6
NONE = -1

cdef double C_EPS = 1e-6

cdef enum:
    K_MARKET = 0
    K_LIMIT = 1
    K_STOP_MARKET = 2
    K_STOP_LIMIT = 3
    R_FILL = 0
    R_TRIGGER = 1
    R_EXPIRE = 2
    M_GAP = 0
    M_CONT = 1
    M_TICK = 2

cdef long long C_NONE = -1


cdef struct Order:
    long long handle
    int side
    int kind
    long long price
    long long trigger
    long long remaining
    double queue_ahead
    long long seq
    bint taker
    bint ioc


cdef struct Record:
    int code
    long long handle
    long long lots
    long long price
    bint maker


cdef struct Hit:
    long long dist
    long long seq
    Py_ssize_t idx
    long long price
    long long trig
    bint maker


cdef struct Side:
    long long* key
    double* size
    Py_ssize_t n
    Py_ssize_t cap
    long long sign


cdef inline long long _whole(double x) noexcept nogil:
    return <long long>floor(x + C_EPS)


cdef inline long long _min(long long a, long long b) noexcept nogil:
    return a if a < b else b


cdef int _side_init(Side* s, long long sign) except -1:
    s.cap = 64
    s.n = 0
    s.sign = sign
    s.key = <long long*>PyMem_Malloc(s.cap * sizeof(long long))
    s.size = <double*>PyMem_Malloc(s.cap * sizeof(double))
    if s.key == NULL or s.size == NULL:
        raise MemoryError()
    return 0


cdef inline Py_ssize_t _lower_bound(Side* s, long long key) noexcept nogil:
    cdef Py_ssize_t lo = 0, hi = s.n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if s.key[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef int _side_set(Side* s, long long price, double size) except -1:
    cdef long long key = price * s.sign
    cdef Py_ssize_t i = _lower_bound(s, key)
    cdef bint found = i < s.n and s.key[i] == key
    cdef Py_ssize_t cap
    cdef long long* k
    cdef double* z
    if size <= 0.0:
        if found:
            memmove(&s.key[i], &s.key[i + 1], (s.n - i - 1) * sizeof(long long))
            memmove(&s.size[i], &s.size[i + 1], (s.n - i - 1) * sizeof(double))
            s.n -= 1
        return 0
    if found:
        s.size[i] = size
        return 0
    if s.n == s.cap:
        cap = s.cap * 2
        k = <long long*>PyMem_Realloc(s.key, cap * sizeof(long long))
        if k == NULL:
            raise MemoryError()
        s.key = k
        z = <double*>PyMem_Realloc(s.size, cap * sizeof(double))
        if z == NULL:
            raise MemoryError()
        s.size = z
        s.cap = cap
    memmove(&s.key[i + 1], &s.key[i], (s.n - i) * sizeof(long long))
    memmove(&s.size[i + 1], &s.size[i], (s.n - i) * sizeof(double))
    s.key[i] = key
    s.size[i] = size
    s.n += 1
    return 0


cdef inline double _side_get(Side* s, long long price) noexcept nogil:
    cdef long long key = price * s.sign
    cdef Py_ssize_t i = _lower_bound(s, key)
    if i < s.n and s.key[i] == key:
        return s.size[i]
    return 0.0


cdef inline long long _side_best(Side* s) noexcept nogil:
    return s.key[s.n - 1] * s.sign if s.n > 0 else C_NONE


cdef inline bint _beyond(int side, long long price, long long limit) noexcept nogil:
    """True if ``price`` is worse than ``limit`` for a taker on ``side`` (limit 0: none)."""
    if limit <= 0:
        return False
    return price > limit if side == 1 else price < limit


cdef inline long long _ticks(double x, double tick, str name) except? -2:
    if not (isfinite(x) and x > 0.0):
        raise ValueError(f"{name}: must be finite and > 0, got {x!r}")
    return <long long>floor(x / tick + 0.5)


cdef inline double _lots(double x, double lot, str name) except? -2.0:
    if not (isfinite(x) and x >= 0.0):
        raise ValueError(f"{name}: must be finite and >= 0, got {x!r}")
    return x / lot


cdef inline bint _reach_buy(Order* o, long long s0, long long s1, int mode, Hit* h) noexcept nogil:
    cdef long long dist, at
    h.trig = C_NONE
    if o.kind == K_MARKET:
        if mode == M_CONT:
            return False
        h.dist = 0; h.price = s1; h.maker = False
        return True
    if o.kind == K_LIMIT:
        if mode == M_CONT:
            if (s0 if s0 < s1 else s1) <= o.price:
                h.dist = s0 - o.price; h.price = o.price; h.maker = True
                return True
            return False
        if s1 > o.price:
            return False
        h.dist = 0
        if mode == M_GAP or o.taker:
            h.price = s1; h.maker = not o.taker
        else:
            h.price = o.price; h.maker = True
        return True
    if mode == M_CONT:
        if (s0 if s0 > s1 else s1) < o.trigger:
            return False
        dist = o.trigger - s0
        at = o.trigger
    else:
        if s1 < o.trigger:
            return False
        dist = 0
        at = s1
    h.dist = dist; h.maker = False; h.trig = at
    if o.kind == K_STOP_MARKET or at <= o.price:
        h.price = at
    else:
        h.price = C_NONE
    return True


cdef inline bint _reach_sell(Order* o, long long s0, long long s1, int mode, Hit* h) noexcept nogil:
    cdef long long dist, at
    h.trig = C_NONE
    if o.kind == K_MARKET:
        if mode == M_CONT:
            return False
        h.dist = 0; h.price = s1; h.maker = False
        return True
    if o.kind == K_LIMIT:
        if mode == M_CONT:
            if (s0 if s0 > s1 else s1) >= o.price:
                h.dist = o.price - s0; h.price = o.price; h.maker = True
                return True
            return False
        if s1 < o.price:
            return False
        h.dist = 0
        if mode == M_GAP or o.taker:
            h.price = s1; h.maker = not o.taker
        else:
            h.price = o.price; h.maker = True
        return True
    if mode == M_CONT:
        if (s0 if s0 < s1 else s1) > o.trigger:
            return False
        dist = s0 - o.trigger
        at = o.trigger
    else:
        if s1 > o.trigger:
            return False
        dist = 0
        at = s1
    h.dist = dist; h.maker = False; h.trig = at
    if o.kind == K_STOP_MARKET or at >= o.price:
        h.price = at
    else:
        h.price = C_NONE
    return True


cdef class Matcher:
    """Resting orders of one instrument (and its L2 book in book mode), in ticks and lots."""

    cdef readonly double tick_size
    cdef readonly double lot_size
    cdef readonly bint book
    cdef readonly long long last_bid
    cdef readonly long long last_ask
    cdef Order* _orders
    cdef Py_ssize_t _n
    cdef Py_ssize_t _cap
    cdef Record* _records
    cdef Py_ssize_t _nrec
    cdef Py_ssize_t _rcap
    cdef Hit* _hits
    cdef Py_ssize_t _hcap
    cdef long long _seq
    cdef Side _bids
    cdef Side _asks

    def __cinit__(self):
        self._orders = NULL
        self._records = NULL
        self._hits = NULL
        self._bids.key = NULL
        self._bids.size = NULL
        self._asks.key = NULL
        self._asks.size = NULL

    def __init__(self, tick_size, lot_size, book=False):
        self.tick_size = _positive("tick_size", tick_size)
        self.lot_size = _positive("lot_size", lot_size)
        self.book = bool(book)
        self._cap = 16
        self._rcap = 16
        self._hcap = 16
        self._orders = <Order*>PyMem_Malloc(self._cap * sizeof(Order))
        self._records = <Record*>PyMem_Malloc(self._rcap * sizeof(Record))
        self._hits = <Hit*>PyMem_Malloc(self._hcap * sizeof(Hit))
        if self._orders == NULL or self._records == NULL or self._hits == NULL:
            raise MemoryError()
        self._n = 0
        self._nrec = 0
        self._seq = 0
        _side_init(&self._bids, 1)
        _side_init(&self._asks, -1)
        self.last_bid = C_NONE
        self.last_ask = C_NONE

    def __dealloc__(self):
        PyMem_Free(self._orders)
        PyMem_Free(self._records)
        PyMem_Free(self._hits)
        PyMem_Free(self._bids.key)
        PyMem_Free(self._bids.size)
        PyMem_Free(self._asks.key)
        PyMem_Free(self._asks.size)

    # ---- conversions and queries -----------------------------------------------------------

    def to_ticks(self, price, str name="price"):
        """The nearest tick (halves up); ValueError naming ``name`` unless finite and > 0."""
        return _ticks(_float(name, price), self.tick_size, name)

    def to_lots(self, size, str name="size"):
        """A market size in (float) lots; ValueError naming ``name`` unless finite and >= 0."""
        return _lots(_float(name, size), self.lot_size, name)

    def __len__(self):
        return self._n

    @property
    def pending(self):
        return self._nrec

    def remaining(self, long long handle):
        """Lots left on a resting order, or -1 if it is not resting."""
        cdef Py_ssize_t i = self._find(handle)
        return self._orders[i].remaining if i >= 0 else -1

    def queue_ahead(self, long long handle):
        cdef Py_ssize_t i = self._find(handle)
        return self._orders[i].queue_ahead if i >= 0 else -1.0

    def best_bid(self):
        return _side_best(&self._bids)

    def best_ask(self):
        return _side_best(&self._asks)

    def ref_bid(self):
        """What a seller gets now: the best bid in book mode (else the last point's bid)."""
        cdef long long b
        if self.book:
            b = _side_best(&self._bids)
            if b != C_NONE:
                return b
        return self.last_bid

    def ref_ask(self):
        cdef long long a
        if self.book:
            a = _side_best(&self._asks)
            if a != C_NONE:
                return a
        return self.last_ask

    def level_size(self, int side, long long price):
        return _side_get(&self._bids if side == 1 else &self._asks, price)

    def depth(self, int side, Py_ssize_t n=0):
        cdef Side* s = &self._bids if side == 1 else &self._asks
        cdef Py_ssize_t i, stop = 0 if n <= 0 else max(0, s.n - n)
        return [(s.key[i] * s.sign, s.size[i]) for i in range(s.n - 1, stop - 1, -1)]

    def set_last(self, bid, ask):
        """Set the current price without matching (the caller skipped quiet updates)."""
        cdef long long b = _ticks(_float("bid", bid), self.tick_size, "bid")
        cdef long long a = _ticks(_float("ask", ask), self.tick_size, "ask")
        self.last_bid = b
        self.last_ask = a

    def drain(self):
        cdef Py_ssize_t i
        cdef Record* r
        out = []
        for i in range(self._nrec):
            r = &self._records[i]
            out.append((r.code, r.handle, r.lots, r.price, bool(r.maker)))
        self._nrec = 0
        return out

    # ---- orders ------------------------------------------------------------------------------

    def add(self, long long handle, int side, int kind, long long price, long long trigger,
            long long qty, taker=False, ioc=False):
        """Rest an order. In book mode a limit joins the queue behind the displayed size."""
        if side != 1 and side != -1:
            raise ValueError(f"side: expected 1 or -1, got {side!r}")
        if kind < 0 or kind > 3:
            raise ValueError(f"kind: expected 0..3, got {kind!r}")
        if qty <= 0:
            raise ValueError(f"qty: must be > 0 lots, got {qty!r}")
        if (kind == K_LIMIT or kind == K_STOP_LIMIT) and price <= 0:
            raise ValueError(f"price: must be > 0 ticks for a limit, got {price!r}")
        if (kind == K_STOP_MARKET or kind == K_STOP_LIMIT) and trigger <= 0:
            raise ValueError(f"trigger: must be > 0 ticks for a stop, got {trigger!r}")
        if self._find(handle) >= 0:
            raise ValueError(f"handle: {handle} is already resting")
        if self._n == self._cap:
            self._grow_orders()
        cdef Order* o = &self._orders[self._n]
        self._seq += 1
        o.handle = handle
        o.side = side
        o.kind = kind
        o.price = price
        o.trigger = trigger
        o.remaining = qty
        o.queue_ahead = self._level(side, price) if (self.book and kind == K_LIMIT) else 0.0
        o.seq = self._seq
        o.taker = bool(taker)
        o.ioc = bool(ioc)
        self._n += 1

    def cancel(self, long long handle):
        """Remove a resting order; returns the lots it had left, or -1 if it was not resting."""
        cdef Py_ssize_t i = self._find(handle)
        if i < 0:
            return -1
        cdef long long left = self._orders[i].remaining
        memmove(&self._orders[i], &self._orders[i + 1], (self._n - i - 1) * sizeof(Order))
        self._n -= 1
        return left

    def take(self, long long handle, int side, long long qty, long long limit=0, fok=False):
        """Execute ``qty`` lots now as a taker, not beyond ``limit`` ticks (0: no limit).

        Book mode walks the opposite side level by level; otherwise everything fills at the
        last point's ask (buy) or bid (sell) if it is within the limit. ``fok``: all or nothing.
        Returns the lots filled; FILL records carry the prices.
        """
        cdef long long px
        cdef Side* opp
        if qty <= 0:
            return 0
        if self.book:
            opp = &self._asks if side == 1 else &self._bids
            if fok and self._available(opp, side, limit) < qty:
                return 0
            return self._sweep(opp, handle, side, qty, limit)
        px = self.last_ask if side == 1 else self.last_bid
        if px == C_NONE or _beyond(side, px, limit):
            return 0
        self._rec(R_FILL, handle, qty, px, False)
        return qty

    # ---- market data ---------------------------------------------------------------------------

    def on_bar(self, double open_, double high, double low, double close, int path):
        cdef double t = self.tick_size
        cdef long long o = _ticks(open_, t, "open"), h = _ticks(high, t, "high")
        cdef long long lo = _ticks(low, t, "low"), c = _ticks(close, t, "close")
        cdef long long near, far
        if path < 0 or path > 2:
            raise ValueError(f"path: expected 0, 1 or 2, got {path!r}")
        if self.book:
            path = 2
        if self._n == 0:
            self.last_bid = c
            self.last_ask = c
            return self._nrec
        if path == 0:
            self._point(c, c, M_GAP)
        elif path == 1:
            self._point(o, o, M_GAP)
            self._point(c, c, M_CONT)
        else:
            if h - o <= o - lo:
                near, far = h, lo
            else:
                near, far = lo, h
            self._point(o, o, M_GAP)
            self._point(near, near, M_CONT)
            self._point(far, far, M_CONT)
            self._point(c, c, M_CONT)
        self.last_bid = c
        self.last_ask = c
        return self._nrec

    def on_trade(self, double price, double size, int aggressor):
        cdef long long p = _ticks(price, self.tick_size, "price")
        cdef double lots = _lots(size, self.lot_size, "size")
        if aggressor != 1 and aggressor != -1:
            raise ValueError(f"aggressor: expected 1 or -1, got {aggressor!r}")
        if self.book:
            if self._n:
                self._book_trade(p, lots, aggressor)
        elif self._n:
            self._point(p, p, M_TICK)
        self.last_bid = p
        self.last_ask = p
        return self._nrec

    def on_quote(self, double bid, double bid_size, double ask, double ask_size):
        cdef long long b = _ticks(bid, self.tick_size, "bid")
        cdef long long a = _ticks(ask, self.tick_size, "ask")
        cdef double bl = _lots(bid_size, self.lot_size, "bid_size")
        cdef double al = _lots(ask_size, self.lot_size, "ask_size")
        if self.book:
            self._top(&self._bids, b, bl)
            self._top(&self._asks, a, al)
            if self._n:
                self._book_checks()
        elif self._n:
            self._point(b, a, M_TICK)
        self.last_bid = b
        self.last_ask = a
        return self._nrec

    def apply_delta(self, bids, asks, snapshot=False):
        """Apply one BookDelta's levels (``((price, size), ...)``, size 0 removes)."""
        if snapshot:
            self._bids.n = 0
            self._asks.n = 0
        self._apply_levels(&self._bids, bids, "bids")
        self._apply_levels(&self._asks, asks, "asks")
        if self._n:
            self._book_checks()
        return self._nrec

    # ---- internals -------------------------------------------------------------------------------

    cdef int _apply_levels(self, Side* side, object levels, str name) except -1:
        cdef double tick = self.tick_size, lot = self.lot_size, price, size
        cdef Py_ssize_t i, n
        cdef object level, p_obj, s_obj
        if not PyTuple_CheckExact(levels):
            levels = tuple(levels)
        n = PyTuple_GET_SIZE(levels)
        for i in range(n):
            level = <object>PyTuple_GET_ITEM(levels, i)
            if PyTuple_CheckExact(level) and PyTuple_GET_SIZE(level) == 2:
                p_obj = <object>PyTuple_GET_ITEM(level, 0)
                s_obj = <object>PyTuple_GET_ITEM(level, 1)
            else:
                p_obj, s_obj = level
            price = PyFloat_AS_DOUBLE(p_obj) if PyFloat_CheckExact(p_obj) else float(p_obj)
            size = PyFloat_AS_DOUBLE(s_obj) if PyFloat_CheckExact(s_obj) else float(s_obj)
            if not (isfinite(price) and price > 0.0):
                raise ValueError(f"{name}[{i}]: price must be finite and > 0, got {price!r}")
            if not (isfinite(size) and size >= 0.0):
                raise ValueError(f"{name}[{i}]: size must be finite and >= 0, got {size!r}")
            _side_set(side, <long long>floor(price / tick + 0.5), size / lot)
        return 0

    cdef inline Py_ssize_t _find(self, long long handle) noexcept:
        cdef Py_ssize_t i
        for i in range(self._n):
            if self._orders[i].handle == handle:
                return i
        return -1

    cdef inline double _level(self, int side, long long price) noexcept:
        return _side_get(&self._bids if side == 1 else &self._asks, price)

    cdef int _grow_orders(self) except -1:
        cdef Py_ssize_t cap = self._cap * 2
        cdef Order* p = <Order*>PyMem_Realloc(self._orders, cap * sizeof(Order))
        if p == NULL:
            raise MemoryError()
        self._orders = p
        self._cap = cap
        cdef Hit* h = <Hit*>PyMem_Realloc(self._hits, cap * sizeof(Hit))
        if h == NULL:
            raise MemoryError()
        self._hits = h
        self._hcap = cap
        return 0

    cdef int _rec(self, int code, long long handle, long long lots, long long price,
                  bint maker) except -1:
        cdef Py_ssize_t cap
        cdef Record* p
        if self._nrec == self._rcap:
            cap = self._rcap * 2
            p = <Record*>PyMem_Realloc(self._records, cap * sizeof(Record))
            if p == NULL:
                raise MemoryError()
            self._records = p
            self._rcap = cap
        p = &self._records[self._nrec]
        p.code = code
        p.handle = handle
        p.lots = lots
        p.price = price
        p.maker = maker
        self._nrec += 1
        return 0

    cdef void _compact(self) noexcept:
        cdef Py_ssize_t i, j = 0
        for i in range(self._n):
            if self._orders[i].remaining > 0:
                if i != j:
                    self._orders[j] = self._orders[i]
                j += 1
        self._n = j

    cdef long long _available(self, Side* opp, int side, long long limit) noexcept:
        cdef long long total = 0, price
        cdef Py_ssize_t i
        for i in range(opp.n - 1, -1, -1):
            price = opp.key[i] * opp.sign
            if _beyond(side, price, limit):
                break
            total += _whole(opp.size[i])
        return total

    cdef long long _sweep(self, Side* opp, long long handle, int side, long long qty,
                          long long limit) except -1:
        cdef long long left = qty, price, lots
        cdef double size
        while left > 0 and opp.n > 0:
            price = opp.key[opp.n - 1] * opp.sign
            if _beyond(side, price, limit):
                break
            size = opp.size[opp.n - 1]
            lots = _min(left, _whole(size))
            if lots <= 0:
                break
            self._rec(R_FILL, handle, lots, price, False)
            left -= lots
            _side_set(opp, price, size - lots if size - lots > C_EPS else 0.0)
        return qty - left

    cdef int _top(self, Side* side, long long price, double size) except -1:
        while side.n > 0 and side.key[side.n - 1] > price * side.sign:
            side.n -= 1  # the best level is last: dropping it is a pop
        _side_set(side, price, size)
        return 0

    cdef int _point(self, long long b1, long long a1, int mode) except -1:
        cdef long long b0 = self.last_bid, a0 = self.last_ask
        cdef Py_ssize_t i, j, nh = 0
        cdef Order* o
        cdef Hit h, tmp
        cdef bint found
        for i in range(self._n):
            o = &self._orders[i]
            if o.side == 1:
                found = _reach_buy(o, a0, a1, mode, &h)
            else:
                found = _reach_sell(o, b0, b1, mode, &h)
            if found:
                h.seq = o.seq
                h.idx = i
                self._hits[nh] = h
                nh += 1
        # insertion sort by (distance, arrival): stable and fast for a handful of orders
        for i in range(1, nh):
            tmp = self._hits[i]
            j = i - 1
            while j >= 0 and (self._hits[j].dist > tmp.dist or (
                    self._hits[j].dist == tmp.dist and self._hits[j].seq > tmp.seq)):
                self._hits[j + 1] = self._hits[j]
                j -= 1
            self._hits[j + 1] = tmp
        for i in range(nh):
            h = self._hits[i]
            o = &self._orders[h.idx]
            if h.trig != C_NONE:
                self._rec(R_TRIGGER, o.handle, 0, h.trig, False)
                if h.price == C_NONE:
                    o.kind = K_LIMIT
                    o.taker = False
                    continue
            self._rec(R_FILL, o.handle, o.remaining, h.price, h.maker)
            o.remaining = 0
        if mode != M_CONT:
            for i in range(self._n):
                o = &self._orders[i]
                if o.remaining > 0 and o.ioc:
                    self._rec(R_EXPIRE, o.handle, o.remaining, 0, False)
                    o.remaining = 0
        for i in range(self._n):
            self._orders[i].taker = False
        self._compact()
        self.last_bid = b1
        self.last_ask = a1
        return 0

    cdef int _book_trade(self, long long p, double lots, int aggressor) except -1:
        cdef int side = -aggressor
        cdef Py_ssize_t i
        cdef Order* o
        cdef long long filled = 0, n
        cdef double avail, used
        cdef bint blocked = False
        self._trigger_stops(p, p)
        for i in range(self._n):
            o = &self._orders[i]
            if o.side != side or o.kind != K_LIMIT or o.remaining <= 0:
                continue
            if (o.price > p) if side == 1 else (o.price < p):
                self._rec(R_FILL, o.handle, o.remaining, o.price, True)
                o.remaining = 0
        for i in range(self._n):
            o = &self._orders[i]
            if o.side != side or o.kind != K_LIMIT or o.remaining <= 0 or o.price != p:
                continue
            avail = lots - filled
            used = avail if avail < o.queue_ahead else o.queue_ahead
            o.queue_ahead -= used
            if blocked:
                continue
            n = _min(o.remaining, _whole(avail - used))
            if n > 0:
                self._rec(R_FILL, o.handle, n, o.price, True)
                o.remaining -= n
                filled += n
            if o.remaining > 0:
                blocked = True
        self._compact()
        return 0

    cdef int _book_checks(self) except -1:
        cdef Py_ssize_t i
        cdef Order* o
        cdef double size
        for i in range(self._n):
            o = &self._orders[i]
            if o.kind == K_LIMIT:
                size = self._level(o.side, o.price)
                if o.queue_ahead > size:
                    o.queue_ahead = size
        cdef long long bb = _side_best(&self._bids), ba = _side_best(&self._asks)
        if bb != C_NONE or ba != C_NONE:
            self._trigger_stops(bb, ba)
        self._cross(1)
        self._cross(-1)
        self._compact()
        return 0

    cdef int _cross(self, int side) except -1:
        cdef Side* opp = &self._asks if side == 1 else &self._bids
        cdef long long best = _side_best(opp), price, lots, left, n
        cdef Py_ssize_t i, j, nh = 0
        cdef Order* o
        cdef Hit tmp
        cdef double size
        if best == C_NONE:
            return 0
        for i in range(self._n):
            o = &self._orders[i]
            if o.side == side and o.kind == K_LIMIT and o.remaining > 0 and (
                    o.price >= best if side == 1 else o.price <= best):
                self._hits[nh].dist = -o.price * side
                self._hits[nh].seq = o.seq
                self._hits[nh].idx = i
                nh += 1
        for i in range(1, nh):
            tmp = self._hits[i]
            j = i - 1
            while j >= 0 and (self._hits[j].dist > tmp.dist or (
                    self._hits[j].dist == tmp.dist and self._hits[j].seq > tmp.seq)):
                self._hits[j + 1] = self._hits[j]
                j -= 1
            self._hits[j + 1] = tmp
        for i in range(nh):
            o = &self._orders[self._hits[i].idx]
            left = o.remaining
            while left > 0 and opp.n > 0:
                price = opp.key[opp.n - 1] * opp.sign
                if price > o.price if side == 1 else price < o.price:
                    break
                size = opp.size[opp.n - 1]
                lots = _min(left, _whole(size))
                if lots <= 0:
                    break
                left -= lots
                _side_set(opp, price, size - lots if size - lots > C_EPS else 0.0)
            n = o.remaining - left
            if n > 0:
                self._rec(R_FILL, o.handle, n, o.price, True)
                o.remaining = left
        return 0

    cdef int _trigger_stops(self, long long bid, long long ask) except -1:
        cdef Py_ssize_t i, nf = 0
        cdef Order* o
        cdef long long at, n
        cdef bint fire
        for i in range(self._n):
            o = &self._orders[i]
            if o.kind != K_STOP_MARKET and o.kind != K_STOP_LIMIT:
                continue
            if o.side == 1:
                fire = ask != C_NONE and ask >= o.trigger
            else:
                fire = bid != C_NONE and bid <= o.trigger
            if fire:
                self._hits[nf].idx = i
                nf += 1
        for i in range(nf):
            o = &self._orders[self._hits[i].idx]
            at = ask if o.side == 1 else bid
            self._rec(R_TRIGGER, o.handle, 0, at, False)
            if o.kind == K_STOP_MARKET:
                n = self._take_book(o, 0)
                o.remaining -= n
                if o.remaining > 0:
                    self._rec(R_EXPIRE, o.handle, o.remaining, 0, False)
                    o.remaining = 0
            else:
                n = self._take_book(o, o.price)
                o.remaining -= n
                o.kind = K_LIMIT
                o.queue_ahead = self._level(o.side, o.price)
        self._compact()
        return 0

    cdef long long _take_book(self, Order* o, long long limit) except -1:
        cdef Side* opp = &self._asks if o.side == 1 else &self._bids
        if opp.n == 0:
            return 0
        return self._sweep(opp, o.handle, o.side, o.remaining, limit)


cdef double _float(str name, object x) except? -1.0:
    try:
        return float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {x!r}") from None


cdef double _positive(str name, object x) except? -1.0:
    cdef double v = _float(name, x)
    if not (isfinite(v) and v > 0.0):
        raise ValueError(f"{name}: must be finite and > 0, got {v!r}")
    return v

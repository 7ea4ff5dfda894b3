"""Reference order-flow microstructure (CVD, Cont-Kukanov-Stoikov OFI, VPIN); oracle for
``native/_microstructure.pyx`` (same operations in the same order)."""

from __future__ import annotations

import math

import numpy as np

from native.reference import _args
from native.reference._window import Moments, RollingSum


def _size(name: str, v: float) -> float:
    v = float(v)
    if not math.isfinite(v) or v < 0.0:
        raise ValueError(f"{name}: must be finite and >= 0, got {v!r}")
    return v


def _sizes(name: str, v: np.ndarray) -> None:
    bad = np.flatnonzero(v < 0.0)
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name}: must be >= 0, got {float(v[i])!r} at index {i}")


class CumulativeVolumeDelta:
    """Running sum of ``side * size`` (side +1: the taker bought, -1: the taker sold)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.value = 0.0
        self.count = 0

    ready = property(lambda self: self.count > 0)

    def update(self, size: float, side: float) -> float:
        size = _size("size", size)
        side = float(side)
        if side != 1.0 and side != -1.0:
            raise ValueError(
                f"side: must be +1 (buyer aggressor) or -1 (seller aggressor), got {side!r}")
        self.count += 1
        self.value += side * size
        return self.value


def cvd(size, side) -> np.ndarray:
    """Batch cumulative volume delta of trades (``side`` +1 / -1 per trade)."""
    q = _args.series("size", size)
    sd = _args.series_like("side", side, q.size)
    _sizes("size", q)
    bad = np.flatnonzero((sd != 1.0) & (sd != -1.0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"side: must be +1 or -1, got {float(sd[i])!r} at index {i}")
    out = np.empty(q.size)
    acc = 0.0
    for i, (a, b) in enumerate(zip(sd.tolist(), q.tolist(), strict=True)):
        acc += a * b
        out[i] = acc
    return out


class OrderFlowImbalance:
    """Order-flow imbalance (Cont, Kukanov & Stoikov 2014, eq. 2) over ``window`` quote updates."""

    def __init__(self, window: int = 100) -> None:
        self._sum = RollingSum(_args.period("window", window))
        self.reset()

    def reset(self) -> None:
        self._sum.clear()
        self.count = 0
        self._quote = (0.0, 0.0, 0.0, 0.0)
        self.last = math.nan
        self.value = math.nan

    window = property(lambda self: self._sum.ring.size)
    ready = property(lambda self: self.count > self._sum.ring.size)

    def update(self, bid: float, bid_size: float, ask: float, ask_size: float) -> float:
        bid = _args.finite("bid", bid)
        ask = _args.finite("ask", ask)
        bid_size = _size("bid_size", bid_size)
        ask_size = _size("ask_size", ask_size)
        self.count += 1
        if self.count > 1:
            pb, pbq, pa, paq = self._quote
            e = 0.0
            if bid >= pb:
                e += bid_size
            if bid <= pb:
                e -= pbq
            if ask <= pa:
                e -= ask_size
            if ask >= pa:
                e += paq
            self.last = e
            total = self._sum.push(e)
            if self._sum.ring.count >= self._sum.ring.size:
                self.value = total
        self._quote = (bid, bid_size, ask, ask_size)
        return self.value


def ofi(bid, bid_size, ask, ask_size, window: int = 100) -> np.ndarray:
    """Batch order-flow imbalance over a rolling ``window`` of quote updates."""
    b = _args.series("bid", bid)
    n = b.size
    bq = _args.series_like("bid_size", bid_size, n)
    a = _args.series_like("ask", ask, n)
    aq = _args.series_like("ask_size", ask_size, n)
    _sizes("bid_size", bq)
    _sizes("ask_size", aq)
    w = _args.period("window", window, n)
    _args.length("bid", n, w + 1, "window + 1")
    s = OrderFlowImbalance(w)
    rows = zip(b.tolist(), bq.tolist(), a.tolist(), aq.tolist(), strict=True)
    return np.array([s.update(*r) for r in rows], dtype=np.float64)


class VPIN:
    """VPIN (Easley, Lopez de Prado & O'Hara 2012) with bulk volume classification."""

    def __init__(self, bucket_volume: float, n_buckets: int = 50, sigma_window: int = 50) -> None:
        self._b = _args.number("bucket_volume", bucket_volume, 0.0, 1e300, low_open=True)
        self._imb = RollingSum(_args.period("n_buckets", n_buckets))
        self._sigma = Moments(_args.period("sigma_window", sigma_window))
        self.reset()

    def reset(self) -> None:
        self._imb.clear()
        self._sigma.clear()
        self.count = 0
        self.buckets = 0
        self._prev = 0.0
        self._filled = self._buy = self._sell = 0.0
        self.value = math.nan

    ready = property(lambda self: self.buckets >= self._imb.ring.size)

    def _close_bucket(self) -> None:
        self._imb.push(abs(self._sell - self._buy))
        self.buckets += 1
        self._buy = self._sell = self._filled = 0.0

    def update(self, price: float, volume: float) -> float:
        price = _args.finite("price", price)
        volume = _size("volume", volume)
        self.count += 1
        if self.count == 1:
            self._prev = price
            return self.value
        dp = price - self._prev
        self._prev = price
        sig = self._sigma
        sig.push(dp)
        if sig.ring.count < sig.ring.size:
            return self.value
        sd = math.sqrt(sig.variance())
        if sd > 0.0:
            frac = 0.5 * math.erfc(-(dp / sd) * 0.7071067811865476)
        else:
            frac = 1.0 if dp > 0.0 else (0.0 if dp < 0.0 else 0.5)
        b = self._b
        n = self._imb.ring.size
        space = b - self._filled
        if volume >= space:
            self._buy += space * frac
            self._sell += space - space * frac
            self._close_bucket()
            volume -= space
            wq = math.floor(volume / b)
            volume -= wq * b
            if volume < 0.0:
                volume = 0.0
            while volume >= b:
                wq += 1.0
                volume -= b
            whole = int(min(wq, 1e18))
            for _ in range(min(whole, n)):
                self._buy = b * frac
                self._sell = b - b * frac
                self._close_bucket()
            self.buckets += whole - min(whole, n)
        if volume > 0.0:
            self._buy += volume * frac
            self._sell += volume - volume * frac
            self._filled += volume
        if self.buckets >= n:
            total = self._imb.total
            self.value = (total if total > 0.0 else 0.0) / (n * b)
        return self.value


def vpin(price, volume, bucket_volume: float, n_buckets: int = 50, sigma_window: int = 50):
    """Batch VPIN of bars; the value after each bar, NaN until ``n_buckets`` buckets are full."""
    p = _args.series("price", price)
    n = p.size
    v = _args.series_like("volume", volume, n)
    _sizes("volume", v)
    _args.number("bucket_volume", bucket_volume, 0.0, 1e300, low_open=True)
    nb = _args.period("n_buckets", n_buckets)
    sw = _args.period("sigma_window", sigma_window, n)
    _args.length("price", n, sw + 1, "sigma_window + 1")
    s = VPIN(bucket_volume, nb, sw)
    return np.array([s.update(a, b) for a, b in zip(p.tolist(), v.tolist(), strict=True)], dtype=np.float64)

"""BacktestRunner: the live kernel, fed from recorded data, with simulated time and fills.

No asyncio and no second lifecycle: a plain loop moves a ``SimClock`` and hands each event to
the ``SimVenue`` and to the same :class:`~titan.kernel.Kernel` that trades live, in the order
the SimVenue's loop contract fixes (timers, venue, kernel, venue commands). The Brain gates
every order under the configured policy, fitted to the run (``titan.backtest.policy``).

Two loops, one semantics: a single candle series (plus sparse funding) runs through a fast
loop that builds each ``Bar`` from numpy columns and only steps the clock through timers when
one is due; anything else (trades, quotes, book deltas, several instruments, recordings) is
merged by ``ReplayFeed`` and dispatched per event. Both give the same event log for the same
data, so the digest printed after a run identifies it byte for byte.
"""

from __future__ import annotations

import contextlib
import gc
import heapq
import time
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal

from titan.backtest.clock import NEVER, BacktestClock
from titan.backtest.data import Stream, event_count, first_ts, funding_settlements, last_ts, marks
from titan.backtest.policy import fit_policy, venue_leverage
from titan.backtest.result import BacktestResult, RunRecord
from titan.brain.brain import Brain
from titan.config import TitanConfig, policy_hash
from titan.core import events as ev
from titan.core.eventlog import EventLog
from titan.core.ids import ClientOrderIds
from titan.core.instruments import Instrument, InstrumentRegistry
from titan.core.state import ShadowState
from titan.execution.sim import FillModel, SimExecutionClient, SimVenue
from titan.feeds.history import BarSeries, FundingSeries
from titan.feeds.replay import ReplayFeed
from titan.kernel import DeadLetterPort, Kernel
from titan.phases.base import Phase

Progress = Callable[[int, int], None]  # (events done, events in total)
_CHUNK = 1 << 15  # events between progress reports


class BacktestRunner:
    """One backtest: phases x instruments x data -> :class:`BacktestResult`.

    ``streams`` are loaded series (``titan.feeds.history``) or time-ordered lists of events;
    recorded funding (``FundingSeries``) settles at its own times on perpetuals.

    ``arrival=True`` replays events in the order they were *received* (``ts_init``, the receive
    time of a raw recording) with the clock at that time - what the live path sees from the same
    capture, for parity tests; the default merges by ``ts_event`` (exchange time).
    """

    def __init__(
        self,
        phases: Sequence[Phase],
        instruments: Sequence[Instrument],
        streams: Sequence[Stream],
        *,
        config: TitanConfig | None = None,
        cash: Decimal | int | str = 10_000,
        fill: FillModel | str = FillModel.BAR_CLOSE,
        latency_ns: int = 0,
        slippage_bps: Decimal | float | str | None = None,
        journal: str = "memory",
        progress: Progress | None = None,
        dead_letters: DeadLetterPort | None = None,
        arrival: bool = False,
    ) -> None:
        if not phases:
            raise ValueError("phases: at least one strategy is required")
        if not instruments:
            raise ValueError("instruments: at least one is required")
        if not streams:
            raise ValueError("streams: no market data given")
        self.config = config or TitanConfig()
        self.phases = list(phases)
        self.instruments = list(instruments)
        known = {i.id for i in self.instruments}
        for s in streams:
            iid = _stream_iid(s)
            if iid and iid not in known:
                raise ValueError(f"streams: data for {iid}, which is not among the instruments "
                                 f"({', '.join(sorted(known))})")
        self.streams = list(streams)
        self.cash = Decimal(str(cash)) if not isinstance(cash, Decimal) else cash
        if not self.cash.is_finite() or self.cash <= 0:
            raise ValueError(f"cash: must be > 0, got {cash}")
        self.fill = FillModel(fill)
        self.latency_ns = int(latency_ns)
        bt = self.config.backtest
        self.slippage_bps = bt.slippage_bps if slippage_bps is None else slippage_bps
        if journal not in ("memory", "off"):
            raise ValueError(f"journal: expected 'memory' or 'off', got {journal!r}")
        self.journal_mode = journal
        self.progress = progress
        self.dead_letters = dead_letters
        self.arrival = arrival
        self.currency = self.instruments[0].settle_currency

    # ---- wiring ---------------------------------------------------------------------------------

    def _build(self, start_ns: int) -> None:
        fitted, owners = fit_policy(self.config, self.phases, self.instruments)
        self.fitted, self.owners = fitted, owners
        registry = InstrumentRegistry(self.instruments)
        self.clock = BacktestClock(start_ns)
        self.state = ShadowState(registry, account_currency=self.currency)
        self.brain = Brain(fitted, registry, self.state,
                           ClientOrderIds(fitted.execution.client_id_prefix), owners=owners)
        self.venue = SimVenue(
            self.instruments, clock=self.clock, balances={self.currency: self.cash},
            fill_model=self.fill, latency_ns=self.latency_ns, slippage_bps=self.slippage_bps,
            default_leverage=Decimal(repr(venue_leverage(fitted))),
        )
        log = EventLog.memory() if self.journal_mode == "memory" else EventLog.off()
        self.record = RunRecord(log)
        self.kernel = Kernel(
            clock=self.clock, state=self.state, brain=self.brain, phases=self.phases,
            clients={self.venue.venue: SimExecutionClient(self.venue)}, journal=self.record,
            dead_letters=self.dead_letters,
        )
        self.venue.sink = self.kernel.on_exec

    # ---- the run --------------------------------------------------------------------------------

    def run(self) -> BacktestResult:
        start = first_ts(self.streams, received=self.arrival)
        if start is None:
            raise ValueError("streams: the data holds no events (empty window?)")
        self._build(start)
        k = self.kernel
        k.on_system(ev.BalanceSet(venue=self.venue.venue, currency=self.currency, total=self.cash,
                                  reason="backtest cash", ts_event=start, ts_init=start))
        k.start()
        self._commands = 0  # commands from start-up are processed with the first event
        self._done = 0
        self._total = event_count(self.streams)
        t0, c0 = time.perf_counter(), time.process_time()
        bars, sparse = self._split()
        with _young_collections_only():
            if bars is not None and not self.arrival:
                self._run_bars(bars, sparse)
            elif self.arrival:
                self._run_events(heapq.merge(*(_iter(s) for s in self._ordered()), key=_received))
            else:
                self._run_events(ReplayFeed(*self._ordered()))
        end = self.clock.now_ns()
        k.stop()
        self.venue.process(end)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        return BacktestResult.collect(self, start_ns=start, end_ns=max(end, last_ts(self.streams) or end),
                                      elapsed_s=elapsed, cpu_s=cpu, marks=marks(self.streams),
                                      policy_hash=policy_hash(self.fitted))

    def _ordered(self) -> list:
        """Funding first: at equal times it settles on the position held before the bar."""
        out = []
        for s in self.streams:
            out.append(funding_settlements(s) if isinstance(s, FundingSeries) else s)
        return sorted(out, key=lambda s: 0 if _is_funding(s) else 1)

    def _split(self) -> tuple[BarSeries | None, list[ev.Data]]:
        """(the one candle series, the sparse events merged into it) when the fast loop fits."""
        bars = [s for s in self.streams if isinstance(s, BarSeries)]
        others = [s for s in self.streams if not isinstance(s, BarSeries)]
        if len(bars) != 1 or not all(isinstance(s, FundingSeries) for s in others):
            return None, []
        sparse: list[ev.Data] = []
        for s in others:
            sparse.extend(funding_settlements(s))
        sparse.sort(key=lambda e: e.ts_event)  # stable: the order given holds at equal times
        return bars[0], sparse

    def _step(self, evt: ev.Data) -> None:
        """One event through the loop contract (the general path)."""
        ts = evt.ts_init if self.arrival else evt.ts_event
        self._fire(ts)
        self.venue.on_market(evt)
        self.kernel.on_market(evt)
        self._flush(ts)

    def _fire(self, ts: int) -> None:
        """Dispatch every timer due at or before ``ts`` (and those they set, if due too), each
        with the clock at its own time, then move the clock to ``ts``."""
        clock, on_timer = self.clock, self.kernel.on_timer
        while clock.due <= ts:  # ``due`` is never later than the next timer (maybe earlier)
            for te in clock.advance_to(clock.due):
                on_timer(te)
                self._flush(te.ts_event)
        clock.set_time(ts)

    def _flush(self, ts: int) -> None:
        """Let the venue take the commands the kernel sent (every event while latency > 0)."""
        n = self.kernel.commands
        if n != self._commands or self.latency_ns:
            self._commands = n
            self.venue.process(ts)

    def _run_events(self, feed: Iterable[ev.Data]) -> None:
        step, progress, total = self._step, self.progress, self._total
        n = 0
        for evt in feed:
            step(evt)
            n += 1
            if not n & (_CHUNK - 1):
                gc.collect(1)
                if progress is not None:
                    progress(n, total)
        self._done = n
        if progress is not None:
            progress(n, total)

    def _run_bars(self, bars: BarSeries, sparse: list[ev.Data]) -> None:
        """The fast loop: one candle series, sparse events (funding) merged in by time.

        Per bar: build the Bar, set the clock, venue, kernel, and the venue's commands only if
        the kernel sent any. Timers and sparse events are handled in the slow branch, entered
        only when the bar's time reaches the next of them.
        """
        kernel, venue, clock = self.kernel, self.venue, self.clock
        on_bar, venue_market, process = kernel.on_bar, venue.on_bar, venue.process
        latency = self.latency_ns
        iid, tf = bars.instrument_id, bars.timeframe
        Bar = ev.Bar
        sparse_at = 0
        next_sparse = sparse[0].ts_event if sparse else NEVER
        total, progress = self._total, self.progress
        commands = self._commands
        done = 0
        n = len(bars)
        for lo in range(0, n, _CHUNK):
            hi = min(n, lo + _CHUNK)
            cols = (bars.ts_open[lo:hi].tolist(), bars.ts_event[lo:hi].tolist(), bars.open[lo:hi].tolist(),
                    bars.high[lo:hi].tolist(), bars.low[lo:hi].tolist(), bars.close[lo:hi].tolist(),
                    bars.volume[lo:hi].tolist())
            for t0, t1, o, h, low, c, v in zip(*cols, strict=True):
                if t1 >= clock.due or t1 >= next_sparse:
                    while next_sparse <= t1:
                        self._step(sparse[sparse_at])
                        done += 1
                        sparse_at += 1
                        next_sparse = sparse[sparse_at].ts_event if sparse_at < len(sparse) else NEVER
                    self._fire(t1)
                    commands = self._commands
                else:
                    clock._now = t1  # BacktestClock.set_time, inlined: no timer is due yet
                bar = Bar(instrument_id=iid, ts_event=t1, ts_init=t1, timeframe=tf, ts_open=t0,
                          open=o, high=h, low=low, close=c, volume=v)
                venue_market(bar)
                on_bar(bar)
                if kernel.commands != commands or latency:
                    commands = self._commands = kernel.commands
                    process(t1)
            done += hi - lo
            gc.collect(1)
            if progress is not None:
                progress(done, total)
        while sparse_at < len(sparse):  # sparse events after the last bar
            self._step(sparse[sparse_at])
            sparse_at += 1
            done += 1
        self._done = done


@contextlib.contextmanager
def _young_collections_only():
    """The loop keeps what a run produces (fills, log entries, orders) and makes no reference
    cycles of its own, so the cyclic GC's automatic passes would only re-walk a growing heap
    (a sixth of an order-heavy run's time). They are switched off for the loop, which instead
    collects the young generations every ``_CHUNK`` events: a strategy's short-lived cycles
    are still freed; anything older waits for the first collection after the run."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _iter(stream) -> Iterable[ev.Data]:
    return stream.events() if hasattr(stream, "events") else stream


def _received(evt: ev.Data) -> int:
    return evt.ts_init


def _stream_iid(s: Stream) -> str:
    iid = getattr(s, "instrument_id", "")
    if iid:
        return iid
    return s[0].instrument_id if len(s) else ""


def _is_funding(s) -> bool:
    return isinstance(s, FundingSeries) or (isinstance(s, list) and bool(s)
                                            and s[0].__class__ is ev.FundingRate)

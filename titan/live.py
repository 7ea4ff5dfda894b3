"""LiveRunner: the asyncio edge around the synchronous Kernel - paper and live trading.

It is the async twin of ``titan.backtest.runner.BacktestRunner``: both only *feed* the same
``Kernel``. Market events arrive on the feed client's sink (no queue of our own) and go
through the SimVenue loop contract when fills are simulated::

    [replay: timers due by evt.ts_event]  venue.on_market(evt)  kernel.on_market(evt)  venue.process(now)

On replayed data the kernel's clock is the data's own (a ``SimClock`` moved by each event, as
in a backtest), so a paper run of a recording decides exactly what a backtest of it decides;
on live data it is the wall clock and timers fire on the loop.

Startup is recovery: config -> event log -> replay into the state -> venue clients ->
reconcile -> Brain (restored) + phases + kernel -> ops (API, metrics, alerts, journal,
scheduler, dashboard) -> feeds -> READY. If reconciliation cannot make the state agree, the
session starts HALTED and says why (the operator resumes once it is understood).

Shutdown (SIGTERM/SIGINT, ``--duration``, the end of a replay, ``q`` on the dashboard), bounded
by ``SHUTDOWN_TIMEOUT_S``: feeds stop, phases stop, open orders are canceled (or left working,
``execution.cancel_on_shutdown = false``), clients stop, ``SessionStopped`` is appended and the
log flushed and closed. A second signal exits at once. Every long-lived task is owned
(:meth:`spawn`) and awaited; an exception escaping one - or the kernel - is logged, kept as a
dead letter and HALTS new risk (the breaker), instead of vanishing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from titan import __version__
from titan.app import Edge, Session
from titan.config import TitanConfig
from titan.core import events as ev
from titan.core.clock import LiveClock, SimClock
from titan.core.errors import TitanError
from titan.core.instruments import split_instrument_id

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 20.0
DRAIN_QUIET_S = 0.5  # a replay is over when the server finished and the feed went quiet this long
RESTORED = (ev.BreakerChanged, ev.EmergencyFlatten, ev.RegimeChanged, ev.TruthScoreChanged)


class FeedWatch:
    """Per venue: events seen, when the last arrived, venue-to-receipt delay (live data)."""

    __slots__ = ("events", "last", "latency_ms", "status", "detail")

    def __init__(self) -> None:
        self.events = 0
        self.last = 0.0  # time.monotonic() of the last event
        self.latency_ms: float | None = None
        self.status = "waiting"
        self.detail = ""


class LiveRunner:
    """One ``titan run`` session. ``await run()`` returns the process exit code."""

    def __init__(self, config: TitanConfig, edge: Edge, *, env: Mapping[str, str] | None = None,
                 data_dir: Path | None = None, dashboard: bool = False,
                 install_signals: bool = True) -> None:
        self.config = config
        self.edge = edge
        self.env = os.environ if env is None else env
        self.session = Session(config, edge, env=self.env, data_dir=data_dir)
        self.want_dashboard = dashboard
        self.install_signals = install_signals
        self.stop_reason = ""
        self.error = ""
        self.exit_code = 0
        self.started_wall = time.time()
        self.ready = asyncio.Event()
        self.recovery: Any = None
        self.feeds: dict[str, FeedWatch] = {}
        self.faults: deque[tuple[float, str, str]] = deque(maxlen=50)
        self.metrics: Any = None
        self.alerts: Any = None
        self.journal: Any = None
        self.api: Any = None
        self.scheduler: Any = None
        self.dashboard: Any = None
        self.truth: Any = None
        self.reconciler: Any = None
        self.history: Any = None  # BarHistory: the 1m bars AI Quant's optimiser searches on
        self.ai_quant: dict[str, Any] = {"state": "off", "runs": 0, "suggestions": [], "skipped": []}
        self.feed: Any = None
        self.server: Any = None
        self.notifier: Any = None
        self._stop = asyncio.Event()
        self._signals = 0
        self._tasks: dict[str, asyncio.Task] = {}
        self._closing = False
        self._kernel_started = False
        self._sim: Any = None  # the simulated venue (paper); one per session
        self._process: Callable[[int], None] | None = None
        self._latency = None

    # ---- task ownership ---------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
        """Run a long-lived task the runner owns: awaited at shutdown, its crash halts risk."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks[name] = task
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not self._closing:
            self.fault(f"task {task.get_name()}", exc)

    def fault(self, where: str, exc: BaseException, event: Any = None) -> None:
        """An exception nobody handled: log it, keep the event, halt new risk. Never raises."""
        log.error("%s failed: %s: %s", where, type(exc).__name__, exc,
                  exc_info=(type(exc), exc, exc.__traceback__))
        self.faults.append((time.time(), where, f"{type(exc).__name__}: {exc}"))
        s = self.session
        try:
            if self.metrics is not None:
                self.metrics.faults.labels(where.split(" ")[0]).inc()
            if event is not None:
                s.dead_letters.record(event, where, exc)
            if s.brain is not None and s.kernel is not None:
                out = s.brain.halt(f"{where} failed ({type(exc).__name__}: {exc}); "
                                   "new risk halted", s.clock.now_ns())
                s.kernel.command(out)  # a halt sends no order: no venue flush (maybe inside one)
        except Exception:  # the fault path itself must never take the loop down
            log.exception("while halting after a fault in %s", where)

    # ---- the run ----------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        if self.install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, self._on_signal, sig)
        from titan.ops.systemd import SystemdNotifier

        self.notifier = SystemdNotifier(self.env)
        try:
            await self.startup()
        except TitanError as e:  # a bad strategy, symbol, recording...: one line, exit 2
            log.error("%s", e)
            self.error = str(e)
            self.stop_reason = f"startup failed: {e}"
            self.exit_code = 2
            await self.shutdown()
            return self.exit_code
        except Exception as e:
            log.exception("startup failed: %s", e)
            self.error = f"startup failed: {type(e).__name__}: {e}"
            self.stop_reason = f"startup failed: {type(e).__name__}: {e}"
            self.exit_code = 1
            await self.shutdown()
            return self.exit_code
        self.ready.set()
        self.notifier.ready(self.systemd_status())
        if self.edge.duration_s:
            self.spawn(self._stop_after(self.edge.duration_s), "duration")
        await self._stop.wait()
        await self.shutdown()
        return self.exit_code

    def request_stop(self, reason: str) -> None:
        if not self.stop_reason:
            self.stop_reason = reason
            log.warning("stopping: %s", reason)
        self._stop.set()

    def _on_signal(self, sig: int) -> None:
        self._signals += 1
        name = signal.Signals(sig).name
        if self._signals > 1:
            log.error("second %s: exiting now, without a clean shutdown", name)
            logging.shutdown()
            os._exit(130 if sig == signal.SIGINT else 143)
        self.request_stop(f"signal {name}")

    async def _stop_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.request_stop(f"--duration {seconds:g} s elapsed")

    # ---- startup ----------------------------------------------------------------------------

    async def startup(self) -> None:
        from titan.core.eventlog import read_log
        from titan.execution.reconcile import ReconcilePolicy
        from titan.execution.recovery import recover, replay_into

        s, cfg = self.session, self.config
        log.info("titan %s starting: %s (data in %s)", __version__, self.edge.label, s.data_dir)
        s.load_instruments()
        await s.load_venue_instruments()
        s.data_dir.mkdir(parents=True, exist_ok=True)
        await s.eventlog.open()
        seed = None
        if self.edge.mode == "paper" and s.eventlog.durable_seq:
            from titan.core.state import ShadowState

            seed = ShadowState(s.registry, account_currency=s.account_currency())
            replay_into(s.eventlog.path, seed)  # the simulated venue resumes where the log ended
        s.make_clients(seed)
        s.make_state()
        for name, client in s.clients.items():
            await client.start()
            log.info("venue client %s started", name)
        s.after_clients_started()
        if self.edge.market == "replay" and isinstance(s.clock, SimClock) and s.recording.frames:
            s.clock.advance_to(s.recording.frames[0].ts)  # system events before the data
        logged = s.eventlog.durable_seq  # entries from earlier sessions
        self.recovery = await recover(
            eventlog=s.eventlog, state=s.state, ids=s.ids, clients=s.clients,
            policy=ReconcilePolicy.from_config(cfg.state, startup=True), now_ns=s.clock.now_ns)
        self._flush_venue_raw()
        restore: list[ev.Message] = []
        earlier: list[ev.Message] = []  # what earlier sessions knew of the venues' accounts
        if s.eventlog.durable_seq:
            for e in read_log(s.eventlog.path):
                if isinstance(e.msg, RESTORED):
                    restore.append(e.msg)
                if e.seq <= logged and isinstance(e.msg, (ev.BalanceSet, ev.ReconciliationCompleted)):
                    earlier.append(e.msg)
        self._wire_journal(earlier)
        kernel = s.assemble(restore)
        self._start_history()
        self._sim = next(iter(s.sims.values()), None)
        if self._sim is not None:
            self._process = self._sim.process
        s.exec_sink.attach(self._on_exec)
        s.alerts_sink.attach(self._system_event)
        if isinstance(s.clock, LiveClock):
            s.clock.handler = self._on_timer
            s.clock.attach(asyncio.get_running_loop())
        self._start_ops()
        kernel.on_system(ev.SessionStarted(
            mode=self.edge.mode, market=self.edge.market, venues=tuple(s.clients),
            policy_hash=s.policy_hash, version=__version__, recovered=self.recovery.replayed,
            ready=self.recovery.ready, ts_event=s.clock.now_ns(), ts_init=s.clock.now_ns()))
        if not self.recovery.ready:
            self.fault_free_halt(f"recovery not ready: {self.recovery.reason}")
        if self.edge.market == "venue":
            self._start_kernel()
        await self._start_feeds()
        gc.collect()
        gc.freeze()  # a daemon's set-up objects live forever: keep them out of every GC pass
        log.info("ready: %d phase(s) [%s], %d instrument(s), policy %s", len(s.phases),
                 ", ".join(p.owner for p in s.phases), len(s.instruments), s.policy_hash[:12])

    def fault_free_halt(self, reason: str) -> None:
        s = self.session
        out = s.brain.halt(reason, s.clock.now_ns())
        s.kernel.command(out)
        self._flush_venue()

    def _wire_journal(self, earlier: list[ev.Message]) -> None:
        """The kernel's journal: the event log, with the truth score's tap on every entry.
        The tracker first learns which venue accounts the log knew, then sees the startup
        reconciliation (a first sight of an account is no doubt; a known one that moved is)."""
        from titan.brain.truth import TruthTracker, accounts_seen

        s = self.session
        self.truth = TruthTracker.from_config(self.config)
        self.truth.know_accounts(accounts_seen(earlier))
        log_append, truth_on = s.eventlog.append, self.truth.on_event

        class Tap:
            def append(self, msg: ev.Message) -> int:
                truth_on(msg)
                return log_append(msg)

        for r in self.recovery.results:
            for e in r.events:
                truth_on(e)
        s.journal = Tap()

    def _start_kernel(self) -> None:
        if self._kernel_started:
            return
        self._kernel_started = True
        self.session.kernel.start()
        self._flush_venue()

    # ---- market data in -------------------------------------------------------------------------

    async def _start_feeds(self) -> None:
        from titan.feeds.client import MarketFeed
        from titan.feeds.options import FeedOptions

        s = self.session
        options = FeedOptions.from_config(self.config.feeds)
        urls = None
        if self.edge.market == "replay":
            from titan.feeds.replay_server import ReplayServer

            self.server = ReplayServer(s.recording, speed=self.edge.speed, venue=s.default_venue)
            await self.server.start()
            urls, options = self.server.urls, self.server.feed_options(options)
        sink = self._on_replay_event if self.edge.market == "replay" else self._on_live_event
        self.feed = MarketFeed(sink, clock=s.wall, urls=urls, options=options)
        for iid, (channels, timeframes) in feed_plan(s.phases, s.instruments).items():
            for ch in sorted(channels):
                await self.feed.subscribe(iid, ch)
            if timeframes:
                await self.feed.subscribe_bars(iid, sorted(timeframes))
        await self.feed.start()
        if self.server is not None and not self.edge.duration_s:
            self.spawn(self._end_of_replay(), "replay-end")

    async def _end_of_replay(self) -> None:
        await self.server.finished.wait()
        while True:
            last = max((w.last for w in self.feeds.values()), default=0.0)
            if time.monotonic() - last >= DRAIN_QUIET_S:
                break
            await asyncio.sleep(0.1)
        self.request_stop(f"recording played out ({self.server.sent} frames)")

    def _watch(self, evt: ev.Data) -> None:
        venue = evt.instrument_id.rpartition("@")[2]
        w = self.feeds.get(venue)
        if w is None:
            w = self.feeds[venue] = FeedWatch()
            w.status = "live"
        w.events += 1
        w.last = time.monotonic()
        if self.edge.market == "venue":
            ms = (evt.ts_init - evt.ts_event) / 1e6
            w.latency_ms = ms if w.latency_ms is None else 0.9 * w.latency_ms + 0.1 * ms

    def _on_replay_event(self, evt: ev.Message) -> None:
        """Replayed data: the kernel's clock is the data's; the BacktestRunner's loop contract."""
        if evt.__class__ is ev.FeedStatusChanged:
            self._on_feed_status(evt)  # type: ignore[arg-type]
            return
        s = self.session
        kernel, clock, sim = s.kernel, s.clock, self._sim
        try:
            ts = evt.ts_event  # type: ignore[attr-defined]
            if ts == evt.ts_init and self._kernel_started:  # type: ignore[attr-defined]
                # stamped on arrival (a book rebuilt from a REST snapshot before any diff):
                # it carries no data time; give it the data clock's, never the wall's
                ts = clock.now_ns()
                evt = msgspec.structs.replace(evt, ts_event=ts)  # type: ignore[type-var]
            if not self._kernel_started:
                clock.advance_to(ts)
                self._start_kernel()
            while True:  # timers due by this event's time, and those they set
                due = clock.advance_to(ts)
                if not due:
                    break
                for te in due:
                    kernel.on_timer(te)
                    if sim is not None:
                        sim.process(te.ts_event)
            if sim is not None:
                sim.on_market(evt)
            n = kernel.submitted
            kernel.on_market(evt)
            if sim is not None:
                sim.process(clock.now_ns())
            if kernel.submitted != n and self._latency is not None:
                self._latency((time.time_ns() - evt.ts_init) / 1e9)  # type: ignore[attr-defined]
            self._watch(evt)  # type: ignore[arg-type]
            if self.history is not None:
                self.history.on_market(evt)
        except Exception as e:  # noqa: BLE001 - logged, dead-lettered, risk halted
            self.fault("kernel.on_market", e, evt)

    def _on_live_event(self, evt: ev.Message) -> None:
        """Live data on the wall clock (timers fire on the loop: :meth:`_on_timer`)."""
        if evt.__class__ is ev.FeedStatusChanged:
            self._on_feed_status(evt)  # type: ignore[arg-type]
            return
        s = self.session
        kernel, sim = s.kernel, self._sim
        try:
            if sim is not None:
                sim.on_market(evt)
            n = kernel.submitted
            kernel.on_market(evt)
            if sim is not None:
                sim.process(s.clock.now_ns())
            if kernel.submitted != n and self._latency is not None:
                self._latency((time.time_ns() - evt.ts_init) / 1e9)  # type: ignore[attr-defined]
            self._watch(evt)  # type: ignore[arg-type]
            if self.history is not None:
                self.history.on_market(evt)
        except Exception as e:  # noqa: BLE001
            self.fault("kernel.on_market", e, evt)

    def _on_exec(self, e: ev.Message) -> None:
        """Venue events (client tasks, the simulated venue): a kernel failure halts risk."""
        try:
            self.session.kernel.on_exec(e)
        except Exception as exc:  # noqa: BLE001
            self.fault("kernel.on_exec", exc, e)

    def _on_feed_status(self, e: ev.FeedStatusChanged) -> None:
        if not e.instrument_id:
            w = self.feeds.setdefault(e.venue, FeedWatch())
            w.status, w.detail = e.status.value, e.detail
        s = self.session
        try:
            if isinstance(s.clock, SimClock) and e.ts_event != s.clock.now_ns():
                # health is stamped on the receive clock; the kernel runs on the data's time
                e = msgspec.structs.replace(e, ts_event=s.clock.now_ns(), ts_init=s.clock.now_ns())
            s.kernel.on_system(e)
            self._flush_venue()
        except Exception as exc:  # noqa: BLE001
            self.fault("kernel.on_system", exc, e)

    def _on_timer(self, te: ev.TimeEvent) -> None:
        try:
            self.session.kernel.on_timer(te)
            self._flush_venue()
        except Exception as e:  # noqa: BLE001
            self.fault("kernel.on_timer", e, te)

    def _flush_venue(self) -> None:
        if self._process is not None:
            self._process(self.session.clock.now_ns())

    def _flush_venue_raw(self) -> None:
        for sim in self.session.sims.values():
            sim.process(self.session.clock.now_ns())

    # ---- operator ---------------------------------------------------------------------------

    def control(self, action: str, reason: str) -> dict[str, Any]:
        """halt / flatten / resume from the API or the dashboard (logged as the Brain decides)."""
        s = self.session
        if s.brain is None:
            return {"ok": False, "error": "not ready"}
        fn = {"halt": s.brain.halt, "flatten": s.brain.flatten, "resume": s.brain.resume}[action]
        try:
            s.kernel.command(fn(reason, s.clock.now_ns()))
            self._flush_venue()
        except Exception as e:  # noqa: BLE001
            self.fault(f"operator {action}", e)
            return {"ok": False, "error": f"{type(e).__name__}: {e}"}
        return {"ok": True, "action": action, "breaker": s.brain.breaker.value,
                "reason": s.brain.breaker_reason, "emergency": s.brain.emergency}

    async def explain(self, cid: str) -> dict[str, Any] | None:
        from titan.ops.api import explain_from_log

        s = self.session
        with contextlib.suppress(Exception):
            await asyncio.wait_for(s.eventlog.flush(), 2.0)
        return await asyncio.to_thread(explain_from_log, s.db_path, cid)

    # ---- ops --------------------------------------------------------------------------------

    def _start_ops(self) -> None:
        from titan.ops.metrics import Metrics
        from titan.ops.telemetry import TradesJournal

        s, cfg = self.session, self.config
        bus = s.kernel.bus
        self.metrics = Metrics(self.gauges)
        self.metrics.bind_phases(self.phase_of)
        self._latency = self.metrics.latency.observe
        bus.subscribe("events.*", self.metrics.on_event)
        tel = cfg.telemetry
        path = Path(tel.trades_file)
        path = path if path.is_absolute() else s.data_dir / path
        self.journal = TradesJournal(path, rotate_bytes=int(tel.rotate_mb * (1 << 20)),
                                     phase_of=self.phase_of)
        self.journal.open()
        bus.subscribe("events.order.OrderFilled", self.journal.on_event)
        bus.subscribe("events.system.InternalCross", self.journal.on_event)
        url = self.env.get(tel.webhook_env, "")
        if url:
            from titan.ops.alerts import WebhookAlerts

            self.alerts = WebhookAlerts(url, per_minute=tel.alerts_per_minute)
            bus.subscribe("events.*", self.alerts.on_event)
            self.spawn(self.alerts.run(), "alerts")
        else:
            from titan.ops.alerts import alert_for

            self._recent_alerts: deque = deque(maxlen=50)

            def remember(e: ev.Message) -> None:
                a = alert_for(e)
                if a is not None:
                    self._recent_alerts.append((time.time(), a))

            bus.subscribe("events.*", remember)
        op = cfg.operator
        if op.enabled:
            from titan.ops.api import OperatorApi

            self.api = OperatorApi(status=self.status, metrics=self.metrics.render,
                                   control=self.control, explain=self.explain,
                                   token=self.env.get(op.token_env) or None,
                                   token_env=op.token_env, host=op.host, port=op.port)
            self.spawn(self.api.start(), "api-start")
        self._start_scheduler()
        self.spawn(self._housekeeping(), "housekeeping")
        if self.notifier is not None and self.notifier.enabled:
            self.spawn(self.notifier.run(self.systemd_status), "systemd-watchdog")
        if self.want_dashboard:
            from titan.ops.dashboard import Dashboard

            self.dashboard = Dashboard(self.status, on_panic=lambda: self.control(
                "flatten", "dashboard panic button"), on_quit=lambda: self.request_stop(
                "quit from the dashboard"))
            self.spawn(self.dashboard.run(), "dashboard")

    def _start_scheduler(self) -> None:
        from titan.execution.reconcile import ReconcilePolicy
        from titan.execution.recovery import PeriodicReconciler
        from titan.ops.scheduler import OpsScheduler

        s, cfg = self.session, self.config
        self.reconciler = PeriodicReconciler(
            s.state, s.clients, ReconcilePolicy.from_config(cfg.state, startup=False),
            on_event=self._system_event, on_command=self._commands, now_ns=s.clock.now_ns)
        self.scheduler = OpsScheduler()
        self.scheduler.every("reconcile", cfg.state.reconcile_interval_s, self.reconcile_sweep)
        self.scheduler.daily("daily-report", 0, 0, self.daily_report)
        if self.history is not None:
            self.scheduler.every("bar-history", 60.0, self.save_history)
            self.scheduler.every("ai-quant-optimise", cfg.phases.ai_quant.optimize_every_h * 3600,
                                 self.optimise)
        self.scheduler.start()

    def _start_history(self) -> None:
        """AI Quant on: record the 1m bars of every instrument a phase with a search space
        trades (none: nothing to record, no optimiser job)."""
        from titan.backtest.sweeps import METRIC_NAMES
        from titan.ops.bar_history import BarHistory
        from titan.ops.optimiser import search_space

        aq = self.config.phases.ai_quant
        if not aq.enabled:
            return
        if aq.optimize_metric not in METRIC_NAMES:
            from titan.app import PlanError

            raise PlanError(f"[phases.ai_quant] optimize_metric: unknown metric "
                            f"{aq.optimize_metric!r} (e.g. sharpe, sortino, calmar, total_return)")
        ids = {iid for p in self.session.phases if search_space(p) for iid in p.instruments}
        if not ids:
            log.info("ai quant optimiser: no phase with a search space; nothing to record")
            return
        self.history = BarHistory(self.session.data_dir / "history", ids,
                                  max_bars=int(aq.history_days * 1440))
        self.history.load()
        self.ai_quant["state"] = "idle"

    def _system_event(self, e: ev.Message) -> None:
        try:
            self.session.kernel.on_system(e)
            self._flush_venue()
        except Exception as exc:  # noqa: BLE001
            self.fault("kernel.on_system", exc, e)

    def _commands(self, cmds: list[ev.Message]) -> None:
        try:
            self.session.kernel.command(cmds)
            self._flush_venue()
        except Exception as exc:  # noqa: BLE001
            self.fault("kernel.command", exc)

    async def reconcile_sweep(self) -> None:
        """Operational: compare with every venue; corrections go through the kernel."""
        if self._closing:
            return
        await self.reconciler.run_once()
        self.truth.reconciled(self.session.state.anomaly_count)
        self.evaluate_truth()

    def evaluate_truth(self) -> None:
        s = self.session
        if s.state is None or s.kernel is None:
            return
        changed = self.truth.evaluate(s.state.open_orders(), s.clock.now_ns(),
                                      anomaly_count=s.state.anomaly_count,
                                      journal_ok=s.eventlog.healthy)
        if changed is not None:
            self._system_event(changed)

    async def daily_report(self) -> None:
        st = self.status()
        text = (f"equity {st['equity']:,.2f} (drawdown {st['drawdown']:.1%}), breaker "
                f"{st['breaker']}, {st['counters'].get('submitted', 0)} orders, "
                f"{st['fills']} fills, truth {st['truth_score']}")
        log.info("daily report: %s", text)
        if self.alerts is not None:
            from titan.ops.alerts import Alert

            self.alerts.push(Alert(severity="info", title="daily report", detail=text))

    async def save_history(self) -> None:
        """Operational: the bars collected since the last save go to disk, in a thread."""
        if self.history is not None:
            batch = self.history.take()
            if batch:
                await asyncio.to_thread(self.history.write, batch)

    async def optimise(self) -> None:
        """AI Quant's walk-forward optimiser (``titan.ops.optimiser``) on the recorded bars, in
        its own process. It only suggests: logged, in ``/status``, an info ``AlertRaised``."""
        if self.history is None or self._closing or self.ai_quant["state"] == "running":
            return
        task = self.spawn(self._optimise_once(), "ai-quant-optimise")
        await asyncio.wait({task})

    async def _optimise_once(self) -> None:
        try:
            await self._optimise()
        except Exception:  # an advisory job: its failure is logged, never a halt of risk
            log.exception("ai quant optimiser failed")
            self.ai_quant["state"] = "idle"

    async def _optimise(self) -> None:
        from titan.ops.optimiser import describe, run_in_subprocess, targets

        s, aq = self.session, self.ai_quant
        await self.save_history()
        batch, skipped = targets(s.phases, {i.id: i for i in s.instruments}, self.history,
                                 self.config.phases.ai_quant)
        aq["skipped"] = skipped
        for why in skipped:
            log.info("ai quant optimiser: not yet: %s", why)
        if not batch:
            return
        aq["state"] = "running"
        started = time.time()
        try:
            results = await run_in_subprocess(batch)
        except Exception as e:  # noqa: BLE001 - advice failed; trading goes on
            log.error("ai quant optimiser failed: %s", e)
            results = [{"owner": t.owner, "instrument_id": t.instrument_id, "error": str(e)}
                       for t in batch]
        finally:
            aq["state"] = "idle"
        aq.update(runs=aq["runs"] + 1, last_run=started, elapsed_s=round(time.time() - started, 3),
                  suggestions=results)
        if self._closing:
            return
        now = s.clock.now_ns()
        for r in results:
            text = describe(r)
            log.info("ai quant optimiser: %s", text)
            self._system_event(ev.AlertRaised(
                severity="warning" if "error" in r else "info", title="ai quant suggestion",
                detail=text, ts_event=now, ts_init=now))

    async def _housekeeping(self) -> None:
        """Every second: truth score, dead letters to disk, systemd status kept fresh."""
        while True:
            await asyncio.sleep(1.0)
            self.evaluate_truth()
            await self.session.dead_letters.flush()

    # ---- views ------------------------------------------------------------------------------

    def phase_of(self, cid: str) -> str:
        st = self.session.state
        order = st.order(cid) if st is not None else None
        return order.phase if order is not None else ""

    def gauges(self) -> dict[str, Any]:
        from titan.ops.status import gauges

        return gauges(self)

    def status(self) -> dict[str, Any]:
        from titan.ops.status import snapshot

        return snapshot(self)

    def systemd_status(self) -> str:
        s = self.session
        if s.brain is None:
            return "starting"
        return (f"{self.edge.mode}: equity {s.brain.equity:,.2f}, breaker {s.brain.breaker.value}, "
                f"{s.kernel.submitted} orders")

    # ---- shutdown ---------------------------------------------------------------------------

    async def shutdown(self) -> None:
        self._closing = True
        if self.notifier is not None:
            self.notifier.stopping(self.stop_reason)
        try:
            await asyncio.wait_for(self._shutdown(), SHUTDOWN_TIMEOUT_S)
        except TimeoutError:
            log.error("shutdown took longer than %g s: giving up on a clean stop", SHUTDOWN_TIMEOUT_S)
            self.exit_code = self.exit_code or 1
        if self.notifier is not None:
            self.notifier.close()

    async def _shutdown(self) -> None:
        s = self.session
        if self.dashboard is not None:
            self.dashboard.close()
        for name in ("duration", "replay-end"):
            task = self._tasks.get(name)
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        if self.feed is not None:
            await _quietly(self.feed.stop(), "feed stop")
        if self.server is not None:
            await _quietly(self.server.stop(), "replay server stop")
        left = 0
        if s.kernel is not None:
            try:
                if self._kernel_started:
                    s.kernel.stop()
                    self._flush_venue()
                left = await self._cancel_open_orders()
            except Exception as e:  # noqa: BLE001
                self.fault("shutdown", e)
        if self.scheduler is not None:
            self.scheduler.shutdown()
        await _quietly(self.save_history(), "bar history save")
        for name, client in s.clients.items():
            await _quietly(client.stop(), f"client {name} stop")
        if self.alerts is not None:
            await self.alerts.drain(2.0)
        if self.api is not None:
            await _quietly(self.api.stop(), "API stop")
        if self.journal is not None:
            await _quietly(self.journal.close(), "trades journal close")
        current = asyncio.current_task()
        tasks = [t for t in self._tasks.values() if t is not current and not t.done()]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if s.kernel is not None:
            s.kernel.on_system(ev.SessionStopped(
                reason=self.stop_reason or "stopped", clean=self.exit_code == 0,
                open_orders=left, ts_event=s.clock.now_ns(), ts_init=s.clock.now_ns()))
        await _quietly(s.dead_letters.flush(), "dead letters flush")
        if s.eventlog.last_seq > s.eventlog.durable_seq and s.eventlog.healthy:
            # flush first: EventLog.close() can drop entries appended during a running write
            await _quietly(asyncio.wait_for(s.eventlog.flush(), 5.0), "event log flush")
        await _quietly(s.eventlog.close(), "event log close")
        if s.kernel is not None:
            log.info("stopped (%s): %s", self.stop_reason or "stopped", _summary(self))

    async def _cancel_open_orders(self) -> int:
        """Cancel what is working (``execution.cancel_on_shutdown``) and wait, bounded, for the
        venues to confirm. Returns how many orders are left open."""
        s, ex = self.session, self.config.execution
        open_orders = list(s.state.open_orders())
        if not open_orders:
            return 0
        if not ex.cancel_on_shutdown:
            log.warning("leaving %d order(s) working at the venue (cancel_on_shutdown = false)",
                        len(open_orders))
            return len(open_orders)
        now = s.clock.now_ns()
        s.kernel.command([ev.CancelOrder(client_order_id=o.client_order_id,
                                         instrument_id=o.instrument_id,
                                         venue_order_id=o.venue_order_id or "",
                                         reason="shutdown", ts_init=now) for o in open_orders])
        self._flush_venue()
        deadline = time.monotonic() + min(ex.cancel_timeout_s, SHUTDOWN_TIMEOUT_S / 2)
        while time.monotonic() < deadline and any(True for _ in s.state.open_orders()):
            await asyncio.sleep(0.05)
        left = sum(1 for _ in s.state.open_orders())
        if left:
            log.error("%d order(s) still open after the shutdown cancels", left)
        return left


async def _quietly(coro: Any, what: str) -> None:
    try:
        await coro
    except Exception as e:  # noqa: BLE001 - shutdown goes on
        log.error("%s failed: %s: %s", what, type(e).__name__, e)


def _summary(runner: LiveRunner) -> str:
    s = runner.session
    c = s.kernel.counters
    eq = s.state.equity() if s.state is not None else Decimal(0)
    return (f"{c['market']} market events, {c['submitted']} orders, {c['denied']} denied, "
            f"equity {eq:,.2f} {s.account_currency()}, breaker {s.brain.breaker.value}")


def feed_plan(phases: list[Any], instruments: list[Any]) -> dict[str, tuple[set[Any], set[str]]]:
    """What to subscribe per instrument: channels and bar timeframes the phases declare, plus
    trades for every traded instrument (marks for positions, prices for simulated fills)."""
    from titan.feeds.venues import PERP_ONLY, Channel

    kinds = {"trade": Channel.TRADES, "quote": Channel.QUOTES, "book": Channel.BOOK,
             "funding": Channel.MARK, "mark": Channel.MARK}
    plan: dict[str, tuple[set[Any], set[str]]] = {}
    perp = {i.id: not i.is_spot for i in instruments}
    for inst in instruments:
        plan.setdefault(inst.id, (set(), set()))[0].add(Channel.TRADES)
    for phase in phases:
        for stream in phase.subscriptions():
            channels, tfs = plan.setdefault(stream.instrument_id, (set(), set()))
            if stream.kind == "bar":
                tfs.add(stream.timeframe or "1m")
                continue
            ch = kinds[stream.kind]
            if ch in PERP_ONLY and not perp.get(stream.instrument_id, ":" in
                                                split_instrument_id(stream.instrument_id)[0]):
                continue
            channels.add(ch)
    return plan


def run_session(config: TitanConfig, edge: Edge, **kw: Any) -> LiveRunner:
    """Run one session on uvloop when available; returns the finished runner
    (``exit_code``, ``error``)."""
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - Windows
        factory = None

    async def main() -> LiveRunner:
        runner = LiveRunner(config, edge, **kw)
        await runner.run()
        return runner

    with asyncio.Runner(loop_factory=factory) as loop_runner:
        return loop_runner.run(main())

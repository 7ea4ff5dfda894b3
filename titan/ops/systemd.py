"""systemd notifications (``Type=notify``): READY, STATUS, STOPPING and the WATCHDOG keep-alive.

The plain ``NOTIFY_SOCKET`` datagram protocol (``sd_notify(3)``), no library: one ``KEY=VALUE``
per line in one datagram to the unix socket systemd names in the environment (``@`` at the
start means the abstract namespace). Outside systemd the variable is unset and every call is
a no-op.

The keep-alive is sent by a task on the daemon's own event loop (:meth:`SystemdNotifier.run`),
never by a thread: if the loop stops turning - a handler stuck in a loop, a blocking call - the
pings stop, ``WatchdogSec`` expires and systemd restarts the service (``Restart=always``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        path = env.get("NOTIFY_SOCKET", "")
        self.address = ("\0" + path[1:]) if path.startswith("@") else path
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        ours = not pid or pid == str(os.getpid())
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 and ours else 0.0
        self._sock: socket.socket | None = None
        self.sent = 0
        self.pings = 0

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    @property
    def interval_s(self) -> float:
        """Ping twice per watchdog period (systemd's advice), 0 when no watchdog is set."""
        return self.watchdog_s / 2 if self.watchdog_s else 0.0

    def notify(self, **fields: str | int) -> bool:
        """Send ``KEY=VALUE`` lines (``notify(READY=1, STATUS="...")``); False if not sent."""
        if not self.address:
            return False
        text = "\n".join(f"{k}={_one_line(str(v))}" for k, v in fields.items())
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(text.encode(), self.address)
        except OSError as e:
            log.warning("systemd notify failed (%s): %s", self.address.lstrip("\0"), e)
            return False
        self.sent += 1
        return True

    def ready(self, status: str = "") -> bool:
        return self.notify(READY=1, **({"STATUS": status} if status else {}))

    def status(self, text: str) -> bool:
        return self.notify(STATUS=text)

    def stopping(self, status: str = "") -> bool:
        return self.notify(STOPPING=1, **({"STATUS": status} if status else {}))

    def watchdog(self) -> bool:
        ok = self.notify(WATCHDOG=1)
        self.pings += ok
        return ok

    async def run(self, status: Callable[[], str] | None = None, every_s: float | None = None) -> None:
        """Ping the watchdog (and refresh STATUS) from the event loop until cancelled."""
        interval = every_s if every_s is not None else (self.interval_s or 15.0)
        while True:
            if self.watchdog_s or every_s is not None:
                self.watchdog()
            if status is not None:
                with contextlib.suppress(Exception):
                    self.status(status())
            await asyncio.sleep(interval)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _one_line(text: str) -> str:
    return text.replace("\n", " ")[:400]

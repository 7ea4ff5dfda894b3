"""Drive ``titan run`` as a real subprocess: start, poll its operator API, signal, reap.

Every process started here is killed and reaped when the test ends, whatever happens, and every
port is picked free and released with it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-operator-token-0c1d2e3f"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, *, token: str | None = None, body: dict | None = None
         ) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


class Daemon:
    """One ``python -m titan run ...`` process with its stdout/stderr in files."""

    def __init__(self, args: list[str], *, cwd: Path, port: int, env: dict[str, str] | None = None,
                 name: str = "titan") -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.err_path = cwd / f"{name}.stderr"
        self.out_path = cwd / f"{name}.stdout"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("TITAN_")}
        full_env.update({"PYTHONPATH": str(ROOT), "HYPOTHESIS_PROFILE": "ci"})
        full_env.update(env or {})
        self._err = open(self.err_path, "wb")  # noqa: SIM115 - closed in stop()
        self._out = open(self.out_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "titan", "run", *args], cwd=cwd,
                                     env=full_env, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL)

    def status(self) -> dict[str, Any] | None:
        try:
            code, st = http("GET", f"{self.url}/status")
        except OSError:
            return None
        return st if code == 200 else None

    def wait_status(self, predicate, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"titan exited {self.proc.returncode}: {self.stderr()[-2000:]}")
            st = self.status()
            if st is not None:
                last = st
                if predicate(st):
                    return st
            time.sleep(0.1)
        raise AssertionError(f"status condition not met in {timeout} s; last: {last}\n"
                             f"{self.stderr()[-2000:]}")

    def terminate(self, timeout: float = 40.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        if not self._err.closed:
            self._err.flush()
        return self.err_path.read_text(errors="replace")

    def log_lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.stderr().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._err.close()
        self._out.close()


def run_once(args: list[str], *, cwd: Path, env: dict[str, str] | None = None,
             timeout: float = 60.0) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TITAN_")}
    full_env.update({"PYTHONPATH": str(ROOT)})
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "titan", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)

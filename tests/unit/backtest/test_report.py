"""The HTML report: parsed and counted against the summary (no browser needed), and rendered by
headless Chromium when it is installed (``apt-get install chromium``; skipped otherwise)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser

import pytest

from titan.backtest.report import render

from .world import Scripted, bars, instrument, run

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


class Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.roles: dict[str, list[dict]] = {}
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        a = dict(attrs)
        self.attrs.extend((k, v or "") for k, v in attrs)
        if "data-role" in a:
            self.roles.setdefault(a["data-role"], []).append(a)


@pytest.fixture(scope="module")
def summary():
    series = bars(n=3000)
    script = {i: ("buy" if (i // 240) % 2 else "sell", "0.01") if (i - 100) % 120 == 0 else ("close", None)
              for i in range(100, 2900, 60)}
    script[2950] = ("buy", "0.01")  # still open at the end
    _, s = run([Scripted(script, instruments=[series.instrument_id])], instrument(), [series])
    return s


def points(attrs: dict) -> int:
    return len(attrs["points"].split())


def test_charts_and_tables_hold_exactly_the_data(summary):
    page = Parsed()
    page.feed(render(summary, title="scripted"))
    (equity,) = page.roles["equity"]
    (drawdown,) = page.roles["drawdown"]
    (price,) = page.roles["price"]
    assert points(equity) == points(drawdown) == len(summary.equity["ts"]) > 100
    iid = next(iter(summary.prices))
    assert points(price) == len(summary.prices[iid]["ts"])
    assert len(page.roles["entry"]) == len(summary.trades) >= 20
    assert len(page.roles["exit"]) == sum(not t.open for t in summary.trades) == len(summary.trades) - 1
    assert len(page.roles["trade"]) == len(summary.trades)
    assert len(page.roles["month"]) == len(summary.monthly_returns)


def test_the_report_is_self_contained(summary):
    html = render(summary)
    page = Parsed()
    page.feed(html)
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert not [v for k, v in page.attrs if k in ("src", "href") or "url(" in v]
    assert "http://" not in html and "https://" not in html and "@import" not in html


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")
def test_headless_chromium_renders_it(summary, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render(summary))
    shot = tmp_path / "shot.png"
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1600"]
    dom = subprocess.run([*args, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90)
    assert dom.returncode == 0, dom.stderr[-500:]
    rendered = Parsed()
    rendered.feed(dom.stdout)  # the DOM after Chromium parsed and laid out the page
    assert points(rendered.roles["equity"][0]) == len(summary.equity["ts"])
    assert len(rendered.roles["trade"]) == len(summary.trades)
    subprocess.run([*args, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=90, check=True)
    head = shot.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", head[16:24]) == (1200, 1600)

"""``python -m tests.kit.emulator``: run the exchange emulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from tests.kit.emulator.server import API_KEY, API_SECRET, Emulator


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.kit.emulator",
                                description="Local exchange emulator (Bybit, Binance, MEXC) on 127.0.0.1.")
    p.add_argument("--venues", default="bybit,binance,mexc", help="comma list of bybit,binance,mexc")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", action="append", default=[], metavar="VENUE=PORT",
                   help="fixed port for a venue (repeatable); default: a free port")
    p.add_argument("--api-key", default=API_KEY)
    p.add_argument("--api-secret", default=API_SECRET)
    p.add_argument("--speed", type=float, default=0.0,
                   help="replay recorded data at this multiple of real time (0: only on request)")
    p.add_argument("--no-limits", action="store_true", help="do not enforce the venues' rate limits")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    ports = {}
    for item in args.port:
        venue, _, port = item.partition("=")
        if not port.isdigit():
            raise SystemExit(f"--port {item!r}: expected VENUE=PORT")
        ports[venue] = int(port)
    emu = Emulator(tuple(v for v in args.venues.split(",") if v), host=args.host, ports=ports,
                   api_key=args.api_key, api_secret=args.api_secret, enforce_limits=not args.no_limits,
                   replay_speed=args.speed)
    await emu.start()
    print(json.dumps({v: emu.base_url(v) for v in emu.apps}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await emu.stop()


def main(argv: list[str] | None = None) -> None:
    try:
        asyncio.run(serve(parse_args(sys.argv[1:] if argv is None else argv)))
    except ValueError as e:
        raise SystemExit(str(e)) from None


if __name__ == "__main__":
    main()

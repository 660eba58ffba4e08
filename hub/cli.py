"""The `hub` command: run, demo, check-config (CONTRACT.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from hub import config as hub_config
from hub.app import Hub
from hub.errors import ConfigError, HubError

log = logging.getLogger("hub")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hub", description="Ping'an Hub: alarms to the 110 command center")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the hub until SIGINT/SIGTERM")
    run.add_argument("--config", type=Path, help="YAML configuration file")
    demo = commands.add_parser("demo", help="run the hub with simulated alarm devices")
    demo.add_argument("--config", type=Path, help="YAML configuration file")
    demo.add_argument("--devices", type=int, default=200, help="simulated devices")
    demo.add_argument("--rate", type=float, default=0.5, help="simulated events per second")
    check = commands.add_parser("check-config", help="validate a configuration file")
    check.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "httpx", "aioice", "aiortc"):  # aioice: four lines per live viewer
        logging.getLogger(noisy).setLevel(logging.WARNING)

    if args.command == "check-config":
        return check_config(args.file)
    try:
        cfg = hub_config.load(args.config)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 1
    try:
        if args.command == "demo":
            from hub.demo import Demo  # the simulators are only needed here

            return asyncio.run(serve(cfg, Demo(cfg, devices=args.devices, rate=args.rate).run))
        return asyncio.run(serve(cfg))
    except HubError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 1


def check_config(path: Path) -> int:
    try:
        hub_config.load(path, env={})
    except ConfigError as exc:
        for line in str(exc).splitlines():
            print(f"{path}: {line}")
        return 1
    print(f"{path}: ok")
    return 0


class _Server(uvicorn.Server):
    """uvicorn re-raises the signal it caught once it has stopped, which would kill the process before
    the hub commits and closes; here the hub owns the signals and stops in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_exit(self) -> None:
        log.info("signal received: shutting down")
        self.should_exit = True


async def serve(cfg: hub_config.HubConfig,
                after_start: Callable[[Hub], Coroutine[Any, Any, None]] | None = None) -> int:
    """Start the hub, serve HTTP until a signal, then stop cleanly. `after_start` runs beside it."""
    from hub.web.app import create_app

    hub = Hub(cfg)
    await asyncio.to_thread(hub.start)
    try:
        if hub.new_admin_token:
            print(f"\nadmin token (shown once, keep it): {hub.new_admin_token}\n", flush=True)
        host, port = cfg.http.rsplit(":", 1)
        server = _Server(uvicorn.Config(create_app(hub.web_context()), host=host, port=int(port),
                                        log_level="warning", access_log=False,
                                        # consoles hold event streams open: they must not hold a stop
                                        timeout_graceful_shutdown=3))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, server.request_exit)
        log.info("serving http://%s", cfg.http)
        if after_start is None:
            await server.serve()
        else:
            side = asyncio.create_task(after_start(hub))
            await server.serve()
            side.cancel()
    finally:
        log.info("stopping")
        await asyncio.to_thread(hub.stop)
    return 0

"""The forwarder in a process of its own.

The hub's Python threads share one interpreter lock. With the forwarder and its MQTT client beside the
pipeline, every commit of the pipeline waited its turn behind them, and the second core sat idle. In
its own process the forwarder drains the outbox on the other core; the two talk over a pipe:

    parent → child   ("wake",)                       new deliveries were committed
                     ("stored", token)                the pipeline stored what the child sent
                     ("stop",)
    child → parent   ("sent", token, ids, at, first)  the sink confirmed these deliveries
                     ("report", method, args)         a figure for the metrics (forwarder.Report)

The child stops when the pipe closes, so it never outlives a hub that was killed. If the child dies,
the parent starts another: the outbox is in the database, nothing is lost, at worst sent twice.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from drivers import mqtt_cc
from hub.forwarder import Forwarder, MetricsReport, OnSent
from hub.store.db import open_engine
from hub.store.store import Store

log = logging.getLogger(__name__)
_RESTART_DELAY_S = 1.0


@dataclass(frozen=True, slots=True)
class Spec:
    """Everything the child needs to build its forwarder (picklable)."""

    database_url: str
    sink_name: str
    sink: mqtt_cc.Settings
    batch_max: int
    publish_timeout_s: float
    retry_initial_s: float
    retry_max_s: float
    log_level: int


# -- the child ------------------------------------------------------------------------------------------

class _PipeReport:
    """forwarder.Report that sends each figure to the parent."""

    def __init__(self, send: Any) -> None:
        self._send = send

    def __getattr__(self, method: str) -> Any:
        return lambda *args: self._send(("report", method, args))


def child_main(spec: Spec, conn: Connection) -> None:
    # A Ctrl-C or a SIGTERM to the whole process group is for the hub to act on: it stops the child in
    # order (and the child stops by itself if the hub is gone).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=spec.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    lock = threading.Lock()
    waiting: dict[int, Future[Any]] = {}
    tokens = iter(range(1, 1 << 62))

    def send(item: tuple[Any, ...]) -> None:
        with lock:
            conn.send(item)

    def on_sent(ids: list[int], at: datetime, first: list[str]) -> Future[Any]:
        future: Future[Any] = Future()
        token = next(tokens)
        waiting[token] = future
        send(("sent", token, ids, at.timestamp(), first))
        return future

    db = open_engine(spec.database_url)
    forwarder = Forwarder(Store(db), spec.sink_name, mqtt_cc.MqttSink(spec.sink), batch_max=spec.batch_max,
                          publish_timeout_s=spec.publish_timeout_s, retry_initial_s=spec.retry_initial_s,
                          retry_max_s=spec.retry_max_s, on_sent=on_sent, report=_PipeReport(send))
    forwarder.start()
    try:
        while True:
            try:
                item = conn.recv()
            except (EOFError, OSError):
                break  # the hub is gone
            if item[0] == "wake":
                forwarder.wake()
            elif item[0] == "stored":
                future = waiting.pop(item[1], None)
                if future is not None:
                    future.set_result(None)
            elif item[0] == "stop":
                break
    finally:
        forwarder.stop()
        db.dispose()


# -- the parent -----------------------------------------------------------------------------------------

class ForwarderProcess:
    """Starts, feeds and watches the child; the same face as a Forwarder to the rest of the hub."""

    def __init__(self, spec: Spec, on_sent: OnSent) -> None:
        self.spec = spec
        self.on_sent = on_sent
        self.report = MetricsReport()
        self._sink_up = False
        self._stopping = False
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._process: Any = None
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")  # no threads, sockets or locks inherited
        ours, theirs = context.Pipe()
        self._process = context.Process(target=child_main, args=(self.spec, theirs), daemon=True,
                                        name=f"forwarder-{self.spec.sink_name}")
        self._process.start()
        theirs.close()
        self._conn = ours
        self._reader = threading.Thread(target=self._read, args=(ours,), name="forwarder-link", daemon=True)
        self._reader.start()

    def wake(self) -> None:
        self._send(("wake",))

    def ready(self) -> bool:
        return self._sink_up

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping = True
        self._send(("stop",))
        if self._process is not None:
            self._process.join(timeout)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(5)
        if self._conn is not None:
            self._conn.close()

    def _send(self, item: tuple[Any, ...]) -> None:
        with self._lock:
            if self._conn is None:
                return
            with contextlib.suppress(OSError):  # the child is gone; the reader restarts it
                self._conn.send(item)

    def _read(self, conn: Connection) -> None:
        while True:
            try:
                item = conn.recv()
            except (EOFError, OSError):
                break
            if item[0] == "sent":
                self._sent(*item[1:])
            elif item[0] == "report":
                method, args = item[1], item[2]
                if method == "sink_up":
                    self._sink_up = bool(args[1])
                getattr(self.report, method)(*args)
        if not self._stopping:
            log.error("the forwarder process ended unexpectedly (exit %s); starting another",
                      self._process.exitcode if self._process else "?")
            self._sink_up = False
            threading.Timer(_RESTART_DELAY_S, self._restart).start()

    def _restart(self) -> None:
        if not self._stopping:
            with self._lock:
                self._conn = None
            self.start()

    def _sent(self, token: int, ids: list[int], at: float, first: list[str]) -> None:
        def stored(_done: Future[Any]) -> None:
            self._send(("stored", token))

        self.on_sent(ids, datetime.fromtimestamp(at, UTC), first).add_done_callback(stored)

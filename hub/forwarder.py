"""The forwarder: drains the outbox into one sink, at least once, most urgent first.

A delivery leaves the outbox only after the sink confirmed it (MQTT PUBACK). While the sink is down the
forwarder waits with capped exponential backoff and the backlog stays in the database; nothing is
dropped. A delivery may be sent twice (a crash between the PUBACK and marking it sent): consumers drop
repeats by `(alarm_id, seq)`.

The forwarder only reads the outbox. Marking deliveries sent is handed to the pipeline (`on_sent`),
which stores it with its next batch: one writer, one commit, where two writers took turns before. Until
that commit, the forwarder remembers what it sent and does not send it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError

from drivers.base import Outgoing, Sink
from hub import message, metrics
from hub.model import utcnow
from hub.store.store import PendingDelivery, Store

log = logging.getLogger(__name__)
_STATS_EVERY_S = 2.0
_POLL_S = 0.25
# (delivery ids, when the sink confirmed them, alarms whose first message they were) → stored.
OnSent = Callable[[list[int], datetime, list[str]], Future[Any]]


class Report(Protocol):
    """Where a forwarder's figures go: the metrics here, or the parent process (forwarder_process)."""

    def sink_up(self, sink: str, up: bool) -> None: ...
    def outbox(self, sink: str, depth: int, oldest_s: float) -> None: ...
    def forwarded(self, sink: str, latencies: list[float]) -> None: ...
    def failed(self, sink: str, count: int) -> None: ...
    def store_error(self) -> None: ...


class MetricsReport:
    def sink_up(self, sink: str, up: bool) -> None:
        metrics.SINK_UP.labels(sink).set(1 if up else 0)

    def outbox(self, sink: str, depth: int, oldest_s: float) -> None:
        metrics.OUTBOX_DEPTH.labels(sink).set(depth)
        metrics.OUTBOX_OLDEST_AGE.labels(sink).set(oldest_s)

    def forwarded(self, sink: str, latencies: list[float]) -> None:
        histogram = metrics.FORWARD_LATENCY.labels(sink)
        for latency in latencies:
            histogram.observe(latency)

    def failed(self, sink: str, count: int) -> None:
        metrics.FORWARD_FAILURES.labels(sink).inc(count)

    def store_error(self) -> None:
        metrics.STORE_ERRORS.labels("forwarder").inc()


class Forwarder:
    def __init__(self, store: Store, sink_name: str, sink: Sink, *, batch_max: int, publish_timeout_s: float,
                 retry_initial_s: float, retry_max_s: float, on_sent: OnSent,
                 report: Report | None = None) -> None:
        self.store = store
        self.name = sink_name
        self.sink = sink
        self.batch_max = batch_max
        self.publish_timeout_s = publish_timeout_s
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.on_sent = on_sent
        self.report = report or MetricsReport()
        self._sent: set[int] = set()  # confirmed by the sink, not yet marked in the store
        self._sent_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"forwarder-{sink_name}", daemon=True)
        self._stats_at = 0.0
        self._sink_down = False

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """New deliveries were committed."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)
        self.sink.close()

    def _run(self) -> None:
        backoff = self.retry_initial_s
        retry_at = 0.0
        while not self._stop.is_set():
            self._stats()  # kept fresh while backing off too: a stuck outbox is what monitoring wants
            wait = retry_at - time.monotonic()
            if wait > 0 and not (self._sink_down and self.sink.ready()):  # back: no need to sit out the delay
                self._stop.wait(min(wait, _POLL_S))
                continue
            try:
                sent_all = self._round()
            except DBAPIError as exc:
                self.report.store_error()
                log.error("forwarder %s: database unavailable (%s)", self.name, exc.__class__.__name__)
                sent_all = False
            if sent_all is None:  # nothing to send
                self._wake.wait(1.0)
                self._wake.clear()
            if sent_all is False:
                retry_at = time.monotonic() + backoff
                backoff = min(backoff * 2, self.retry_max_s)
            else:
                backoff = self.retry_initial_s

    def _round(self) -> bool | None:
        """One batch. None: the outbox is empty; False: the sink is down or confirmed not all."""
        now = utcnow()
        ready = self.sink.ready()
        self._sink_down = not ready
        self.report.sink_up(self.name, ready)
        if not ready:
            return False
        with self._sent_lock:
            sent = set(self._sent)
        batch = [d for d in self.store.pending(self.name, now, self.batch_max + len(sent))
                 if d.id not in sent][: self.batch_max]
        if not batch:
            return None
        sent_at = utcnow()
        flags = self.sink.send([Outgoing(target=d.target, payload=message.with_sent_at(d.payload, sent_at))
                                for d in batch], self.publish_timeout_s)
        done = [d for d, ok in zip(batch, flags, strict=True) if ok]
        confirmed_at = utcnow()
        self._mark([d.id for d in done], confirmed_at, [d.alarm_id for d in done if d.seq == 1])
        self._observe(done, confirmed_at.timestamp())
        failed = len(batch) - len(done)
        if failed:
            self.report.failed(self.name, failed)
            log.warning("forwarder %s: %d of %d deliveries unconfirmed; will retry", self.name, failed,
                        len(batch))
        return failed == 0

    def _mark(self, ids: list[int], at: datetime, first: list[str]) -> None:
        if not ids:
            return
        with self._sent_lock:
            self._sent.update(ids)

        def forget(_done: Future[Any]) -> None:
            # Stored (or, if the pipeline stopped first, to be sent again next time: at least once).
            with self._sent_lock:
                self._sent.difference_update(ids)

        self.on_sent(ids, at, first).add_done_callback(forget)

    def _observe(self, done: list[PendingDelivery], confirmed: float) -> None:
        if done:
            self.report.forwarded(self.name, [max(confirmed - d.received_at.timestamp(), 0.0) for d in done])

    def _stats(self) -> None:
        mono = time.monotonic()
        if mono - self._stats_at < _STATS_EVERY_S:
            return
        self._stats_at = mono
        try:
            depth, oldest = self.store.outbox_stats(self.name, utcnow())
        except DBAPIError:
            return  # the round that follows reports the outage
        self.report.outbox(self.name, depth, oldest)

"""The pipeline thread: inputs → drivers → alarm engine → one commit → acknowledgements.

It is the single writer of alarms. Inputs arrive on a bounded queue (MQTT messages with the callback
that acknowledges them, commands from the API and the forwarder); each turn takes up to `batch_max` of
them, decides everything in memory, commits once, and only then acknowledges the sources. So a crash
at any point either loses nothing that was acknowledged, or leaves messages for the broker to
redeliver. Supervision deadlines are checked on the same thread, between turns.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from drivers.base import Decoder, Inbound
from hub import metrics, uptime
from hub.engine import Engine
from hub.errors import Rejected, Unregistered
from hub.model import Change, Device, Heartbeat, Registered, Signal, SignalResult, Source, utcnow
from hub.store.store import Store
from hub.supervisor import Supervisor
from hub.writes import Writes

log = logging.getLogger(__name__)
# "Last seen" of every device heard is stored in one batch this often, not with each heartbeat: 20,000
# devices heartbeating every minute would otherwise cost a durable commit per heartbeat.
_LAST_SEEN_FLUSH_S = 30.0
_DEDUP_MEMORY = timedelta(days=7)
_EARLY_RESTORE_MEMORY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Message:
    inbound: Inbound
    ack: Callable[[], None]


@dataclass(frozen=True, slots=True)
class Command:
    """Work that must run on the engine's thread; its result resolves `future` after the commit."""

    run: Callable[[Engine, Writes], Any]
    future: Future[Any]


@dataclass(frozen=True, slots=True)
class Observed:
    """What a camera worker saw: signals (motion, video loss, tamper, their restores) and the camera's
    stream state to store, if it changed."""

    camera_id: str
    signals: tuple[Signal, ...] = ()
    online: bool | None = None
    last_frame_at: datetime | None = None
    reason: str | None = None  # why it went offline


_STOP = object()
Item = Message | Command | Observed


class Pipeline:
    def __init__(self, store: Store, engine: Engine, supervisor: Supervisor, decoders: list[Decoder], *,
                 batch_max: int, queue_max: int, max_payload_bytes: int, startup_grace_s: float = 0.0,
                 on_commit: Callable[[], None] = lambda: None,
                 on_states: Callable[[list[dict[str, Any]]], None] = lambda _rows: None,
                 version: str = "") -> None:
        self.store = store
        self.engine = engine
        self.supervisor = supervisor
        self.decoders = decoders
        self.batch_max = batch_max
        self.max_payload_bytes = max_payload_bytes
        self.startup_grace_s = startup_grace_s
        self.on_commit = on_commit
        self.on_states = on_states  # stored camera/device state changes (for the status topics)
        self.version = version
        self.run_id: int | None = None  # this start's row in hub_runs
        self._alive_at = 0.0
        self.queue: queue.Queue[Item | object] = queue.Queue(maxsize=queue_max)
        self._seen: dict[str, float] = {}  # heard since the last flush
        self._online: dict[tuple[str, str], bool | None] = {}  # (kind, id) → as last stored
        self._flushed_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="pipeline", daemon=True)
        self._ready = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        self.load()
        self.run_id = self.store.begin_run(self.version, utcnow())
        self._alive_at = time.monotonic()
        metrics.DATABASE_UP.set(1)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish what is queued (committed and acknowledged), then stop."""
        if self._thread.is_alive():
            self.queue.put(_STOP)
            self._thread.join(timeout)
            self._alive(stopped=True)

    def load(self) -> None:
        """(Re)build the engine and the supervisor from the store."""
        registry = self.store.registry()
        seen = self.store.recent_message_ids(utcnow() - _DEDUP_MEMORY)
        early = self.store.early_restores(utcnow() - _EARLY_RESTORE_MEMORY)
        self.engine.load(registry, self.store.open_alarms(), seen, early)
        states = self.store.device_states()
        self._online = {("device", d): online for d, (online, _) in states.items()}
        self._online.update((("camera", c), online) for c, online in self.store.camera_states().items())
        faulted = [d for d, (online, _) in states.items() if online is False]
        self.supervisor.load(registry.devices.values(), time.time(), faulted, self.startup_grace_s)
        self.supervisor.heard_at = {d: seen.timestamp() for d, (_, seen) in states.items() if seen}

    # -- inputs (any thread) -----------------------------------------------------------------------

    def submit(self, item: Item) -> None:
        """Queue an input; blocks while the queue is full (back-pressure onto the broker)."""
        self.queue.put(item)

    def offer(self, item: Item) -> bool:
        """Queue an input if there is room, without blocking (an event loop's way); False if full."""
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            return False
        return True

    def call(self, run: Callable[[Engine, Writes], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self.submit(Command(run, future))
        return future

    def refresh(self, kind: type[Registered], item_id: str) -> Future[Any]:
        """Re-read one center, site or device into the engine (after the API changed it)."""

        def run(engine: Engine, _writes: Writes) -> None:
            item = self.store.one(kind, item_id)
            if item is None:
                engine.registry.drop(kind, item_id)
                if kind is Device:
                    self.supervisor.drop(item_id)
                return
            engine.registry.put(item)
            if isinstance(item, Device):
                self.supervisor.put(item, time.time())

        return self.call(run)

    def device_health(self) -> metrics.DeviceTable:
        """For /metrics, from any thread: copies are taken first (each copy is atomic under the GIL), the
        supervisor's version before them (a change in between is seen as a change at the next scrape)."""
        version = self.supervisor.version
        devices = dict(self.engine.registry.devices)
        ids = list(self.supervisor.interval)
        return metrics.DeviceTable(ids=ids, site={d: devices[d].site_id for d in ids if d in devices},
                                   heard=dict(self.supervisor.heard_at), faulted=set(self.supervisor.faulted),
                                   now=time.time(), version=version)

    # -- the thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            items, stop = self._take()
            faults = self.supervisor.due(time.time())
            if items or faults or self._escalation_due(time.time()):
                self._turn(items, faults)
            if stop or time.monotonic() - self._flushed_at >= _LAST_SEEN_FLUSH_S:
                self._flush_seen()
            if stop:
                return
            if time.monotonic() - self._alive_at >= uptime.ALIVE_EVERY_S:
                self._alive()

    def _alive(self, *, stopped: bool = False) -> None:
        """Store that the hub is running (uptime counts time after the last sign as unknown)."""
        self._alive_at = time.monotonic()
        if self.run_id is None:
            return
        try:
            self.store.alive(self.run_id, utcnow(), stopped=stopped)
            metrics.DATABASE_UP.set(1)
        except (OperationalError, InterfaceError) as exc:
            metrics.DATABASE_UP.set(0)
            metrics.STORE_ERRORS.labels("pipeline").inc()
            log.error("database unavailable for the hub's sign of life (%s)", exc.__class__.__name__)

    def open_counts(self) -> dict[tuple[str, str], int]:
        """Open alarms by (priority, state), for /metrics from any thread."""
        return Counter((str(a.priority), a.state.value) for a in list(self.engine.by_id.values()))

    def _flush_seen(self) -> None:
        self._flushed_at = time.monotonic()
        if not self._seen:
            return
        seen, self._seen = self._seen, {}
        faulted = self.supervisor.faulted
        writes = Writes(devices_seen={d: {"id": d, "online": d not in faulted,
                                          "last_seen_at": datetime.fromtimestamp(at, UTC)}
                                      for d, at in seen.items()})
        for row in writes.devices_seen.values():
            self._state("device", row["id"], row["online"], row["last_seen_at"], None, writes)
        self._commit(writes)

    def _next_deadline(self) -> float | None:
        deadline = self.engine.next_deadline()
        return None if deadline is None else deadline.timestamp()

    def _escalation_due(self, now: float) -> bool:
        deadline = self._next_deadline()
        return deadline is not None and deadline <= now

    def _take(self) -> tuple[list[Item], bool]:
        dues = [d for d in (self.supervisor.next_due(), self._next_deadline()) if d is not None]
        timeout = min(1.0, max(min(dues) - time.time(), 0.0)) if dues else 1.0
        items: list[Item] = []
        try:
            first = self.queue.get(timeout=timeout) if timeout > 0 else self.queue.get_nowait()
        except queue.Empty:
            return items, False
        for item in _drain(first, self.queue, self.batch_max):
            if item is _STOP:
                return items, True
            assert isinstance(item, Message | Command | Observed)
            items.append(item)
        return items, False

    def _turn(self, items: list[Item], faults: list[Signal]) -> None:
        writes = Writes()
        tally = Tally()
        results: list[tuple[Command, Any]] = []
        now = time.time()
        for item in items:
            if isinstance(item, Message):
                self._message(item.inbound, now, writes, tally)
            elif isinstance(item, Observed):
                self._observed(item, writes, tally)
            else:
                results.append((item, self._command(item, writes)))
        for fault in faults:
            metrics.SUPERVISION_LATENESS.observe(max(self.supervisor.lateness(fault.device_id, now), 0.0))
            self._fault(fault, writes, tally)
        for alarm in self.engine.escalate_due(datetime.fromtimestamp(now, UTC), writes):
            log.warning("alarm %s not acknowledged in time: escalated to %s", alarm.id, alarm.escalated_to)
            tally.changes[Change.ESCALATED.value] += 1
        if not self._commit(writes):
            self._isolate(items, faults)
            return
        for item in items:
            if isinstance(item, Message):
                item.ack()
        for command, result in results:
            if isinstance(result, BaseException):
                command.future.set_exception(result)
            else:
                command.future.set_result(result)
        tally.publish()
        metrics.PIPELINE_QUEUE.set(self.queue.qsize())
        if writes.deliveries:
            self.on_commit()

    def _command(self, command: Command, writes: Writes) -> Any:
        try:
            return command.run(self.engine, writes)
        except Exception as exc:  # the caller gets the error; the pipeline goes on
            return exc

    # -- one message -------------------------------------------------------------------------------

    def _message(self, inbound: Inbound, now: float, writes: Writes, tally: Tally) -> None:
        decoder = self._decoder(inbound.topic)
        source = Source(decoder.protocol) if decoder else Source.MQTT
        try:
            if decoder is None:
                raise Rejected("unknown_topic", inbound.topic[:200])
            if len(inbound.payload) > self.max_payload_bytes:
                raise Rejected("oversized", f"{len(inbound.payload)} bytes, limit {self.max_payload_bytes}")
            decoded = decoder.decode(inbound, self.engine.registry)
        except Unregistered as exc:
            writes.unregistered.append({"at": inbound.received_at, "source": source.value,
                                        "device_key": exc.device_key[:300], "topic": inbound.topic[:300],
                                        "raw": inbound.payload[: self.max_payload_bytes]})
            tally.signals[(source.value, SignalResult.UNREGISTERED.value)] += 1
            return
        except Rejected as exc:
            self._dead_letter(inbound, source, exc, writes)
            tally.signals[(source.value, SignalResult.REJECTED.value)] += 1
            tally.dead_letters[(source.value, exc.reason)] += 1
            if exc.device_id and exc.device_id in self.engine.registry.devices:
                self._heard(exc.device_id, now, writes, tally)
            return
        if decoded.device_id is not None:
            self._heard(decoded.device_id, now, writes, tally)
        for item in decoded.items:
            if isinstance(item, Heartbeat):
                tally.heartbeats[item.source.value] += 1
            else:
                self._signal(item, writes, tally)

    def _observed(self, item: Observed, writes: Writes, tally: Tally) -> None:
        if item.camera_id not in self.engine.registry.cameras:
            log.info("camera %s is no longer registered: its observation is dropped", item.camera_id)
            return
        for signal in item.signals:
            self._signal(signal, writes, tally)
        if item.online is not None:
            writes.cameras_seen[item.camera_id] = {"id": item.camera_id, "online": item.online,
                                                   "last_frame_at": item.last_frame_at}
            self._state("camera", item.camera_id, item.online, utcnow(), item.reason, writes)

    def _decoder(self, topic: str) -> Decoder | None:
        for decoder in self.decoders:
            if decoder.accepts(topic):
                return decoder
        return None

    def _dead_letter(self, inbound: Inbound, source: Source, exc: Rejected, writes: Writes) -> None:
        log.warning("rejected %s message on %s: %s", source.value, inbound.topic[:200], exc)
        writes.dead_letters.append({"at": inbound.received_at, "source": source.value,
                                    "topic": inbound.topic[:300], "reason": exc.reason,
                                    "detail": exc.detail[:500],
                                    "raw": inbound.payload[: self.max_payload_bytes]})

    def _signal(self, signal: Signal, writes: Writes, tally: Tally) -> None:
        outcome = self.engine.apply(signal, writes)
        tally.signals[(signal.source.value, outcome.result.value)] += 1
        if outcome.change is not None:
            tally.changes[outcome.change.value] += 1
        if outcome.change is Change.NEW and outcome.alarm is not None:
            tally.alarms[(outcome.alarm.category.value, str(outcome.alarm.priority))] += 1

    def _heard(self, device_id: str, now: float, writes: Writes, tally: Tally) -> None:
        restore = self.supervisor.heard(device_id, now)
        if restore is not None:
            self._signal(restore, writes, tally)
        if restore is not None or self._online.get(("device", device_id)) is not True:
            # Back online (stored now, with the restore), or heard for the first time: a state change.
            at = datetime.fromtimestamp(now, UTC)
            writes.devices_seen[device_id] = {"id": device_id, "online": True, "last_seen_at": at}
            self._state("device", device_id, True, at, None, writes)
        else:
            self._seen[device_id] = now

    def _fault(self, fault: Signal, writes: Writes, tally: Tally) -> None:
        log.warning("device %s silent past its supervision interval", fault.device_id)
        self._signal(fault, writes, tally)
        last = self.supervisor.last_seen.get(fault.device_id)
        writes.devices_seen[fault.device_id] = {
            "id": fault.device_id, "online": False,
            "last_seen_at": datetime.fromtimestamp(last, UTC) if last else None}
        self._state("device", fault.device_id, False, fault.received_at, "silent", writes)

    def _state(self, kind: str, object_id: str, online: bool, at: datetime, reason: str | None,
               writes: Writes) -> None:
        """Record a camera's or device's change between online and offline (the uptime history)."""
        if self._online.get((kind, object_id)) is online:
            return
        self._online[(kind, object_id)] = online
        writes.state_changes.append({"kind": kind, "object_id": object_id, "online": online,
                                     "reason": reason, "at": at})

    # -- commit ------------------------------------------------------------------------------------

    def _commit(self, writes: Writes) -> bool:
        """Commit, retrying while the database is unavailable. False: the database refused it for good."""
        delay = 0.1
        while True:
            started = time.perf_counter()
            try:
                if writes:
                    self.store.write(writes)
                metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
                metrics.DATABASE_UP.set(1)
                if writes.state_changes:
                    try:
                        self.on_states(writes.state_changes)
                    except Exception:  # the status topics are a courtesy: stored is what counts
                        log.exception("publishing state changes failed")
                return True
            except (OperationalError, InterfaceError) as exc:
                metrics.DATABASE_UP.set(0)
                metrics.STORE_ERRORS.labels("pipeline").inc()
                log.error("database unavailable (%s); retrying in %.1f s", exc.__class__.__name__, delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
            except DBAPIError:
                # Refused for good (a constraint, a value the database cannot hold): a bug or an input we
                # failed to reject, not an outage. Retrying would hold up every alarm behind it.
                log.exception("the store refused a batch")
                metrics.STORE_ERRORS.labels("pipeline").inc()
                return False

    def _isolate(self, items: list[Item], faults: list[Signal]) -> None:
        """Find the input the store refuses: rebuild the engine from the store, then take the batch
        again one input per commit, so only the culprit ends in the dead-letter store. (Supervision
        faults of the batch are found again from the reloaded deadlines.)"""
        self.load()
        if len(items) == 1 and not faults:
            self._quarantine(items)
            return
        for item in items:
            self._turn([item], [])

    def _quarantine(self, items: list[Item]) -> None:
        writes = Writes()
        for item in items:
            reason = Rejected("store_refused", "the database refused to store what this input became")
            if isinstance(item, Message):
                decoder = self._decoder(item.inbound.topic)
                self._dead_letter(item.inbound, Source(decoder.protocol) if decoder else Source.MQTT, reason,
                                  writes)
            elif isinstance(item, Observed):
                raw = ";".join(f"{s.category.value}/{s.qualifier.value}/{s.zone}" for s in item.signals)
                inbound = Inbound(topic=f"camera/{item.camera_id}", payload=raw.encode(),
                                  received_at=utcnow())
                self._dead_letter(inbound, Source.CAMERA, reason, writes)
            else:
                item.future.set_exception(RuntimeError("the store refused the change"))
        if self._commit(writes):
            for item in items:
                if isinstance(item, Message):
                    item.ack()


def _drain(first: object, q: queue.Queue[Item | object], limit: int) -> Iterator[object]:
    yield first
    for _ in range(limit - 1):
        try:
            yield q.get_nowait()
        except queue.Empty:
            return


@dataclass(slots=True)
class Tally:
    """What one turn did, added to the metrics after its commit, so they describe what is durable."""

    signals: Counter[tuple[str, str]] = field(default_factory=Counter)
    dead_letters: Counter[tuple[str, str]] = field(default_factory=Counter)
    heartbeats: Counter[str] = field(default_factory=Counter)
    alarms: Counter[tuple[str, str]] = field(default_factory=Counter)
    changes: Counter[str] = field(default_factory=Counter)

    def publish(self) -> None:
        for (source, result), n in self.signals.items():
            metrics.SIGNALS.labels(source, result).inc(n)
        for (source, reason), n in self.dead_letters.items():
            metrics.DEAD_LETTERS.labels(source, reason).inc(n)
        for source, n in self.heartbeats.items():
            metrics.HEARTBEATS.labels(source).inc(n)
        for (category, priority), n in self.alarms.items():
            metrics.ALARMS.labels(category, priority).inc(n)
        for change, n in self.changes.items():
            metrics.ALARM_CHANGES.labels(change).inc(n)

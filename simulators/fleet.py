"""A simulated fleet of alarm panels publishing to the hub's site-facing broker.

Each device publishes events and heartbeats exactly as CONTRACT.md describes ("MQTT in"), at
QoS 1. Every event is recorded as ground truth, with whether the broker acknowledged it, so tests
and benchmarks can check that each acknowledged event reached the 110 queue exactly once.

Usage::

    python -m simulators.fleet --devices 1000 --rate 2000 --duration 60 --heartbeat 30 \\
        --ground-truth var/truth.jsonl --provision

Throughput: one paho client reaches several thousand QoS 1 messages/s when it is not made to wait
for each PUBACK, so the fleet publishes everything that is due, then sleeps until the next batch is
due (monotonic clock), and collects acknowledgements from the ``MQTTMessageInfo`` objects in
between. Payloads are built just before they are due so timestamps are current.
"""

from __future__ import annotations

import argparse
import functools
import heapq
import itertools
import json
import os
import random
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Self

from paho.mqtt.client import MQTTMessageInfo

from simulators import mqttutil

CHINA_TZ = timezone(timedelta(hours=8))

#: Relative frequency of each event category in a random schedule: intrusion dominates real alarm
#: traffic; life-safety alarms are rarer; trouble reports and open/close reports fill the rest.
EVENT_WEIGHTS: dict[str, int] = {
    "burglary": 40, "panic": 4, "duress": 1, "fire": 4, "medical": 3, "gas": 1, "water": 1,
    "tamper": 3, "ac_loss": 6, "low_battery": 6, "comm_fault": 2,
    "open": 12, "close": 12, "bypass": 2, "test": 3,
}

#: Categories that describe a condition which later clears, so a schedule sends a restore for them.
RESTORABLE: frozenset[str] = frozenset(
    {"burglary", "panic", "duress", "fire", "medical", "gas", "water", "tamper", "ac_loss",
     "low_battery", "comm_fault"}
)

#: Contact ID event codes (SIA DC-05) of the categories that have an unambiguous one. Open and close
#: are left out: in Contact ID they are one code told apart by the qualifier digit.
CID_CODES: dict[str, str] = {
    "medical": "100", "fire": "110", "panic": "120", "duress": "121", "burglary": "130",
    "tamper": "137", "gas": "151", "water": "154", "ac_loss": "301", "low_battery": "302",
    "comm_fault": "350", "bypass": "570", "test": "602",
}
CID_CATEGORIES: dict[str, str] = {code: category for category, code in CID_CODES.items()}
CID_QUALIFIERS: dict[str, str] = {"new": "1", "restore": "3", "status": "6"}

ZONE_NAMES: dict[str, str] = {
    "1": "front door", "2": "back door", "3": "shop floor PIR", "4": "stock room",
    "5": "cash desk", "6": "office window", "7": "kitchen smoke", "8": "basement",
}
MAX_OPEN_CONDITIONS = 1000


@dataclass(slots=True)
class GroundTruth:
    """What one published event message said, and whether the broker acknowledged it.

    ``category`` is the event category the message means (also for a Contact ID message), so a
    checker can compare it with the 110 queue without decoding Contact ID itself.
    """

    id: str
    device_id: str
    category: str
    qualifier: str
    zone: str
    published_at: float = 0.0
    acked: bool = False
    event: str | None = None
    cid: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ground-truth line: ``event`` or ``cid``, whichever the message carried."""
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True, slots=True)
class Step:
    """One message of a scripted run, ``at`` seconds after the script starts.

    Give ``event`` or ``cid`` for an event, or ``heartbeat=True`` for a heartbeat.
    """

    device_id: str
    event: str | None = None
    cid: str | None = None
    qualifier: str = "new"
    zone: str = "1"
    at: float = 0.0
    text: str | None = None
    partition: str = "1"
    heartbeat: bool = False

    @classmethod
    def coerce(cls, step: Step | Mapping[str, Any]) -> Step:
        """Accept plain dicts too, so scripts can be written as JSON."""
        if isinstance(step, Step):
            return step
        known = {f.name for f in fields(cls)}
        unknown = set(step) - known
        if unknown:
            raise ValueError(f"unknown step keys: {sorted(unknown)}")
        return cls(**step)


@dataclass(frozen=True, slots=True)
class Planned:
    """One event chosen by the random schedule (pure data, so the plan can be tested alone)."""

    device_id: str
    category: str
    qualifier: str
    zone: str
    as_cid: bool


@dataclass(slots=True)
class RunStats:
    """Counts of one run; ``elapsed`` covers publishing, not the final wait for PUBACKs."""

    events_sent: int = 0
    events_acked: int = 0
    heartbeats_sent: int = 0
    heartbeats_acked: int = 0
    elapsed: float = 0.0

    @property
    def sent(self) -> int:
        return self.events_sent + self.heartbeats_sent

    @property
    def acked(self) -> int:
        return self.events_acked + self.heartbeats_acked

    @property
    def achieved_rate(self) -> float:
        """Messages per second actually published (events and heartbeats)."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> str:
        return (
            f"sent {self.sent} (events {self.events_sent}, heartbeats {self.heartbeats_sent}), "
            f"acked {self.acked} (events {self.events_acked}), "
            f"{self.elapsed:.1f} s, achieved {self.achieved_rate:.0f} msg/s"
        )


def contact_id(category: str, qualifier: str = "new", zone: str = "1", group: str = "01") -> str:
    """Format a Contact ID string such as ``"1130 01 003"`` (qualifier, code, group, zone)."""
    return f"{CID_QUALIFIERS[qualifier]}{CID_CODES[category]} {group:0>2} {zone:0>3}"


def parse_contact_id(cid: str) -> tuple[str, str, str, str]:
    """Split a Contact ID string into (category, qualifier, group, zone) for the ground truth.

    Zone and group lose their leading zeros ("003" -> "3") to match the JSON ``zone`` form.
    """
    head, group, zone = cid.split()
    qualifier = {digit: name for name, digit in CID_QUALIFIERS.items()}.get(head[0], "new")
    category = CID_CATEGORIES.get(head[1:], "unknown")
    return category, qualifier, str(int(group)), str(int(zone))


def device_ids(count: int, prefix: str = "sim") -> list[str]:
    """The fleet's device ids, ``{prefix}-{i:05d}`` from 1; shared with the provisioning script."""
    return [f"{prefix}-{i:05d}" for i in range(1, count + 1)]


def plan_random(
    devices: Sequence[str],
    rng: random.Random,
    *,
    restore_ratio: float = 0.4,
    cid_ratio: float = 0.0,
    is_silent: Callable[[str], bool] = lambda _device: False,
) -> Iterator[Planned]:
    """An endless random event plan, deterministic for a given ``rng`` seed.

    Conditions raised by the plan (a burglary in zone 3 of one device...) are remembered and later
    restored, so the hub sees realistic new/restore pairs; once too many are open, a restore is
    forced so memory stays bounded however long the run.
    """
    categories = list(EVENT_WEIGHTS)
    cum_weights = list(itertools.accumulate(EVENT_WEIGHTS.values()))
    open_conditions: list[tuple[str, str, str]] = []
    skipped = 0
    while True:
        as_cid_draw = rng.random()
        if open_conditions and (
            rng.random() < restore_ratio or len(open_conditions) >= MAX_OPEN_CONDITIONS
        ):
            index = rng.randrange(len(open_conditions))
            open_conditions[index], open_conditions[-1] = open_conditions[-1], open_conditions[index]
            device, category, zone = open_conditions.pop()
            qualifier = "restore"
        else:
            category = rng.choices(categories, cum_weights=cum_weights)[0]
            device = rng.choice(devices)
            zone = str(rng.randint(1, 8))
            qualifier = "new"
            if category in RESTORABLE:
                open_conditions.append((device, category, zone))
        if is_silent(device):
            skipped += 1
            if skipped > 100 * len(devices):
                raise RuntimeError("every device of the plan is silent")
            continue
        skipped = 0
        yield Planned(device, category, qualifier, zone, as_cid_draw < cid_ratio and category in CID_CODES)


# A message waiting to be published: (due offset in seconds, tie-breaker, builder).
_Due = tuple[float, int, Callable[[], "_Outgoing"]]


@dataclass(slots=True)
class _Outgoing:
    topic: str
    payload: bytes
    record: GroundTruth | None  # None for a heartbeat


@dataclass(slots=True)
class _Pending:
    info: MQTTMessageInfo
    record: GroundTruth | None


class Fleet:
    """A set of simulated alarm devices sharing one MQTT connection.

    Publishing methods may be called from a test thread while ``run()`` runs in another: ids,
    records and the ground-truth file are guarded by a lock.
    """

    def __init__(
        self,
        url: str,
        devices: int | Sequence[str] = 10,
        *,
        device_prefix: str = "sim",
        topic_prefix: str = "pingan",
        ground_truth: str | Path | None = None,
        client_id: str | None = None,
        id_tag: str = "",
        ack_timeout: float = 30.0,
        tick: float = 0.005,
    ) -> None:
        self.device_ids: list[str] = (
            device_ids(devices, device_prefix) if isinstance(devices, int) else list(devices)
        )
        if not self.device_ids:
            raise ValueError("a fleet needs at least one device")
        self.topic_prefix = topic_prefix
        self.id_tag = id_tag
        self.ack_timeout = ack_timeout
        self.tick = tick
        self.records: list[GroundTruth] = []
        self.silent: set[str] = set()
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._client = mqttutil.connect(url, client_id or f"fleet-{device_prefix}-{os.getpid()}")
        # Opened after connecting so a failed connect leaks nothing; held open for the fleet's
        # lifetime (closed in close()), one line per event as it finishes.
        self._truth: IO[str] | None = (
            Path(ground_truth).open("w", encoding="utf-8")  # noqa: SIM115
            if ground_truth is not None
            else None
        )

    # -- building messages -------------------------------------------------------------------

    def topic(self, device_id: str, kind: str) -> str:
        """``{prefix}/v1/devices/{device_id}/{event|heartbeat}``."""
        return f"{self.topic_prefix}/v1/devices/{device_id}/{kind}"

    def _next_id(self, device_id: str) -> str:
        """A message id unique per device (and per run when ``id_tag`` is set), for idempotency."""
        with self._lock:
            n = self._counters.get(device_id, 0) + 1
            self._counters[device_id] = n
        return f"{device_id}-{self.id_tag}-{n:06d}" if self.id_tag else f"{device_id}-{n:06d}"

    def _event(
        self,
        device_id: str,
        *,
        event: str | None = None,
        cid: str | None = None,
        qualifier: str = "new",
        zone: str = "1",
        **extra: Any,
    ) -> _Outgoing:
        """Build one event message and its ground-truth record.

        ``extra`` overrides any field, and a ``None`` value removes it: tests send a chosen ``id``
        (idempotency), a stale ``ts`` or none at all (validation) this way.
        """
        body: dict[str, Any]
        if cid is not None:
            category, qualifier, _group, zone = parse_contact_id(cid)
            body = {"cid": cid}
        elif event is not None:
            category = event
            body = {"event": event, "qualifier": qualifier, "zone": zone, "partition": "1"}
        else:
            raise ValueError("an event needs `event` or `cid`")
        body["ts"] = datetime.now(CHINA_TZ).isoformat(timespec="milliseconds")
        body["id"] = self._next_id(device_id)
        body.update(extra)
        body = {key: value for key, value in body.items() if value is not None}
        msg_id = str(body.get("id", ""))
        record = GroundTruth(msg_id, device_id, category, qualifier, zone, event=event, cid=cid)
        return _Outgoing(self.topic(device_id, "event"), _encode(body), record)

    def _heartbeat(self, device_id: str, battery: int | None = None) -> _Outgoing:
        """Build one heartbeat; the battery level is a stable per-device number unless given."""
        if battery is None:
            battery = 60 + sum(device_id.encode()) % 41
        return _Outgoing(self.topic(device_id, "heartbeat"), _encode({"battery": battery}), None)

    def _planned(self, plan: Planned) -> _Outgoing:
        """Turn a random-plan entry into a message, as Contact ID or as a named event."""
        extra = {"text": ZONE_NAMES.get(plan.zone, f"zone {plan.zone}")}
        if plan.as_cid:
            return self._event(plan.device_id, cid=contact_id(plan.category, plan.qualifier, plan.zone))
        return self._event(plan.device_id, event=plan.category, qualifier=plan.qualifier, zone=plan.zone,
                           **extra)

    # -- publishing ----------------------------------------------------------------------------

    def _publish(self, out: _Outgoing) -> MQTTMessageInfo:
        if out.record is not None:
            out.record.published_at = time.time()
        return self._client.publish(out.topic, out.payload, qos=1)

    def _finish(self, record: GroundTruth | None, acked: bool, stats: RunStats | None) -> None:
        """Record the outcome of one message (in memory, in the ground-truth file, in stats)."""
        if stats is not None:
            if record is None:
                stats.heartbeats_acked += acked
            else:
                stats.events_acked += acked
        if record is None:
            return
        record.acked = acked
        with self._lock:
            self.records.append(record)
            if self._truth is not None:
                self._truth.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")

    def _send_and_wait(self, out: _Outgoing) -> bool:
        """Publish one message and wait for its PUBACK (the synchronous API used by tests)."""
        info = self._publish(out)
        deadline = time.monotonic() + self.ack_timeout
        while not mqttutil.is_acked(info) and time.monotonic() < deadline:
            time.sleep(0.002)
        acked = mqttutil.is_acked(info)
        self._finish(out.record, acked, None)
        return acked

    def publish_event(
        self, device_id: str, event: str, qualifier: str = "new", zone: str = "1", **extra: Any
    ) -> GroundTruth:
        """Publish one named event (``extra``: ``text``, ``partition``...) and wait for its PUBACK."""
        out = self._event(device_id, event=event, qualifier=qualifier, zone=zone, **extra)
        self._send_and_wait(out)
        assert out.record is not None
        return out.record

    def publish_cid(self, device_id: str, cid: str, **extra: Any) -> GroundTruth:
        """Publish one Contact ID event such as ``"1130 01 003"`` and wait for its PUBACK."""
        out = self._event(device_id, cid=cid, **extra)
        self._send_and_wait(out)
        assert out.record is not None
        return out.record

    def publish_heartbeat(self, device_id: str, battery: int | None = None) -> bool:
        """Publish one heartbeat and wait for its PUBACK; returns whether it was acknowledged."""
        return self._send_and_wait(self._heartbeat(device_id, battery))

    def publish_raw(self, device_id: str, kind: str, payload: bytes | str) -> bool:
        """Publish arbitrary bytes on a device topic (malformed-input tests); waits for PUBACK."""
        data = payload.encode() if isinstance(payload, str) else payload
        return self._send_and_wait(_Outgoing(self.topic(device_id, kind), data, None))

    def publish_topic(self, topic: str, payload: bytes | str) -> bool:
        """Publish arbitrary bytes on any topic (zigbee2mqtt state, garbage floods); waits for PUBACK."""
        data = payload.encode() if isinstance(payload, str) else payload
        return self._send_and_wait(_Outgoing(topic, data, None))

    # -- schedules -----------------------------------------------------------------------------

    def run(
        self,
        rate: float,
        duration: float,
        *,
        seed: int | None = None,
        heartbeat_s: float | None = None,
        silent: Iterable[str] = (),
        restore_ratio: float = 0.4,
        cid_ratio: float = 0.0,
    ) -> RunStats:
        """Publish random events at ``rate``/s (all devices together) for ``duration`` seconds.

        With ``heartbeat_s`` every device also sends a heartbeat every ``heartbeat_s`` seconds,
        spread evenly over the interval so the broker sees a steady load, not a burst. Devices in
        ``silent`` (and in ``self.silent``, which may change while running) send nothing, which is
        how supervision tests make a device go offline.
        """
        self.silent.update(silent)
        streams: list[Iterator[_Due]] = []
        if rate > 0 and not self.silent.issuperset(self.device_ids):
            plan = plan_random(self.device_ids, random.Random(seed), restore_ratio=restore_ratio,
                               cid_ratio=cid_ratio, is_silent=self.silent.__contains__)
            streams.append(self._event_stream(plan, rate, duration))
        if heartbeat_s:
            streams.append(self._heartbeat_stream(heartbeat_s, duration))
        return self._drive(heapq.merge(*streams, key=lambda due: due[0]))

    def heartbeats(self, heartbeat_s: float, duration: float, silent: Iterable[str] = ()) -> RunStats:
        """Only heartbeats: a quiet fleet that stays online for ``duration`` seconds."""
        return self.run(0, duration, heartbeat_s=heartbeat_s, silent=silent)

    def scripted(self, steps: Iterable[Step | Mapping[str, Any]]) -> RunStats:
        """Publish the given steps, each at its ``at`` offset from now, then wait for the PUBACKs."""
        ordered = sorted((Step.coerce(step) for step in steps), key=lambda step: step.at)
        return self._drive((step.at, n, self._step_builder(step)) for n, step in enumerate(ordered))

    def _step_builder(self, step: Step) -> Callable[[], _Outgoing]:
        if step.heartbeat:
            return lambda: self._heartbeat(step.device_id)
        text = {"text": step.text} if step.text is not None else {}
        if step.cid is not None:
            return lambda: self._event(step.device_id, cid=step.cid, **text)
        return lambda: self._event(step.device_id, event=step.event, qualifier=step.qualifier,
                                   zone=step.zone, partition=step.partition, **text)

    def _event_stream(self, plan: Iterator[Planned], rate: float, duration: float) -> Iterator[_Due]:
        """Events evenly spaced at ``rate``/s; what each one is comes from the plan when due."""
        for n in itertools.count():
            due = n / rate
            if due >= duration:
                return
            yield due, 2 * n, lambda: self._planned(next(plan))

    def _heartbeat_stream(self, heartbeat_s: float, duration: float) -> Iterator[_Due]:
        """Each device once per ``heartbeat_s``, device ``i`` offset by ``i/n`` of the interval."""
        count = len(self.device_ids)
        step = heartbeat_s / count
        for n in itertools.count():
            due = n * step
            if due >= duration:
                return
            device = self.device_ids[n % count]
            if device not in self.silent:
                yield due, 2 * n + 1, functools.partial(self._heartbeat, device)

    def _drive(self, schedule: Iterable[_Due]) -> RunStats:
        """Publish a time-ordered schedule: a batch of whatever is due, then sleep until more is.

        Sleeping at least ``tick`` keeps batches large at high rates (one sleep per batch, never
        per message); PUBACKs are collected between batches and all awaited at the end.
        """
        self._stop.clear()
        stats = RunStats()
        pending: deque[_Pending] = deque()
        start = time.monotonic()
        for due, _order, build in schedule:
            ahead = due - (time.monotonic() - start)
            if ahead > 0:
                self._collect(pending, stats)
                if self._stop.wait(max(ahead, self.tick)):
                    break
            elif self._stop.is_set():
                break
            out = build()
            pending.append(_Pending(self._publish(out), out.record))
            if out.record is None:
                stats.heartbeats_sent += 1
            else:
                stats.events_sent += 1
        stats.elapsed = time.monotonic() - start
        self._collect(pending, stats, wait=self.ack_timeout)
        return stats

    def _collect(self, pending: deque[_Pending], stats: RunStats, wait: float = 0.0) -> None:
        """Finish acknowledged messages in publish order; with ``wait``, wait for all of them.

        The broker acknowledges in order, so scanning from the oldest and stopping at the first
        unacknowledged message is cheap. After ``wait`` seconds the rest count as not acked.
        """
        deadline = time.monotonic() + wait
        while pending:
            if mqttutil.is_acked(pending[0].info):
                item = pending.popleft()
                self._finish(item.record, True, stats)
            elif time.monotonic() < deadline:
                time.sleep(0.002)
            elif wait > 0:
                while pending:
                    item = pending.popleft()
                    self._finish(item.record, mqttutil.is_acked(item.info), stats)
            else:
                return

    def stop(self) -> None:
        """Make a running schedule stop publishing (from another thread or a signal handler)."""
        self._stop.set()

    def close(self) -> None:
        """Disconnect and close the ground-truth file."""
        mqttutil.stop(self._client)
        with self._lock:
            if self._truth is not None:
                self._truth.close()
                self._truth = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _encode(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _default_http() -> str:
    return "http://" + os.environ.get("HUB_HTTP", "127.0.0.1:8080")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.fleet", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get("HUB_MQTT_URL", "mqtt://127.0.0.1:1883"),
                        help="site-facing broker, mqtt://[user:pass@]host:port (env HUB_MQTT_URL)")
    parser.add_argument("--prefix-topic", default=os.environ.get("HUB_MQTT_PREFIX", "pingan"),
                        help="topic prefix (default pingan)")
    parser.add_argument("--devices", type=int, default=100, help="number of devices")
    parser.add_argument("--device-prefix", default="sim", help="device ids are PREFIX-00001...")
    parser.add_argument("--rate", type=float, default=10.0, help="events per second, whole fleet")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds to run")
    parser.add_argument("--heartbeat", type=float, default=None, metavar="SECONDS",
                        help="each device sends a heartbeat this often")
    parser.add_argument("--silent", default="", help="comma-separated device ids that send nothing")
    parser.add_argument("--seed", type=int, default=None, help="random seed for a repeatable schedule")
    parser.add_argument("--cid-ratio", type=float, default=0.0,
                        help="share of events sent as Contact ID strings (0..1)")
    parser.add_argument("--id-tag", default=None,
                        help="tag in message ids so reruns are not deduplicated (default: from the clock)")
    parser.add_argument("--ground-truth", metavar="FILE", help="write one JSON line per event")
    parser.add_argument("--provision", nargs="?", const=_default_http(), default=None, metavar="HTTP_URL",
                        help="register the devices in the hub first (default http://$HUB_HTTP)")
    parser.add_argument("--token", default=os.environ.get("HUB_ADMIN_TOKEN"),
                        help="API token for --provision (env HUB_ADMIN_TOKEN)")
    parser.add_argument("--supervision", type=int, default=None, metavar="SECONDS",
                        help="supervision_s of provisioned devices")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: optionally provision, run the schedule, print a one-line summary."""
    args = build_parser().parse_args(argv)
    if args.provision:
        from simulators.provision import provision

        if not args.token:
            print("--provision needs --token or HUB_ADMIN_TOKEN", file=sys.stderr)
            return 2
        result = provision(args.provision, args.token, args.devices, device_prefix=args.device_prefix,
                           supervision_s=args.supervision)
        print(result.summary(), file=sys.stderr)
        if result.failed:
            return 1
    id_tag = args.id_tag if args.id_tag is not None else _clock_tag()
    fleet = Fleet(args.url, args.devices, device_prefix=args.device_prefix, topic_prefix=args.prefix_topic,
                  ground_truth=args.ground_truth, id_tag=id_tag)

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        fleet.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        silent = [device for device in args.silent.split(",") if device]
        stats = fleet.run(args.rate, args.duration, seed=args.seed, heartbeat_s=args.heartbeat,
                          silent=silent, cid_ratio=args.cid_ratio)
    finally:
        fleet.close()
    print(stats.summary())
    return 0 if stats.acked == stats.sent else 1


def _clock_tag() -> str:
    """A short base-36 tag from the clock, so ids of separate runs differ."""
    value, digits = int(time.time()), ""
    while value:
        value, rest = divmod(value, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
    return digits


if __name__ == "__main__":
    sys.exit(main())

"""A simulated command-center consumer of the 110 queue, and a checker of what it received.

It subscribes to ``{prefix}/v1/cc/+/alarms`` at QoS 1 with a persistent session under a fixed
client id, exactly as a real command center should: whatever the hub queued while the consumer was
away is delivered when it comes back. It records every message with its arrival time and reports
what a 110 operator would care about: duplicates, gaps and reordering in each alarm's ``seq``, and
the latency from the hub receiving the signal (``received_at``) to the message arriving here.

Usage::

    python -m simulators.consumer --duration 120 --interval 10 --record var/cc.jsonl
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, Self

from paho.mqtt.client import Client, ConnectFlags, MQTTMessage
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from simulators import mqttutil

DEFAULT_CLIENT_ID = "pingan-cc-consumer"
GAP_EXAMPLES = 20


@dataclass(frozen=True, slots=True)
class Received:
    """One message as it arrived: ``data`` is the JSON object, or None if it was not one."""

    topic: str
    arrival: float
    payload: bytes
    data: dict[str, Any] | None
    dup: bool = False

    @property
    def key(self) -> tuple[str, int] | None:
        """``(alarm_id, seq)``, the identity a command center deduplicates on."""
        if self.data is None:
            return None
        alarm_id, seq = self.data.get("alarm_id"), self.data.get("seq")
        if not isinstance(alarm_id, str) or not isinstance(seq, int) or isinstance(seq, bool):
            return None
        return alarm_id, seq

    @property
    def center_id(self) -> str:
        """The ``{center_id}`` segment of ``{prefix}/v1/cc/{center_id}/alarms``."""
        parts = self.topic.split("/")
        return parts[-2] if len(parts) >= 2 else ""


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """Latency percentiles in seconds (nearest-rank), over ``count`` messages."""

    count: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None
    mean: float | None = None

    @classmethod
    def of(cls, values: Sequence[float]) -> LatencyStats:
        if not values:
            return cls()
        ordered = sorted(values)
        return cls(
            count=len(ordered),
            p50=percentile(ordered, 50),
            p95=percentile(ordered, 95),
            p99=percentile(ordered, 99),
            max=ordered[-1],
            mean=sum(ordered) / len(ordered),
        )


@dataclass(slots=True)
class Report:
    """What the consumer saw.

    ``duplicates`` counts repeated ``(alarm_id, seq)``; ``duplicates_identical`` those byte-equal to
    the first copy and ``duplicate_fields`` the fields that differed in the others. ``gaps`` counts
    missing seqs (1..max seen per alarm). ``out_of_order`` counts first copies that arrived after a
    higher seq of the same alarm. ``latency`` runs from ``received_at`` to arrival over first copies;
    ``latency_new`` only over ``change == "new"``, the ingestion-to-110 path. ``by_change`` counts
    distinct messages; ``by_category``/``by_priority`` count alarms by their latest message.
    """

    total: int = 0
    invalid: int = 0
    distinct: int = 0
    alarms: int = 0
    duplicates: int = 0
    duplicates_identical: int = 0
    duplicate_fields: list[str] = field(default_factory=list)
    redelivered: int = 0
    gaps: int = 0
    alarms_with_gaps: int = 0
    gap_examples: dict[str, list[int]] = field(default_factory=dict)
    out_of_order: int = 0
    latency: LatencyStats = field(default_factory=LatencyStats)
    latency_new: LatencyStats = field(default_factory=LatencyStats)
    rate: float = 0.0
    by_change: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_priority: dict[str, int] = field(default_factory=dict)
    by_center: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty sequence."""
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def parse_time(value: Any) -> float | None:
    """Unix time of an ISO 8601 string; a string without a time zone is taken as UTC."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _differing_fields(first: dict[str, Any] | None, again: dict[str, Any] | None) -> set[str]:
    if first is None or again is None:
        return {"<payload>"}
    return {key for key in first.keys() | again.keys() if first.get(key) != again.get(key)}


class _Analysis:
    """One pass over the received messages in arrival order, accumulating a Report."""

    def __init__(self) -> None:
        self.report = Report()
        self.first: dict[tuple[str, int], Received] = {}
        self.max_seq: dict[str, int] = {}
        self.latest: dict[str, Received] = {}
        self.seqs: dict[str, set[int]] = {}
        self.latencies: list[float] = []
        self.latencies_new: list[float] = []
        self.changes: Counter[str] = Counter()
        self.centers: Counter[str] = Counter()
        self.differing: set[str] = set()

    def add(self, msg: Received) -> None:
        report = self.report
        report.total += 1
        report.redelivered += msg.dup
        key = msg.key
        if key is None or msg.data is None:
            report.invalid += 1
            return
        if key in self.first:
            self._duplicate(self.first[key], msg)
            return
        self.first[key] = msg
        self._distinct(key, msg, msg.data)

    def _duplicate(self, first: Received, again: Received) -> None:
        self.report.duplicates += 1
        if first.payload == again.payload:
            self.report.duplicates_identical += 1
        else:
            self.differing |= _differing_fields(first.data, again.data)

    def _distinct(self, key: tuple[str, int], msg: Received, data: dict[str, Any]) -> None:
        alarm_id, seq = key
        if seq < self.max_seq.get(alarm_id, 0):
            self.report.out_of_order += 1
        self.max_seq[alarm_id] = max(seq, self.max_seq.get(alarm_id, 0))
        self.seqs.setdefault(alarm_id, set()).add(seq)
        latest = self.latest.get(alarm_id)
        if latest is None or latest.key is None or seq >= latest.key[1]:
            self.latest[alarm_id] = msg
        self.changes[str(data.get("change"))] += 1
        self.centers[msg.center_id] += 1
        received_at = parse_time(data.get("received_at"))
        if received_at is not None:
            self.latencies.append(msg.arrival - received_at)
            if data.get("change") == "new":
                self.latencies_new.append(msg.arrival - received_at)

    def finish(self, messages: Sequence[Received]) -> Report:
        report = self.report
        report.distinct = len(self.first)
        report.alarms = len(self.seqs)
        report.duplicate_fields = sorted(self.differing)
        for alarm_id, seqs in self.seqs.items():
            missing = sorted(set(range(1, max(seqs) + 1)) - seqs)
            if missing:
                report.gaps += len(missing)
                report.alarms_with_gaps += 1
                if len(report.gap_examples) < GAP_EXAMPLES:
                    report.gap_examples[alarm_id] = missing
        report.latency = LatencyStats.of(self.latencies)
        report.latency_new = LatencyStats.of(self.latencies_new)
        if len(messages) > 1 and messages[-1].arrival > messages[0].arrival:
            report.rate = report.distinct / (messages[-1].arrival - messages[0].arrival)
        report.by_change = dict(self.changes.most_common())
        report.by_center = dict(self.centers.most_common())
        latest = [m.data for m in self.latest.values() if m.data is not None]
        report.by_category = dict(Counter(str(d.get("category")) for d in latest).most_common())
        report.by_priority = dict(sorted(Counter(str(d.get("priority")) for d in latest).items()))
        return report


def analyse(messages: Sequence[Received]) -> Report:
    """Build the report of a sequence of messages in arrival order (usable on recorded files)."""
    analysis = _Analysis()
    for msg in messages:
        analysis.add(msg)
    return analysis.finish(messages)


class Consumer:
    """A 110 command center: a persistent QoS 1 subscription to the alarm queue.

    Closing and re-creating a Consumer with the same ``client_id`` resumes the same broker session,
    so messages published in between are delivered to the new one.
    """

    def __init__(
        self,
        url: str,
        *,
        topic_prefix: str = "pingan",
        center: str = "+",
        client_id: str = DEFAULT_CLIENT_ID,
        clean_session: bool = False,
        record: str | Path | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.topic = f"{topic_prefix}/v1/cc/{center}/alarms"
        self._messages: list[Received] = []
        self._changed = threading.Condition()
        self._subscribed = threading.Event()
        # Held open for the consumer's lifetime (closed in close()), written from the network thread.
        self._record: IO[str] | None = (
            Path(record).open("a", encoding="utf-8") if record else None  # noqa: SIM115
        )
        client = mqttutil.make_client(url, client_id, clean_session=clean_session)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        try:
            self._client = mqttutil.start(client, url, timeout=timeout)
        except BaseException:
            self._close_record()
            raise
        if not self._subscribed.wait(timeout):
            self.close()
            raise TimeoutError(f"no SUBACK for {self.topic} within {timeout} s")

    # -- paho callbacks (network thread) ----------------------------------------------------

    def _on_connect(
        self, client: Client, _userdata: Any, _flags: ConnectFlags, reason: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        """(Re)subscribe on every connect: harmless with a kept session, needed without one."""
        if not reason.is_failure:
            client.subscribe(self.topic, qos=1)

    def _on_subscribe(
        self, _client: Client, _userdata: Any, _mid: int, _reasons: list[ReasonCode],
        _properties: Properties | None,
    ) -> None:
        self._subscribed.set()

    def _on_message(self, _client: Client, _userdata: Any, message: MQTTMessage) -> None:
        payload = bytes(message.payload)
        msg = Received(message.topic, time.time(), payload, _json_object(payload), bool(message.dup))
        with self._changed:
            self._messages.append(msg)
            if self._record is not None:
                self._record.write(json.dumps(_record_line(msg), ensure_ascii=False) + "\n")
            self._changed.notify_all()

    # -- queries ------------------------------------------------------------------------------

    def messages(self) -> list[Received]:
        """Every message so far, in arrival order (a copy)."""
        with self._changed:
            return list(self._messages)

    def alarms(self) -> dict[str, dict[str, Any]]:
        """The latest message (highest ``seq``) of each alarm: the command center's alarm list."""
        latest: dict[str, tuple[int, dict[str, Any]]] = {}
        for msg in self.messages():
            key = msg.key
            if key is not None and msg.data is not None and key[1] >= latest.get(key[0], (0, {}))[0]:
                latest[key[0]] = (key[1], msg.data)
        return {alarm_id: data for alarm_id, (_seq, data) in latest.items()}

    def wait_for(self, predicate: Callable[[list[Received]], bool], timeout: float = 10.0) -> bool:
        """Wait until ``predicate(messages)`` holds; returns False on timeout (tests assert it)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(list(self._messages)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def wait_count(self, n: int, timeout: float = 10.0) -> bool:
        """Wait until at least ``n`` messages (duplicates included) have arrived."""
        return self.wait_for(lambda messages: len(messages) >= n, timeout)

    def report(self) -> Report:
        return analyse(self.messages())

    def clear(self) -> None:
        """Forget what was received so far (e.g. between phases of a test)."""
        with self._changed:
            self._messages.clear()

    def close(self) -> None:
        """Disconnect; the broker keeps the session (unless ``clean_session``) for the next one."""
        mqttutil.stop(self._client)
        self._close_record()

    def _close_record(self) -> None:
        with self._changed:
            if self._record is not None:
                self._record.close()
                self._record = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _json_object(payload: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _record_line(msg: Received) -> dict[str, Any]:
    """A JSONL record line; the payload as JSON when it was a JSON object, else as text."""
    payload: Any = msg.data if msg.data is not None else msg.payload.decode("utf-8", "replace")
    return {"topic": msg.topic, "arrival": msg.arrival, "dup": msg.dup, "payload": payload}


def load_record(path: str | Path) -> list[Received]:
    """Read a ``--record`` file back, e.g. to analyse it again with :func:`analyse`."""
    messages = []
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            row: Mapping[str, Any] = json.loads(line)
            payload = row["payload"]
            raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            data = payload if isinstance(payload, dict) else None
            messages.append(Received(row["topic"], row["arrival"], raw, data, row.get("dup", False)))
    return messages


def build_parser() -> argparse.ArgumentParser:
    default_url = os.environ.get("HUB_CC_MQTT_URL") or os.environ.get("HUB_MQTT_URL") or "mqtt://127.0.0.1:1883"
    parser = argparse.ArgumentParser(prog="python -m simulators.consumer", description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=default_url,
                        help="command-center broker (env HUB_CC_MQTT_URL, then HUB_MQTT_URL)")
    parser.add_argument("--prefix-topic", default=os.environ.get("HUB_MQTT_PREFIX", "pingan"))
    parser.add_argument("--center", default="+", help="center id to subscribe to (default: all)")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="fixed id of the persistent session")
    parser.add_argument("--clean", action="store_true", help="clean session: forget what was queued")
    parser.add_argument("--duration", type=float, default=None, help="seconds to run (default: until Ctrl-C)")
    parser.add_argument("--interval", type=float, default=10.0,
                        help="print the report every this many seconds (0: only at exit)")
    parser.add_argument("--record", metavar="FILE", help="append every message to this JSONL file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: consume, print the report as JSON periodically and at exit."""
    args = build_parser().parse_args(argv)
    done = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    consumer = Consumer(args.url, topic_prefix=args.prefix_topic, center=args.center,
                        client_id=args.client_id, clean_session=args.clean, record=args.record)
    deadline = time.monotonic() + args.duration if args.duration is not None else math.inf
    try:
        while not done.is_set() and time.monotonic() < deadline:
            wait = min(args.interval or math.inf, deadline - time.monotonic(), 3600.0)
            if done.wait(max(wait, 0.0)) or time.monotonic() >= deadline:
                break
            print(json.dumps(consumer.report().to_json()), flush=True)
    finally:
        consumer.close()
    print(json.dumps(consumer.report().to_json(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

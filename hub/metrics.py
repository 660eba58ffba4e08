"""Every Prometheus metric of the hub, defined once (CONTRACT.md names and labels).

Labels never carry a credential, a URL or free text from a message, and their values come from bounded
sets (ids of registered things, enums, reason codes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import (
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# `*_created` series double the exposition and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)
REGISTRY.register(PROCESS_COLLECTOR)  # process_start_time_seconds, memory, CPU, open files
REGISTRY.register(PLATFORM_COLLECTOR)  # python_info

BUILD = Info("hub_build", "Version of the running hub", registry=REGISTRY)

SIGNALS = Counter("hub_signals_total", "Inputs by source and what the hub did with them",
                  ["source", "result"], registry=REGISTRY)
DEAD_LETTERS = Counter("hub_dead_letters_total", "Rejected inputs kept for inspection, by reason",
                       ["source", "reason"], registry=REGISTRY)
HEARTBEATS = Counter("hub_heartbeats_total", "Heartbeats received", ["source"], registry=REGISTRY)
ALARMS = Counter("hub_alarms_total", "Alarms raised", ["category", "priority"], registry=REGISTRY)
ALARM_CHANGES = Counter("hub_alarm_changes_total", "Alarm changes published", ["change"],
                        registry=REGISTRY)



@dataclass(frozen=True, slots=True)
class DeviceTable:
    """The supervised devices at one instant, as the supervisor holds them (copies, not views): a big
    hub has 20,000, so /metrics reads these tables rather than an object per device."""

    ids: list[str]
    site: dict[str, str]  # device -> site id ("" when unknown)
    heard: dict[str, float]  # device -> epoch seconds it was last heard (absent: never)
    faulted: set[str]
    now: float
    version: int = -1  # the supervisor's: the same version, the same devices, sites and faults (-1: unknown)


@dataclass(frozen=True, slots=True)
class CameraHealth:
    camera: str
    site: str
    up: bool
    fps: float
    reconnects: int
    frame_age: float | None
    dropped: int
    stalls: int = 0
    decode_errors: int = 0


class Fleet:
    """The per-camera and per-device families (CONTRACT.md), written as exposition text directly.

    They are most of a big hub's exposition (1,000 cameras and 20,000 devices: over 100,000 samples),
    and prometheus_client's generic path costs several microseconds a sample, a second a scrape. Here a
    sample is one f-string; the uptime block changes only when the Board refreshes, so it is written
    then and reused. Label values are registered ids (letters, digits, `_ . : -`, checked by the API),
    escaped all the same."""

    def __init__(self) -> None:
        self.devices: Callable[[], DeviceTable] = lambda: DeviceTable([], {}, {}, set(), 0.0)
        self.cameras: Callable[[], list[CameraHealth]] = list
        # (version, {(kind, id): {window: ratio}}): the version changes with every refresh
        self.uptime: Callable[[], tuple[int, dict[tuple[str, str], dict[str, float]]]] = lambda: (0, {})
        self._uptime_text: tuple[int, str] = (-1, "")
        # thing → (its figures, its lines), written again only when the figures change
        self._uptime_lines: dict[tuple[str, str], tuple[dict[str, float], str]] = {}
        # device -> (site, "hub_device_up{...} ", "hub_device_last_seen_age_seconds{...} "): the label
        # part of a device's samples is written once, not at every scrape
        self._device_keys: dict[str, tuple[str, str, str]] = {}
        self._device_up: tuple[int, str] = (-1, "")  # (supervisor version, the hub_device_up samples)

    def render(self) -> str:
        parts: list[str] = []
        self._cameras(parts, self.cameras())
        self._devices(parts, self.devices())
        parts.append(self._uptime())
        return "".join(parts)

    @staticmethod
    def _cameras(parts: list[str], cameras: list[CameraHealth]) -> None:
        rows = [(_label(c.camera), _label(c.site), c) for c in cameras]
        parts.append(_head("hub_camera_up", "gauge", "1 while the camera delivers frames"))
        parts.extend([f'hub_camera_up{{camera="{i}",site="{s}"}} {1 if c.up else 0}\n' for i, s, c in rows])
        parts.append(_head("hub_camera_fps", "gauge", "Frames decoded per second"))
        parts.extend([f'hub_camera_fps{{camera="{i}"}} {c.fps}\n' for i, _s, c in rows])
        parts.append(_head("hub_camera_last_frame_age_seconds", "gauge",
                           "Seconds since the last decoded frame"))
        parts.extend([f'hub_camera_last_frame_age_seconds{{camera="{i}"}} {max(c.frame_age, 0.0):.3f}\n'
                      for i, _s, c in rows if c.frame_age is not None])
        for name, help_text, field in _CAMERA_COUNTERS:
            parts.append(_head(name, "counter", help_text))
            parts.extend([f'{name}{{camera="{i}"}} {getattr(c, field)}\n' for i, _s, c in rows])

    def _devices(self, parts: list[str], table: DeviceTable) -> None:
        if table.version < 0 or self._device_up[0] != table.version:
            self._device_up = (table.version, self._up_text(table))
        keys, heard, now = self._device_keys, table.heard, table.now
        parts.append(_head("hub_device_up", "gauge",
                           "1 while the device reports within its supervision interval"))
        parts.append(self._device_up[1])
        parts.append(_head("hub_device_last_seen_age_seconds", "gauge",
                           "Seconds since the device was last heard"))
        parts.extend([f"{keys[device][2]}{max(now - at, 0.0):.3f}\n" for device in table.ids
                      if (at := heard.get(device)) is not None])

    def _up_text(self, table: DeviceTable) -> str:
        """The hub_device_up samples; on the way, every device's label text (kept for the next scrapes)."""
        keys, site, faulted = self._device_keys, table.site, table.faulted
        up: list[str] = []
        for device in table.ids:
            key = keys.get(device)
            where = site.get(device, "")
            if key is None or key[0] != where:
                name = _label(device)
                key = (where, f'hub_device_up{{device="{name}",site="{_label(where)}"}} ',
                       f'hub_device_last_seen_age_seconds{{device="{name}"}} ')
                keys[device] = key
            up.append(key[1] + ("0\n" if device in faulted else "1\n"))
        if len(keys) > 2 * len(table.ids) + 1000:  # devices deleted since: forget their labels
            self._device_keys = {d: keys[d] for d in table.ids if d in keys}
        return "".join(up)

    def _uptime(self) -> str:
        self.write_uptime()  # normally done already, by the board's thread right after its refresh
        return self._uptime_text[1]

    def write_uptime(self) -> None:
        """The hub_uptime_ratio block of the board's latest figures, unless written already. A thing's
        lines are written again only when its figures changed (most stay at 1.0 from one refresh to the
        next), and the board's thread calls this after each refresh, so that no scrape waits for it."""
        version, values = self.uptime()
        if self._uptime_text[0] == version:
            return
        cache = self._uptime_lines
        lines = [_head("hub_uptime_ratio", "gauge", "Time online over the time whose state is known "
                       "(from the stored state history; time the hub was down is unknown)")]
        for thing, windows in values.items():
            found = cache.get(thing)
            if found is None or found[0] != windows:
                kind, object_id = thing
                key = f'hub_uptime_ratio{{kind="{kind}",id="{_label(object_id)}",window="'
                text = "".join([f'{key}{w}"}} {v:.6g}\n' for w, v in windows.items()])
                found = cache[thing] = (windows, text)
            lines.append(found[1])
        if len(cache) > 2 * len(values) + 1000:  # things deleted since: forget their lines
            self._uptime_lines = {k: cache[k] for k in values if k in cache}
        self._uptime_text = (version, "".join(lines))


_CAMERA_COUNTERS = (
    ("hub_camera_reconnects_total", "Stream reconnections since the hub started", "reconnects"),
    ("hub_camera_frames_dropped_total", "Frames replaced before analysis could take them (analysis fell "
     "behind)", "dropped"),
    ("hub_camera_stalls_total", "Streams that stopped delivering while connected, since the hub started",
     "stalls"),
    ("hub_camera_decode_errors_total", "Packets the decoder refused (corrupt or missing data)",
     "decode_errors"),
)


def _head(name: str, kind: str, help_text: str) -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"


def _label(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


FLEET = Fleet()


def exposition() -> bytes:
    """The whole /metrics text: the registry's metrics, then the fleet's."""
    return generate_latest(REGISTRY) + FLEET.render().encode()


CAMERA_EVENTS = Counter("hub_camera_events_total", "Motion events and tamper/video-loss changes by kind",
                        ["kind"], registry=REGISTRY)
CAMERA_ANALYSIS = Histogram("hub_camera_analysis_seconds", "Motion and tamper analysis of one frame",
                            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1), registry=REGISTRY)
SUPERVISION_LATENESS = Histogram(
    "hub_supervision_lateness_seconds", "How long after its deadline a silent device was flagged",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30), registry=REGISTRY)

OUTBOX_DEPTH = Gauge("hub_outbox_depth", "Deliveries waiting for their sink", ["sink"], registry=REGISTRY)
OUTBOX_OLDEST_AGE = Gauge("hub_outbox_oldest_age_seconds", "Age of the oldest waiting delivery",
                          ["sink"], registry=REGISTRY)
FORWARD_LATENCY = Histogram(
    "hub_forward_latency_seconds", "From receiving the signal to the sink confirming the delivery",
    ["sink"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
    registry=REGISTRY)
FORWARD_FAILURES = Counter("hub_forward_failures_total", "Deliveries a sink did not confirm in time",
                           ["sink"], registry=REGISTRY)
SINK_UP = Gauge("hub_sink_up", "1 while the sink's receiver is reachable", ["sink"], registry=REGISTRY)

ACK_LATENCY = Histogram("hub_ack_latency_seconds", "From delivery to an operator's acknowledgement",
                        ["center"], buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800), registry=REGISTRY)

LIVE_SESSIONS = Gauge("hub_live_sessions", "Live-view (WebRTC) viewers connected", registry=REGISTRY)
LIVE_FEEDS = Gauge("hub_live_feeds", "Camera connections opened for live view (shared by their viewers)",
                   registry=REGISTRY)

PIPELINE_QUEUE = Gauge("hub_pipeline_queue_depth", "Inputs waiting for the alarm engine",
                       registry=REGISTRY)
BATCH_SECONDS = Histogram("hub_pipeline_commit_seconds", "Time to commit one batch",
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1), registry=REGISTRY)
STORE_ERRORS = Counter("hub_store_errors_total", "Failed database transactions (retried)",
                       ["component"], registry=REGISTRY)
MQTT_CONNECTED = Gauge("hub_mqtt_connected", "1 while connected to the broker", ["broker"],
                       registry=REGISTRY)

SIA_FRAMES = Counter("hub_sia_frames_total", "SIA DC-09 frames received, by transport and what they earned "
                     "(ack, nak, silent, or why they were refused: bad_crc, bad_length, …)",
                     ["transport", "outcome"], registry=REGISTRY)
SIA_REPLY_SECONDS = Histogram("hub_sia_reply_seconds",
                            "From a SIA frame's arrival to its reply (after the commit)",
                            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                            registry=REGISTRY)
SIA_CONNECTIONS = Gauge("hub_sia_connections", "Open TCP connections of SIA panels", registry=REGISTRY)
SIA_REFUSED = Counter("hub_sia_connections_closed_total",
                      "SIA connections the receiver refused or closed, by "
                      "why (connections, frame_timeout, idle)", ["why"], registry=REGISTRY)

DATABASE_UP = Gauge("hub_database_up", "1 while the database answers (the last commit or check succeeded)",
                    registry=REGISTRY)


class OpenAlarms(Collector):
    """`hub_alarms_open{priority,state}`, counted from the engine's open alarms at scrape time."""

    def __init__(self) -> None:
        self.source: Callable[[], dict[tuple[str, str], int]] = dict

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("hub_alarms_open", "Alarms not yet closed, by priority and state",
                                   labels=["priority", "state"])
        for (priority, state), n in sorted(self.source().items()):
            family.add_metric([priority, state], n)
        yield family


ALARMS_OPEN = OpenAlarms()
REGISTRY.register(ALARMS_OPEN)
EVIDENCE_BYTES = Gauge("hub_evidence_bytes", "Bytes of snapshots and clips kept", registry=REGISTRY)
EVIDENCE_FILES = Gauge("hub_evidence_files", "Snapshots and clips kept", registry=REGISTRY)
EVIDENCE_LIMIT = Gauge("hub_evidence_limit_bytes", "Most bytes of evidence kept before the oldest goes",
                       registry=REGISTRY)
UPTIME_REFRESH = Gauge("hub_uptime_refresh_seconds", "Time the last refresh of every uptime ratio took",
                       registry=REGISTRY)

"""Every Prometheus metric of the hub, defined once (CONTRACT.md names and labels).

Labels never carry a credential, a URL or free text from a message, and their values come from bounded
sets (ids of registered things, enums, reason codes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# `*_created` series double the exposition and no dashboard of ours reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)

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
class DeviceHealth:
    device: str
    site: str
    up: bool
    age: float | None


class DeviceCollector(Collector):
    """`hub_device_up` and `hub_device_last_seen_age_seconds` of every supervised device, computed at
    scrape time from the supervisor's state (20,000 devices would make 40,000 gauge updates a second
    otherwise)."""

    def __init__(self) -> None:
        self.source: Callable[[], list[DeviceHealth]] = list

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("hub_device_up", "1 while the device reports within its supervision interval",
                               labels=["device", "site"])
        age = GaugeMetricFamily("hub_device_last_seen_age_seconds", "Seconds since the device was last heard",
                                labels=["device"])
        for health in self.source():
            up.add_metric([health.device, health.site], 1.0 if health.up else 0.0)
            if health.age is not None:
                age.add_metric([health.device], max(health.age, 0.0))
        yield up
        yield age


DEVICES = DeviceCollector()
REGISTRY.register(DEVICES)


@dataclass(frozen=True, slots=True)
class CameraHealth:
    camera: str
    site: str
    up: bool
    fps: float
    reconnects: int
    frame_age: float | None
    dropped: int


class CameraCollector(Collector):
    """The camera gauges and counters of CONTRACT.md, read from the camera workers at scrape time."""

    def __init__(self) -> None:
        self.source: Callable[[], list[CameraHealth]] = list

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("hub_camera_up", "1 while the camera delivers frames",
                               labels=["camera", "site"])
        fps = GaugeMetricFamily("hub_camera_fps", "Frames decoded per second", labels=["camera"])
        reconnects = CounterMetricFamily("hub_camera_reconnects", "Stream reconnections since the hub "
                                         "started", labels=["camera"])
        age = GaugeMetricFamily("hub_camera_last_frame_age_seconds", "Seconds since the last decoded frame",
                                labels=["camera"])
        dropped = CounterMetricFamily("hub_camera_frames_dropped", "Frames replaced before analysis could "
                                      "take them (the analysis fell behind)", labels=["camera"])
        for health in self.source():
            up.add_metric([health.camera, health.site], 1.0 if health.up else 0.0)
            fps.add_metric([health.camera], health.fps)
            reconnects.add_metric([health.camera], health.reconnects)
            dropped.add_metric([health.camera], health.dropped)
            if health.frame_age is not None:
                age.add_metric([health.camera], max(health.frame_age, 0.0))
        yield from (up, fps, reconnects, age, dropped)


CAMERAS = CameraCollector()
REGISTRY.register(CAMERAS)
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

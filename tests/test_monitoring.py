"""Monitoring, end to end: a real Prometheus scraping the hub, the exposition checked by promtool, the
dashboard's queries run against what the hub exposes, uptime from the stored history across restarts
(a hub outage is a gap, not uptime), and the MQTT status topics."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.client import MQTTMessage

from simulators import mqttutil
from simulators.fleet import Fleet
from tests.fixtures.cameras import CameraServerProcess
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.monitoring import dashboard_exprs, metric_names, rule_names
from tests.fixtures.prometheus import PROMTOOL, Prometheus
from tests.fixtures.servers import Mosquitto, free_port
from tests.fixtures.waiting import wait

CENTER = "110-mon"
MONITORED = {"monitoring": {"uptime_refresh_s": 0.5},
             "cameras": {"stall_timeout_s": 2.0, "open_timeout_s": 2.0},
             "supervision": {"grace_s": 0.0}}


def setup_site(hub: HubProcess) -> None:
    hub.post("/api/v1/centers", {"id": CENTER, "name": "City 110", "kind": "110"})
    hub.post("/api/v1/sites", {"id": "shop-mon", "name": "Shop", "address": "1 Zhongshan Rd, Nanjing",
                               "lat": 32.05, "lon": 118.78, "center_id": CENTER})


def add_camera(hub: HubProcess, camera_id: str, url: str) -> None:
    hub.post("/api/v1/cameras", {"id": camera_id, "site_id": "shop-mon", "name": camera_id, "url": url,
                                 "armed": False})


def camera_status(hub: HubProcess, camera_id: str) -> str:
    status: str = hub.api.get(f"/api/v1/cameras/{camera_id}").json()["status"]
    return status


def history(hub: HubProcess, kind: str, object_id: str, **params: str) -> dict[str, Any]:
    response = hub.api.get(f"/api/v1/{kind}s/{object_id}/history", params=params)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def exposed_names(text: str) -> set[str]:
    """Every metric name in an exposition, with each histogram's and counter's series names."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif line and not line.startswith("#"):
            names.add(line.split("{")[0].split(" ")[0])
    return names


# -- a hub, a camera and Prometheus, shared by the module ------------------------------------------------

@dataclass
class Stack:
    hub: HubProcess
    cameras: CameraServerProcess
    prometheus: Prometheus
    camera_port: int


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("monitoring")
    port = free_port()
    with Mosquitto(root / "broker") as broker, \
            CameraServerProcess(cameras=1, fps=5.0, duration_s=10.0, port=port) as cameras:
        hub = HubProcess(root / "hub", database_url=f"sqlite:///{root / 'hub.db'}", mqtt_url=broker.url,
                         config=MONITORED)
        stack = Stack(hub, cameras, None, port)  # type: ignore[arg-type]
        try:
            hub.start()
            setup_site(hub)
            add_camera(hub, "cam-mon", cameras.url("cam-001"))
            hub.register(["dev-mon-1", "dev-mon-2"], center=CENTER, supervision_s=3600)
            with Fleet(broker.url, ["dev-mon-1"]) as fleet:
                fleet.publish_heartbeat("dev-mon-1")
            with Prometheus(root / "prometheus", [f"127.0.0.1:{hub.port}"]) as stack.prometheus:
                yield stack
        finally:
            hub.close()
            stack.cameras.stop()  # the test may have replaced it


def test_the_exposition_passes_promtool(stack: Stack) -> None:
    assert wait(lambda: camera_status(stack.hub, "cam-mon") == "online", 30)
    text = stack.hub.api.get("/metrics").text
    for family in ("hub_camera_up", "hub_device_up", "hub_uptime_ratio", "hub_camera_decode_errors_total",
                   "hub_database_up", "hub_evidence_bytes", "hub_alarms_open", "hub_build_info",
                   "process_start_time_seconds"):
        assert f"# TYPE {family} " in text, family
    checked = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True,
                             timeout=30)
    assert checked.returncode == 0 and not checked.stdout.strip() and not checked.stderr.strip(), \
        (checked.stdout + checked.stderr).decode()
    # Bounded labels: only registered ids and enums; no URL, no password, no message text.
    assert "rtsp://" not in text and "127.0.0.1" not in text
    # The gzip that Prometheus asks for.
    zipped = stack.hub.api.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip" and "hub_camera_up" in zipped.text


def test_prometheus_scrapes_the_hub_and_loads_the_rules(stack: Stack) -> None:
    prom = stack.prometheus
    assert wait(prom.targets_up, 30), prom.api.get("/api/v1/targets").text
    assert wait(lambda: prom.value('hub_device_up{device="dev-mon-1"}') == 1.0, 30)
    assert prom.value('hub_uptime_ratio{kind="device",id="dev-mon-1",window="1h"}') == 1.0 or wait(
        lambda: prom.value('hub_uptime_ratio{kind="device",id="dev-mon-1",window="1h"}') == 1.0, 10)
    # The board that computed that ratio says how long its refresh took.
    assert (prom.value("hub_uptime_refresh_seconds") or 0) > 0
    # Never heard: nothing known, so no ratio at all (not 0, not 1).
    assert prom.query('hub_uptime_ratio{id="dev-mon-2"}') == []
    groups = prom.api.get("/api/v1/rules").json()["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert rules, "config/alerts.yml was loaded"
    # Evaluated against the real series without errors (a bad join or a typo shows here).
    time.sleep(3)
    groups = prom.api.get("/api/v1/rules").json()["data"]["groups"]
    bad = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r["health"] == "err"]
    assert not bad, bad


def test_every_dashboard_query_names_exposed_metrics_and_runs(stack: Stack) -> None:
    exposed = exposed_names(stack.hub.api.get("/metrics").text) | rule_names() | {"up"}
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    for expr in exprs:
        missing = metric_names(expr) - exposed
        assert not missing, f"{expr!r} names {missing}, which the hub does not expose"
        stack.prometheus.query(expr.replace("$__rate_interval", "1m").replace("$__range", "1h")
                               .replace("$__interval", "15s").replace("$site", ".*"))


def test_prometheus_sees_a_camera_go_down_and_up_and_its_uptime_move(stack: Stack) -> None:
    prom, hub = stack.prometheus, stack.hub
    up = 'hub_camera_up{camera="cam-mon"}'
    ratio = 'hub_uptime_ratio{kind="camera",id="cam-mon",window="1h"}'
    assert wait(lambda: prom.value(up) == 1.0, 30)
    assert wait(lambda: prom.value(ratio) == 1.0, 10)
    stack.cameras.stop()
    assert wait(lambda: prom.value(up) == 0.0, 30), hub.log()[-2000:]
    assert wait(lambda: (prom.value(ratio) or 1.0) < 1.0, 10)
    time.sleep(3)
    stack.cameras = CameraServerProcess(cameras=1, fps=5.0, duration_s=10.0, port=stack.camera_port).start()
    assert wait(lambda: prom.value(up) == 1.0, 90), hub.log()[-2000:]
    low = prom.value(ratio)
    assert low is not None and low < 1.0
    assert wait(lambda: (prom.value(ratio) or 0.0) > low + 0.01, 20), "the ratio climbs back while up"
    assert (prom.value(f"changes({up}[5m])") or 0) >= 2
    # The API tells the same story, with why.
    found = history(hub, "camera", "cam-mon", since="2000-01-01T00:00:00+00:00")
    states = [(c["online"], c["reason"]) for c in found["changes"]]
    assert states[0] == (True, None) and states[-1] == (True, None)
    assert any(online is False and reason for online, reason in states), states
    api_ratio = found["uptime"]["1h"]
    assert api_ratio is not None and abs(api_ratio - (prom.value(ratio) or 0.0)) < 0.1


# -- restarts -------------------------------------------------------------------------------------------

def expected_ratio(found: dict[str, Any], now: datetime, window_s: float, gap_is_up: bool) -> float:
    """The 1 h ratio computed by hand from the history endpoint's own changes and outages."""
    start = now.timestamp() - window_s
    changes = [(datetime.fromisoformat(c["at"]).timestamp(), c["online"]) for c in found["changes"]]
    gaps = [(datetime.fromisoformat(g["start"]).timestamp(), datetime.fromisoformat(g["end"]).timestamp())
            for g in found["hub_down"]]
    up = known = 0.0
    step = 0.01
    t = max(start, changes[0][0])
    while t < now.timestamp():
        state = [online for at, online in changes if at <= t][-1]
        in_gap = any(a <= t < b for a, b in gaps)
        if not in_gap or gap_is_up:
            known += step
            up += step if (state or in_gap) else 0.0
        t += step
    return up / known


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_restart_keeps_the_history_and_an_outage_is_a_gap(tmp_path: Path, database_url: str,
                                                             site_broker: Mosquitto) -> None:
    port = free_port()
    cameras = CameraServerProcess(cameras=1, fps=5.0, duration_s=10.0, port=port).start()
    hub = HubProcess(tmp_path / "hub", database_url=database_url, mqtt_url=site_broker.url, config=MONITORED)
    try:
        hub.start()
        setup_site(hub)
        add_camera(hub, "cam-r", cameras.url("cam-001"))
        assert wait(lambda: camera_status(hub, "cam-r") == "online", 30)
        time.sleep(2)
        # A clean stop, 4 s away, a start: the camera was online before and after.
        stopped = time.time()
        assert hub.stop() == 0
        time.sleep(4)
        hub.start()
        restarted = time.time()
        found = history(hub, "camera", "cam-r")
        assert [c["online"] for c in found["changes"]] == [True], "online once, kept across the restart"
        [gap] = found["hub_down"]
        start, end = (datetime.fromisoformat(gap[k]).timestamp() for k in ("start", "end"))
        assert stopped - 1 <= start <= stopped + 1 and end - start >= 3.5 and end <= restarted + 1, gap
        assert found["uptime"]["1h"] == 1.0, "the outage is not downtime"

        # Down 3 s: the ratio counts the known time only (the outage would raise it if counted as up).
        cameras.stop()
        assert wait(lambda: camera_status(hub, "cam-r") == "offline", 30)
        time.sleep(3)
        found = history(hub, "camera", "cam-r")
        now = datetime.now().astimezone()
        measured = found["uptime"]["1h"]
        as_unknown = expected_ratio(found, now, 3600, gap_is_up=False)
        as_up = expected_ratio(found, now, 3600, gap_is_up=True)
        assert abs(measured - as_unknown) < 0.03, (measured, as_unknown, found)
        assert as_up - measured > 0.05, (measured, as_up)
        # /metrics says the same once its board refreshed.
        assert wait(lambda: abs(hub.metric("hub_uptime_ratio", kind="camera", id="cam-r", window="1h")
                                - measured) < 0.05, 10)

        # A crash: the gap starts at the last sign of life (written every 10 s), not at the restart.
        time.sleep(max(0.0, restarted + 12 - time.time()))
        hub.kill()
        killed = time.time()
        time.sleep(3)
        hub.start()
        found = history(hub, "camera", "cam-r")
        crash = found["hub_down"][-1]
        start, end = (datetime.fromisoformat(crash[k]).timestamp() for k in ("start", "end"))
        assert killed - 11 <= start <= killed + 0.5 and end >= killed + 2.5, crash
        assert len(found["hub_down"]) == 2
    finally:
        hub.close()
        cameras.stop()


def test_history_answers_404_and_validates(hub: HubProcess) -> None:
    assert hub.api.get("/api/v1/cameras/nope/history").status_code == 404
    assert hub.api.get("/api/v1/devices/nope/history").status_code == 404
    hub.register(["hist-1"])
    naive = {"since": "2026-12-01T00:00:00"}
    assert hub.api.get("/api/v1/devices/hist-1/history", params=naive).status_code == 422
    assert hub.api.get("/api/v1/devices/hist-1/history", params={"limit": 0}).status_code == 422
    body = history(hub, "device", "hist-1")
    assert body["changes"] == [] and body["uptime"] == {"1h": None, "24h": None, "7d": None}
    assert body["state_at_since"] is None
    viewer = hub.api.post("/api/v1/tokens", json={"name": "op", "role": "operator"}).json()["token"]
    assert hub.api.get("/api/v1/devices/hist-1/history",
                       headers={"Authorization": f"Bearer {viewer}"}).status_code == 403


# -- MQTT status topics ---------------------------------------------------------------------------------

class Statuses:
    """Everything on the status topics, retained or live, in arrival order."""

    def __init__(self, url: str) -> None:
        self.received: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.client = mqttutil.make_client(url, f"status-watch-{time.monotonic_ns()}")
        self.client.on_message = self._on_message
        mqttutil.start(self.client, url)
        for topic in ("pingan/v1/hub/status", "pingan/v1/cameras/+/status", "pingan/v1/devices/+/status"):
            self.client.subscribe(topic, qos=1)

    def _on_message(self, _c: object, _u: object, msg: MQTTMessage) -> None:
        with self._lock:
            self.received.append((msg.topic, msg.payload, bool(msg.retain)))

    def last(self, topic: str) -> bytes | None:
        with self._lock:
            found = [payload for t, payload, _ in self.received if t == topic]
        return found[-1] if found else None

    def json(self, topic: str) -> dict[str, Any] | None:
        payload = self.last(topic)
        return json.loads(payload) if payload else None

    def close(self) -> None:
        mqttutil.stop(self.client)


def test_status_topics_tell_other_systems_about_the_hub_cameras_and_devices(
        tmp_path: Path, site_broker: Mosquitto) -> None:
    cameras = CameraServerProcess(cameras=1, fps=5.0, duration_s=10.0).start()
    hub = HubProcess(tmp_path / "hub", database_url=f"sqlite:///{tmp_path / 'hub.db'}",
                     mqtt_url=site_broker.url, config=MONITORED)
    watch: Statuses | None = None
    try:
        hub.start()
        setup_site(hub)
        hub.register(["st-dev"], center=CENTER, supervision_s=10)
        add_camera(hub, "st-cam", cameras.url("cam-001"))
        with Fleet(site_broker.url, ["st-dev"]) as fleet:
            fleet.publish_heartbeat("st-dev")
        assert wait(lambda: camera_status(hub, "st-cam") == "online", 30)
        # Subscribed afterwards: everything arrives retained.
        watch = Statuses(site_broker.url)
        assert wait(lambda: watch.last("pingan/v1/hub/status") == b"online", 10)
        assert wait(lambda: watch.json("pingan/v1/cameras/st-cam/status") is not None, 10)
        camera = watch.json("pingan/v1/cameras/st-cam/status")
        assert camera is not None and (camera["id"], camera["status"], camera["site_id"]) == \
            ("st-cam", "online", "shop-mon")
        assert datetime.fromisoformat(camera["since"]).tzinfo is not None
        assert wait(lambda: watch.json("pingan/v1/devices/st-dev/status") is not None, 10)
        device = watch.json("pingan/v1/devices/st-dev/status")
        assert device is not None and device["status"] == "online"
        assert all(retained for _t, _p, retained in watch.received)
        # Silent past its 10 s: offline, said once, with why.
        assert wait(lambda: (watch.json("pingan/v1/devices/st-dev/status") or {}).get("status") == "offline",
                    20)
        device = watch.json("pingan/v1/devices/st-dev/status")
        assert device is not None and device["reason"] == "silent"
        # The camera's stream ends: offline with its reason.
        cameras.stop()
        assert wait(lambda: (watch.json("pingan/v1/cameras/st-cam/status") or {}).get("status") == "offline",
                    30)
        assert (watch.json("pingan/v1/cameras/st-cam/status") or {}).get("reason")
        # A crash: the broker says `offline` for the hub (its last will).
        hub.kill()
        assert wait(lambda: watch.last("pingan/v1/hub/status") == b"offline", 10)
        hub.start()
        assert wait(lambda: watch.last("pingan/v1/hub/status") == b"online", 10)
        # A clean stop says it itself; and it stays retained for whoever asks later.
        assert hub.stop() == 0
        assert wait(lambda: watch.last("pingan/v1/hub/status") == b"offline", 10)
        later = Statuses(site_broker.url)
        try:
            assert wait(lambda: later.last("pingan/v1/hub/status") == b"offline", 10)
        finally:
            later.close()
        # A deleted device leaves no retained status behind.
        hub.start()
        assert hub.api.delete("/api/v1/devices/st-dev").status_code == 204
        assert wait(lambda: watch.last("pingan/v1/devices/st-dev/status") == b"", 10)
    finally:
        if watch is not None:
            watch.close()
        hub.close()
        cameras.stop()

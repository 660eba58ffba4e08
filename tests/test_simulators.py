"""The simulators and test servers, against a real Mosquitto and a real PostgreSQL.

Everything else in the suite trusts these tools to tell the truth (ground truth of what was sent,
the 110 consumer's duplicate/gap/latency report, a broker that keeps sessions across restarts),
so they get tests of their own.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from paho.mqtt.client import Client, MQTTMessage
from sqlalchemy import create_engine, text

from simulators import mqttutil
from simulators.consumer import Consumer, percentile
from simulators.fleet import EVENT_WEIGHTS, RESTORABLE, Fleet, Step, contact_id, plan_random
from simulators.provision import provision
from tests.fixtures.servers import Mosquitto, Postgres, free_port, port_open, wait_port

ALARMS_TOPIC = "pingan/v1/cc/110-city/alarms"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "mosquitto") as server:
        yield server


class Tap:
    """A plain subscriber on the device topics: what the hub would receive from the fleet."""

    def __init__(self, url: str) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        client = mqttutil.make_client(url, "tap")
        client.on_message = self._on_message
        self.client = mqttutil.start(client, url)
        self.client.subscribe("pingan/v1/devices/+/+", qos=1)
        time.sleep(0.1)  # let the SUBACK arrive before anything is published

    def _on_message(self, _client: Client, _userdata: Any, message: MQTTMessage) -> None:
        try:
            body = json.loads(message.payload)
        except ValueError:
            body = {"raw": bytes(message.payload)}
        with self._lock:
            self.messages.append((message.topic, body))

    def of_kind(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [(topic, body) for topic, body in self.messages if topic.endswith("/" + kind)]

    def wait_events(self, count: int, timeout: float = 10.0) -> list[tuple[str, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(self.of_kind("event")) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.of_kind("event")

    def close(self) -> None:
        mqttutil.stop(self.client)


def publish_all(url: str, payloads: list[bytes], topic: str = ALARMS_TOPIC) -> None:
    """Publish at QoS 1 in order and wait for every PUBACK."""
    client = mqttutil.connect(url, "test-publisher")
    try:
        infos = [client.publish(topic, payload, qos=1) for payload in payloads]
        for info in infos:
            info.wait_for_publish(5)
    finally:
        mqttutil.stop(client)


def alarm(alarm_id: str, seq: int, *, change: str = "new", category: str = "burglary", priority: int = 2,
          received_at: datetime | None = None, sent_at: str = "2026-11-29T03:00:01+08:00") -> bytes:
    """A 110-queue message, by default received by the "hub" 0.25 s ago."""
    received_at = received_at or datetime.now(UTC) - timedelta(seconds=0.25)
    body = {
        "alarm_id": alarm_id, "seq": seq, "change": change, "state": change, "category": category,
        "priority": priority, "agency": "110", "verified": False,
        "site": {"id": "shop-17", "name": "shop", "address": "Nanjing", "lat": 32.05, "lon": 118.78,
                 "door_plate": "1", "pole": "P1"},
        "source": {"kind": "device", "id": "panel-7", "zone": "3"},
        "raised_at": received_at.isoformat(), "received_at": received_at.isoformat(),
        "sent_at": sent_at, "evidence": [], "signals": 1,
    }
    return json.dumps(body).encode()


def test_mqtt_url_parsing() -> None:
    assert mqttutil.parse_mqtt_url("mqtt://127.0.0.1:1884") == ("127.0.0.1", 1884, None, None)
    assert mqttutil.parse_mqtt_url("mqtt://hub:p%40ss@broker.local") == ("broker.local", 1883, "hub", "p@ss")
    with pytest.raises(ValueError):
        mqttutil.parse_mqtt_url("http://127.0.0.1:1883")


def test_fleet_publishes_contract_messages_and_ground_truth(broker: Mosquitto, tmp_path: Path) -> None:
    tap = Tap(broker.url)
    truth_path = tmp_path / "truth.jsonl"
    try:
        with Fleet(broker.url, 5, ground_truth=truth_path) as fleet:
            first = fleet.publish_event("sim-00001", "burglary", zone="3", text="back door")
            cid = fleet.publish_cid("sim-00002", "1130 01 003")
            scripted = fleet.scripted([
                Step("sim-00003", event="fire", zone="7", at=0.0),
                Step("sim-00004", heartbeat=True, at=0.05),
                {"device_id": "sim-00003", "event": "fire", "qualifier": "restore", "zone": "7", "at": 0.1},
            ])
            random_run = fleet.run(200, 1.0, seed=7, heartbeat_s=0.5, silent=["sim-00005"])
            records = list(fleet.records)
        events = tap.wait_events(len(records))
        heartbeats = tap.of_kind("heartbeat")
    finally:
        tap.close()

    assert first.id == "sim-00001-000001" and first.acked and first.event == "burglary"
    assert (cid.category, cid.qualifier, cid.zone) == ("burglary", "new", "3")
    assert (cid.cid, cid.event) == ("1130 01 003", None)
    assert (scripted.events_sent, scripted.heartbeats_sent, scripted.acked) == (2, 1, 3)
    assert random_run.events_sent == 200 and random_run.events_acked == 200
    assert 0.9 < random_run.elapsed < 2.0
    # Heartbeats: 4 speaking devices x 2 rounds in 1 s; the silent device sends nothing at all.
    assert random_run.heartbeats_sent == 8
    run_senders = {topic.split("/")[3] for topic, _ in heartbeats}
    assert run_senders == {"sim-00001", "sim-00002", "sim-00003", "sim-00004"}
    assert all(r.device_id != "sim-00005" for r in records)

    assert len(records) == 2 + 2 + 200 and all(r.acked for r in records)
    assert len(events) == len(records)
    bodies = {body["id"]: (topic, body) for topic, body in events}
    assert set(bodies) == {r.id for r in records}, "every recorded event arrived, ids are unique"
    for topic, body in bodies.values():
        assert topic.startswith("pingan/v1/devices/sim-0000") and topic.endswith("/event")
        assert datetime.fromisoformat(body["ts"]).utcoffset() == timedelta(hours=8)
        assert ("event" in body) != ("cid" in body)
        if "event" in body:
            assert body["event"] in EVENT_WEIGHTS and body["qualifier"] in {"new", "restore"}
    assert bodies[first.id][1]["text"] == "back door"

    lines = [json.loads(line) for line in truth_path.read_text().splitlines()]
    assert [line["id"] for line in lines] == [r.id for r in records]
    assert set(lines[0]) >= {"id", "device_id", "event", "qualifier", "zone", "published_at", "acked"}
    assert "cid" in lines[1] and "event" not in lines[1]


def test_fleet_fields_can_be_overridden_or_left_out(broker: Mosquitto) -> None:
    tap = Tap(broker.url)
    try:
        with Fleet(broker.url, ["panel-7"]) as fleet:
            first = fleet.publish_event("panel-7", "burglary", zone="3")
            again = fleet.publish_event("panel-7", "burglary", zone="3", id=first.id)  # a retransmission
            bare = fleet.publish_event("panel-7", "panic", id=None, ts="2026-11-29T03:00:00")
            assert fleet.publish_raw("panel-7", "event", b"\xff not json")
        events = tap.wait_events(4)
    finally:
        tap.close()
    assert again.id == first.id == "panel-7-000001" and bare.id == ""
    assert [body.get("id") for _, body in events[:3]] == [first.id, first.id, None]
    assert events[2][1]["ts"] == "2026-11-29T03:00:00"
    assert events[3][1] == {"raw": b"\xff not json"}


def test_random_plan_is_repeatable_weighted_and_restores_what_it_raised() -> None:
    devices = [f"d{i}" for i in range(20)]

    def take(seed: int, n: int = 3000) -> list[Any]:
        plan = plan_random(devices, random.Random(seed), cid_ratio=0.3)
        return [next(plan) for _ in range(n)]

    plan = take(1)
    assert plan == take(1) and plan != take(2)
    raised: Counter[tuple[str, str, str]] = Counter()
    for item in plan:
        key = (item.device_id, item.category, item.zone)
        if item.qualifier == "restore":
            assert raised[key] > 0, f"restore without an earlier new: {item}"
            raised[key] -= 1
        elif item.category in RESTORABLE:
            raised[key] += 1
    news = Counter(item.category for item in plan if item.qualifier == "new")
    assert news.most_common(1)[0][0] == "burglary"
    assert {"panic", "fire", "ac_loss", "open", "test"} <= set(news)
    assert any(item.qualifier == "restore" for item in plan)
    assert 0.15 < sum(item.as_cid for item in plan) / len(plan) < 0.35
    assert contact_id("burglary", "restore", "3") == "3130 01 003"


def test_consumer_report_counts_duplicates_gaps_order_and_latency(broker: Mosquitto) -> None:
    at = datetime.now(UTC) - timedelta(seconds=0.25)
    payloads = [
        alarm("A", 1), alarm("A", 2, change="updated", received_at=at),
        alarm("A", 2, change="updated", received_at=at),  # identical duplicate
        alarm("A", 3, change="acknowledged"),
        alarm("B", 1, category="fire", priority=1),
        alarm("B", 3, change="dispatched", category="fire", priority=1),  # seq 2 missing
        alarm("C", 2, change="updated"), alarm("C", 1),  # out of order
        alarm("D", 1, received_at=at),
        alarm("D", 1, received_at=at, sent_at="2026-11-29T03:00:09+08:00"),  # redelivered, re-stamped
        b"not json",
    ]
    with Consumer(broker.url, client_id="cc-report") as consumer:
        publish_all(broker.url, payloads)
        assert consumer.wait_count(len(payloads), timeout=10)
        report = consumer.report()
        latest = consumer.alarms()

    assert (report.total, report.invalid, report.distinct, report.alarms) == (11, 1, 8, 4)
    assert (report.duplicates, report.duplicates_identical, report.duplicate_fields) == (2, 1, ["sent_at"])
    assert (report.gaps, report.alarms_with_gaps, report.gap_examples) == (1, 1, {"B": [2]})
    assert report.out_of_order == 1
    assert report.latency.count == 8 and report.latency_new.count == 4
    assert report.latency.p50 is not None and report.latency.max is not None
    assert 0.25 <= report.latency.p50 < 2.0 and report.latency.max < 2.0
    assert report.by_change == {"new": 4, "updated": 2, "acknowledged": 1, "dispatched": 1}
    assert report.by_category == {"burglary": 3, "fire": 1} and report.by_priority == {"1": 1, "2": 3}
    assert report.by_center == {"110-city": 8}
    assert latest["A"]["seq"] == 3 and latest["C"]["seq"] == 2
    json.dumps(report.to_json())  # the CLI prints it


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([3.0], 95) == 3.0


@pytest.mark.parametrize("outage", ["restart", "save_and_kill"])
def test_persistent_session_keeps_queued_messages_across_outage(broker: Mosquitto, outage: str) -> None:
    Consumer(broker.url, client_id="cc-restart").close()  # leaves a session with a subscription
    publish_all(broker.url, [alarm(f"R{n}", 1) for n in range(50)])  # queued for the absent consumer

    if outage == "restart":
        broker.restart()  # SIGTERM: the broker saves its database on the way out
    else:
        broker.save()
        broker.kill()
        broker.start()

    with Consumer(broker.url, client_id="cc-restart") as consumer:
        assert consumer.wait_count(50, timeout=10), broker.log()
        report = consumer.report()
    assert (report.distinct, report.duplicates, report.gaps) == (50, 0, 0)
    assert [m.data["alarm_id"] for m in consumer.messages() if m.data] == [f"R{n}" for n in range(50)]


def test_mosquitto_stop_start_and_wait_port() -> None:
    with Mosquitto() as server:
        assert port_open("127.0.0.1", server.port)
        server.stop()
        assert not port_open("127.0.0.1", server.port) and not server.running
        server.start()
        wait_port("127.0.0.1", server.port, timeout=2)
        directory = server.dir
    assert not directory.exists()
    with pytest.raises(TimeoutError):
        wait_port("127.0.0.1", free_port(), timeout=0.2)


def test_postgres_server_creates_databases_reachable_with_sqlalchemy() -> None:
    with Postgres() as pg:
        url = pg.create_database("hub_test")
        assert url == f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/hub_test"
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("select 1")).scalar() == 1
                assert conn.execute(text("select current_database()")).scalar() == "hub_test"
        finally:
            engine.dispose()
        directory = pg.dir
    assert not directory.exists()


class _FakeHubApi(BaseHTTPRequestHandler):
    """Just enough of the contract's resource API: Bearer token, 201 on create, 409 if it exists."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else headers and body, written apart, wait for delayed ACKs
    store: ClassVar[dict[str, dict[str, dict[str, Any]]]] = {}

    def do_POST(self) -> None:  # the name http.server dispatches to
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        collection = self.path.removeprefix("/api/v1/")
        if self.headers.get("Authorization") != "Bearer secret":
            self._answer(401)
        elif body["id"] in self.store.setdefault(collection, {}):
            self._answer(409)
        else:
            self.store[collection][body["id"]] = body
            self._answer(201, body)

    def _answer(self, status: int, body: Any = None) -> None:
        data = json.dumps(body or {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


def test_provision_creates_centers_sites_devices_and_is_rerunnable() -> None:
    _FakeHubApi.store = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeHubApi)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        first = provision(base, "secret", 6, device_prefix="sim", supervision_s=90, stations=2)
        again = provision(base, "secret", 6, device_prefix="sim", supervision_s=90, stations=2)
        denied = provision(base, "wrong", 1)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

    assert (first.created, first.existing, first.failed) == (3 + 6 + 6, 0, [])
    assert (again.created, again.existing, again.failed) == (0, 15, [])
    assert denied.failed and denied.failed[0].startswith("centers/110-city: 401")
    store = _FakeHubApi.store
    assert store["centers"]["station-01"]["parent_id"] == "110-city"
    assert {site["center_id"] for site in store["sites"].values()} == {"station-01", "station-02"}
    site = store["sites"]["site-00001"]
    assert abs(site["lat"] - 32.05) < 0.1 and abs(site["lon"] - 118.78) < 0.11
    assert "南京市" in site["address"] and site["kind"] and site["door_plate"] and site["pole"]
    assert store["devices"]["sim-00006"] == {
        "id": "sim-00006", "site_id": "site-00006", "protocol": "mqtt", "test_mode": False,
        "supervision_s": 90,
    }

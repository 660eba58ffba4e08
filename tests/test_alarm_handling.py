"""Operators handle alarms: acknowledge, dispatch, close; escalation past the deadline; the event stream.

A real hub process, real Mosquitto brokers, SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.message import AlarmMessage
from simulators.consumer import Consumer
from simulators.fleet import Fleet
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.servers import Mosquitto

CITY, STATION = "110-city", "station-xw"


def centers(hub: HubProcess, station_deadline_s: int = 120) -> None:
    hub.post("/api/v1/centers", {"id": CITY, "name": "市110指挥中心", "kind": "110", "ack_deadline_s": 60})
    hub.post("/api/v1/centers", {"id": STATION, "name": "玄武派出所", "kind": "station", "parent_id": CITY,
                                 "ack_deadline_s": station_deadline_s})


def token(hub: HubProcess, role: str, center_id: str | None = None, name: str | None = None) -> httpx.Client:
    body: dict[str, Any] = {"role": role, "name": name or f"{role}-1"}
    if center_id:
        body["center_id"] = center_id
    issued = hub.post("/api/v1/tokens", body)["token"]
    return httpx.Client(base_url=hub.base_url, timeout=30, headers={"Authorization": f"Bearer {issued}"})


def raise_alarm(hub: HubProcess, broker: Mosquitto, consumer: Consumer, device: str,
                event: str = "burglary") -> dict[str, Any]:
    with Fleet(broker.url, [device]) as fleet:
        fleet.publish_event(device, event, zone="2")
    assert consumer.wait_for(lambda ms: any(m.data and m.data["source"]["id"] == device for m in ms), 15), \
        consumer.report()
    return next(m.data for m in consumer.messages() if m.data and m.data["source"]["id"] == device)


def changes_of(consumer: Consumer, alarm_id: str) -> list[tuple[str, int, str]]:
    """(topic's center, seq, change) of one alarm as the 110 queue got them."""
    return sorted((m.topic.split("/")[3], m.data["seq"], m.data["change"]) for m in consumer.messages()
                  if m.data and m.data["alarm_id"] == alarm_id)


def test_acknowledge_dispatch_close_in_order_recorded_and_on_the_110_queue(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    centers(hub)
    hub.register(["panel-1"], center=STATION)
    alarm = raise_alarm(hub, site_broker, consumer, "panel-1")
    alarm_id = alarm["alarm_id"]
    assert alarm["deadline_at"] is not None and alarm["escalated_to"] is None
    with token(hub, "operator", STATION, "张警官") as op, token(hub, "viewer") as viewer, \
            token(hub, "technician") as technician:
        url = f"/api/v1/alarms/{alarm_id}"
        assert technician.post(f"{url}/ack").status_code == 403
        assert op.post(f"{url}/dispatch", json={"unit": "巡逻一组"}).status_code == 409, "dispatch before ack"
        assert op.post(f"{url}/close", json={"resolution": "real"}).status_code == 409, "close before ack"
        assert viewer.post(f"{url}/ack").status_code == 403
        assert httpx.post(f"{hub.base_url}{url}/ack").status_code == 401
        assert op.post("/api/v1/alarms/01JDZ8Q3K7R4M2V9X6T1B5N0CE/ack").status_code == 404

        acked = op.post(f"{url}/ack")
        assert acked.status_code == 200, acked.text
        assert acked.json()["state"] == "acknowledged" and acked.json()["deadline_at"] is None
        assert op.post(f"{url}/ack").status_code == 409, "acknowledged twice"

        assert op.post(f"{url}/dispatch", json={}).status_code == 422
        assert op.post(f"{url}/dispatch", json={"unit": "  "}).status_code == 422
        dispatched = op.post(f"{url}/dispatch", json={"unit": "巡逻一组"}).json()
        assert (dispatched["state"], dispatched["unit"]) == ("dispatched", "巡逻一组")

        assert op.post(f"{url}/close", json={"resolution": "maybe"}).status_code == 422
        closed = op.post(f"{url}/close", json={"resolution": "false", "note": "店员误触"})
        assert closed.status_code == 200, closed.text
        body = closed.json()
        assert (body["state"], body["resolution"]) == ("closed", "false") and body["closed_at"]
        assert op.post(f"{url}/close", json={"resolution": "real"}).status_code == 409, "closed twice"
        assert op.post(f"{url}/ack").status_code == 409, "acknowledging a closed alarm"

    history = [(h["seq"], h["change"], h["state"], h["actor"], h["detail"]) for h in body["history"]]
    assert history == [
        (1, "new", "new", "hub", None),
        (2, "acknowledged", "acknowledged", "张警官", None),
        (3, "dispatched", "dispatched", "张警官", {"unit": "巡逻一组"}),
        (4, "closed", "closed", "张警官", {"resolution": "false", "note": "店员误触"}),
    ]
    assert [s["category"] for s in body["signal_log"]] == ["burglary"]
    assert consumer.wait_for(lambda _: len(changes_of(consumer, alarm_id)) >= 4, 10), consumer.report()
    assert changes_of(consumer, alarm_id) == [(STATION, 1, "new"), (STATION, 2, "acknowledged"),
                                              (STATION, 3, "dispatched"), (STATION, 4, "closed")]
    last = max((m for m in consumer.messages() if m.data and m.data["alarm_id"] == alarm_id),
               key=lambda m: m.data["seq"] if m.data else 0)
    assert last.data is not None
    AlarmMessage.model_validate(last.data)
    assert (last.data["state"], last.data["resolution"]) == ("closed", "false")
    # The acknowledgement time is measured, per center.
    assert hub.metric("hub_ack_latency_seconds_count", center=STATION) == 1
    # A closed alarm leaves the open queue; a new event of the same zone is a new alarm.
    open_ids = [a["alarm_id"] for a in hub.api.get("/api/v1/alarms", params={"open": "true"}).json()["items"]]
    assert alarm_id not in open_ids


def test_an_alarm_not_acknowledged_in_time_escalates_to_the_parent_and_shows_in_both_queues(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    centers(hub, station_deadline_s=10)  # the least a center may set
    hub.register(["panel-2"], center=STATION)
    alarm_id = raise_alarm(hub, site_broker, consumer, "panel-2", "panic")["alarm_id"]
    raised = time.monotonic()
    escalated = lambda _: any(c == "escalated" for _, _, c in changes_of(consumer, alarm_id))  # noqa: E731
    assert consumer.wait_for(escalated, 20)
    assert time.monotonic() - raised >= 9.0, "escalated before its deadline"
    # On both centers' topics.
    assert consumer.wait_for(lambda _: {(STATION, 2, "escalated"), (CITY, 2, "escalated")}
                             <= set(changes_of(consumer, alarm_id)), 10), changes_of(consumer, alarm_id)
    for center in (STATION, CITY):
        listed = hub.api.get("/api/v1/alarms", params={"center_id": center, "open": "true"}).json()["items"]
        assert [a["alarm_id"] for a in listed] == [alarm_id], center
    got = hub.api.get(f"/api/v1/alarms/{alarm_id}").json()
    assert (got["state"], got["escalated_to"]) == ("escalated", CITY)
    assert got["history"][-1]["detail"] == {"from": STATION, "to": CITY}
    # The city center has no parent: its deadline shows, nothing escalates further.
    assert got["deadline_at"] is not None
    with token(hub, "operator", CITY) as op:
        assert op.post(f"/api/v1/alarms/{alarm_id}/ack").json()["state"] == "acknowledged"
    # Later changes go to both queues too.
    assert consumer.wait_for(lambda _: (STATION, 3, "acknowledged") in changes_of(consumer, alarm_id)
                             and (CITY, 3, "acknowledged") in changes_of(consumer, alarm_id), 10)


def test_escalation_deadlines_survive_a_restart(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    centers(hub, station_deadline_s=10)
    hub.register(["panel-3"], center=STATION)
    alarm_id = raise_alarm(hub, site_broker, consumer, "panel-3")["alarm_id"]
    hub.kill()
    time.sleep(10)  # the deadline passes while the hub is down
    hub.start()
    assert consumer.wait_for(lambda _: (CITY, 2, "escalated") in changes_of(consumer, alarm_id), 10), \
        consumer.report()
    assert hub.api.get(f"/api/v1/alarms/{alarm_id}").json()["escalated_to"] == CITY


# -- the event stream ---------------------------------------------------------------------------------


class Stream:
    """An SSE client on a thread: (id, data) of each `alarm` event."""

    def __init__(self, hub: HubProcess, client: httpx.Client, *, last_event_id: int | None = None,
                 center_id: str | None = None) -> None:
        self.events: list[tuple[int, dict[str, Any]]] = []
        self.status: int | None = None
        self._client = client
        self._headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        self._params = {"center_id": center_id} if center_id else {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._read()
        except httpx.HTTPError:
            if not self._stop.is_set():
                raise

    def _read(self) -> None:
        with self._client.stream("GET", "/api/v1/alarms/stream", headers=self._headers, params=self._params,
                                 timeout=httpx.Timeout(30, read=None)) as response:
            self.status = response.status_code
            event_id, data = None, None
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "" and event_id is not None and data is not None:
                    self.events.append((event_id, data))
                    event_id, data = None, None

    def wait(self, count: int, timeout: float = 10.0) -> list[tuple[int, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.events)

    def close(self) -> None:
        self._stop.set()


@pytest.fixture
def operator(hub: HubProcess) -> Iterator[httpx.Client]:
    centers(hub)
    with token(hub, "operator", STATION) as client:
        yield client


def test_the_stream_carries_each_change_live_and_resumes_after_last_event_id_without_gaps(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer, operator: httpx.Client,
        tmp_path: Path) -> None:
    hub.register(["panel-4", "panel-5"], center=STATION)
    live = Stream(hub, operator, center_id=STATION)
    time.sleep(0.5)
    first = raise_alarm(hub, site_broker, consumer, "panel-4")
    events = live.wait(1, 5)
    assert live.status == 200
    assert [(e["alarm_id"], e["change"]) for _, e in events] == [(first["alarm_id"], "new")]
    assert events[0][1] == {k: v for k, v in first.items() if k != "sent_at"}, "the 110 message itself"
    live.close()
    resume_from = events[0][0]

    # While no console listens: an acknowledgement and a new alarm.
    assert operator.post(f"/api/v1/alarms/{first['alarm_id']}/ack").status_code == 200
    second = raise_alarm(hub, site_broker, consumer, "panel-5", "fire")
    operator.post(f"/api/v1/alarms/{first['alarm_id']}/dispatch", json={"unit": "一组"})

    resumed = Stream(hub, operator, last_event_id=resume_from, center_id=STATION)
    got = resumed.wait(3, 5)
    resumed.close()
    assert [(e["alarm_id"], e["seq"], e["change"]) for _, e in got] == [
        (first["alarm_id"], 2, "acknowledged"), (second["alarm_id"], 1, "new"),
        (first["alarm_id"], 3, "dispatched")]
    ids = [i for i, _ in got]
    assert ids == sorted(ids) and ids[0] > resume_from

    # A console that lists first, then follows the stream from the list's position, misses nothing.
    listed = operator.get("/api/v1/alarms", params={"open": "true", "center_id": STATION}).json()
    assert {a["alarm_id"] for a in listed["items"]} == {first["alarm_id"], second["alarm_id"]}
    assert listed["last_event_id"] == ids[-1]
    # Another center's stream does not carry these.
    other = Stream(hub, operator, last_event_id=0, center_id="station-elsewhere")
    time.sleep(1.0)
    other.close()
    assert other.events == []
    # A bad Last-Event-ID is a 422, not a 500.
    assert operator.get("/api/v1/alarms/stream", headers={"Last-Event-ID": "abc"}).status_code == 422


def test_me_tells_the_console_who_the_token_is_and_keeps_the_language(hub: HubProcess) -> None:
    centers(hub)
    with token(hub, "operator", STATION, "李明") as op:
        me = op.get("/api/v1/me").json()
        assert (me["name"], me["role"], me["center_id"], me["language"], me["timezone"]) == \
            ("李明", "operator", STATION, "zh-CN", "Asia/Shanghai")
        assert me["center"]["parent_id"] == CITY
        assert op.patch("/api/v1/me", json={"language": "en"}).json()["language"] == "en"
        assert op.get("/api/v1/me").json()["language"] == "en"
        assert op.patch("/api/v1/me", json={"language": "fr"}).status_code == 422
    assert hub.api.post("/api/v1/tokens", json={"role": "operator", "name": "x", "center_id": "nowhere"}
                        ).status_code == 422
    assert httpx.get(f"{hub.base_url}/api/v1/me").status_code == 401

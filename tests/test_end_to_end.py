"""Fleet → site broker → hub → 110 queue → consumer, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from hub.message import AlarmMessage
from simulators.consumer import Consumer
from simulators.fleet import Fleet
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.servers import Mosquitto

# (event, zone) sent by one device each → (category, priority, agency) expected on the 110 queue.
RAISED = {
    "burglary": ("burglary", 2, "110"),
    "panic": ("panic", 1, "110"),
    "duress": ("duress", 1, "110"),
    "fire": ("fire", 1, "119"),
    "medical": ("medical", 1, "120"),
    "gas": ("gas", 2, "119"),
    "water": ("water", 3, "110"),
    "tamper": ("tamper", 3, "110"),
    "ac_loss": ("ac_loss", 4, "110"),
    "low_battery": ("low_battery", 4, "110"),
    "comm_fault": ("comm_fault", 4, "110"),
}
LOGGED_ONLY = ["open", "close", "bypass", "test"]
# Contact ID strings (qualifier, code, group, zone) → category, priority.
CID = {
    "1130 01 003": ("burglary", 2),
    "1121 01 004": ("duress", 1),
    "1101 01 005": ("medical", 1),   # DC-05: 101 is a personal emergency, not fire
    "1111 01 006": ("fire", 1),
    "1301 00 000": ("ac_loss", 4),
    "1999 01 001": ("unknown", 3),   # well formed, not in the table: kept and shown, never dropped
}


def new_messages(consumer: Consumer) -> dict[str, dict[str, Any]]:
    """source device id → its `new` message."""
    return {m.data["source"]["id"]: m.data for m in consumer.messages()
            if m.data and m.data["change"] == "new"}


def test_every_category_reaches_the_queue_located_and_prioritised(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    devices = [f"dev-{e}" for e in RAISED] + [f"log-{e}" for e in LOGGED_ONLY] + \
        [f"cid-{i}" for i in range(len(CID))]
    hub.register(devices)
    with Fleet(site_broker.url, devices) as fleet:
        for event in RAISED:
            fleet.publish_event(f"dev-{event}", event, zone="3", text="back door")
        for event in LOGGED_ONLY:
            fleet.publish_event(f"log-{event}", event)
        for i, cid in enumerate(CID):
            fleet.publish_cid(f"cid-{i}", cid)
    expected = len(RAISED) + len(CID)
    assert consumer.wait_count(expected, timeout=20), consumer.report()
    got = new_messages(consumer)
    for event, (category, priority, agency) in RAISED.items():
        msg = got[f"dev-{event}"]
        assert (msg["category"], msg["priority"], msg["agency"]) == (category, priority, agency)
        assert msg["seq"] == 1 and msg["state"] == "new" and msg["source"]["zone"] == "3"
        site = msg["site"]
        assert site["id"] == f"site-dev-{event}" and site["address"].startswith(f"dev-{event} Zhongshan")
        assert (site["lat"], site["lon"], site["door_plate"], site["pole"]) == \
            (32.05, 118.78, f"No. dev-{event}", f"P-dev-{event}")
        AlarmMessage.model_validate(msg)
    for i, (category, priority) in enumerate(CID.values()):
        assert (got[f"cid-{i}"]["category"], got[f"cid-{i}"]["priority"]) == (category, priority)
    assert not any(d.startswith("log-") for d in got), "open/close/bypass/test are logged, not queued"
    assert {m.topic for m in consumer.messages()} == {"pingan/v1/cc/110-city/alarms"}
    # Every signal is logged, alarms or not.
    assert hub.metric("hub_signals_total", source="mqtt", result="accepted") == len(devices)
    # The operator's view: newest first, the same message with the state of now.
    listed = hub.api.get("/api/v1/alarms", params={"limit": 100}).json()["items"]
    assert len(listed) == expected
    one = hub.api.get(f"/api/v1/alarms/{got['dev-panic']['alarm_id']}").json()
    assert one["category"] == "panic" and [h["change"] for h in one["history"]] == ["new"]
    assert one["state"] == "delivered"


def test_restore_pairs_and_duplicates_are_suppressed(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    hub.register(["panel-1", "panel-2"])
    with Fleet(site_broker.url, ["panel-1", "panel-2"]) as fleet:
        first = fleet.publish_event("panel-1", "burglary", zone="3")
        fleet.publish_event("panel-1", "burglary", zone="3", id=first.id)       # same message id
        fleet.publish_event("panel-1", "burglary", zone="3")                    # repeat while open
        fleet.publish_event("panel-1", "burglary", zone="4")                    # another zone: new
        fleet.publish_event("panel-1", "burglary", zone="3", qualifier="restore")
        fleet.publish_event("panel-1", "burglary", zone="3", qualifier="restore")  # restore again
        fleet.publish_event("panel-2", "panic", zone="1", qualifier="restore")  # restore of nothing
        assert consumer.wait_count(3, timeout=15)
        fleet.publish_event("panel-1", "burglary", zone="3")                    # re-armed after restore
    assert consumer.wait_count(4, timeout=15)
    consumer.wait_count(5, timeout=1.5)  # nothing more may come
    messages = [m.data for m in consumer.messages() if m.data]
    assert [(m["source"]["zone"], m["seq"], m["change"]) for m in messages] == [
        ("3", 1, "new"), ("4", 1, "new"), ("3", 2, "restored"), ("3", 3, "updated")]
    zone3 = [m for m in messages if m["source"]["zone"] == "3"]
    assert len({m["alarm_id"] for m in zone3}) == 1
    assert zone3[1]["restored"] is True and zone3[2]["restored"] is False
    assert zone3[-1]["signals"] == 5  # new, repeat, restore, restore, re-arm (the resent id is not a signal)
    assert hub.metric("hub_signals_total", source="mqtt", result="duplicate") == 2
    history = hub.api.get(f"/api/v1/alarms/{zone3[0]['alarm_id']}").json()["history"]
    assert [h["change"] for h in history] == ["new", "restored", "updated"]


def test_test_mode_devices_raise_test_alarms_that_no_center_receives(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    hub.register(["tech-1"], test_mode=True)
    hub.register(["live-1"])
    with Fleet(site_broker.url, ["tech-1", "live-1"]) as fleet:
        fleet.publish_event("tech-1", "fire")
        fleet.publish_event("live-1", "burglary")
    assert consumer.wait_count(1, timeout=15)
    consumer.wait_count(2, timeout=1.5)
    assert [m.data["source"]["id"] for m in consumer.messages() if m.data] == ["live-1"]
    alarms = hub.api.get("/api/v1/alarms").json()["items"]
    test_alarm = next(a for a in alarms if a["source"]["id"] == "tech-1")
    assert test_alarm["test"] is True and test_alarm["category"] == "fire"


def test_alarms_are_routed_to_the_center_of_their_site(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    hub.post("/api/v1/centers", {"id": "110-city", "name": "City", "kind": "110"})
    hub.post("/api/v1/centers", {"id": "station-gulou", "name": "Gulou", "kind": "station",
                                 "parent_id": "110-city"})
    hub.register(["a-1"], center="station-gulou")
    hub.register(["b-1"], center="110-city")
    with Fleet(site_broker.url, ["a-1", "b-1"]) as fleet:
        fleet.publish_event("a-1", "burglary")
        fleet.publish_event("b-1", "burglary")
    assert consumer.wait_count(2, timeout=15)
    topics = {m.data["source"]["id"]: m.topic for m in consumer.messages() if m.data}
    assert topics == {"a-1": "pingan/v1/cc/station-gulou/alarms", "b-1": "pingan/v1/cc/110-city/alarms"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_zigbee2mqtt_state_transitions_become_events(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    hub.register(["z-door"], protocol="zigbee2mqtt", topics={"z-door": "zigbee2mqtt/front_door"})
    with Fleet(site_broker.url, ["z-door"]) as fleet:
        for state in ('{"contact": true, "battery": 90}',   # first sight, closed: nothing
                      '{"contact": false, "battery": 90}',  # opened: burglary
                      '{"contact": false, "battery": 89}',  # unchanged: nothing
                      '{"contact": true, "tamper": true}',  # closed: restore; tamper
                      '{"contact": true, "action": "emergency"}'):
            assert fleet.publish_topic("zigbee2mqtt/front_door", state)
    assert consumer.wait_count(4, timeout=15), consumer.report()
    got = [(m.data["category"], m.data["change"]) for m in consumer.messages() if m.data]
    assert sorted(got) == sorted([("burglary", "new"), ("burglary", "restored"), ("tamper", "new"),
                                  ("panic", "new")])

"""Bad input is rejected with a reason, counted, kept for inspection, and the hub carries on."""

from __future__ import annotations

import base64
import time

import pytest

from simulators.consumer import Consumer
from simulators.fleet import Fleet
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.servers import Mosquitto

# payload → the reason the hub must give. Each goes to the event topic of a registered device.
BAD: list[tuple[bytes, str]] = [
    (b"this is not json", "not_json"),
    (b'{"event": "burglary", "zone": "3"', "not_json"),
    (b'{"event": "fire", "text": "\xff\xfe broken"}', "bad_encoding"),
    (b'["burglary"]', "not_an_object"),
    (b'{"event": 7}', "bad_field"),
    (b'{"event": "burglary", "zone": ["3"]}', "bad_field"),
    (b'{"event": "burglary", "qualifier": "maybe"}', "bad_field"),
    (b'{"event": "earthquake"}', "unknown_event"),
    (b'{"cid": "1X30 01 003"}', "bad_contact_id"),
    (b'{"cid": "2130 01 003"}', "bad_contact_id"),
    (b'{"cid": "1130"}', "bad_contact_id"),
    (b'{"event": "burglary", "ts": "2026-11-29T03:00:00"}', "time_without_zone"),
    (b'{"event": "burglary", "cid": "1130 01 003"}', "bad_field"),
    (b"{}", "bad_field"),
    (b'{"event": "burglary", "text": "' + b"x" * 70_000 + b'"}', "oversized"),
]


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_each_bad_message_is_dead_lettered_with_its_reason(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    hub.register(["bad-1"], supervision_s=3600)
    with Fleet(site_broker.url, ["bad-1", "ghost-9"]) as fleet:
        for payload, _reason in BAD:
            assert fleet.publish_raw("bad-1", "event", payload)
        fleet.publish_event("ghost-9", "fire")                  # not registered
        fleet.publish_raw("ghost-9", "heartbeat", b"{}")
        fleet.publish_event("bad-1", "panic")                   # and good input still flows
    assert consumer.wait_count(1, timeout=15)
    assert [m.data["category"] for m in consumer.messages() if m.data] == ["panic"]

    letters = _all(hub, "/api/v1/dead-letters")
    assert len(letters) == len(BAD)
    for letter, (payload, reason) in zip(reversed(letters), BAD, strict=True):  # newest first
        assert letter["reason"] == reason, letter
        assert letter["topic"] == "pingan/v1/devices/bad-1/event"
        raw = base64.b64decode(letter["raw"])
        assert raw == payload[:65536], "kept as received (oversized: its first 64 KiB)"
        assert letter["detail"] or reason == "oversized"
    for reason in {r for _, r in BAD}:
        assert hub.metric("hub_dead_letters_total", source="mqtt", reason=reason) == \
            sum(1 for _, r in BAD if r == reason)
    assert hub.metric("hub_signals_total", source="mqtt", result="rejected") == len(BAD)

    sightings = _all(hub, "/api/v1/unregistered")
    assert [(s["device_key"], s["topic"]) for s in sightings] == [
        ("ghost-9", "pingan/v1/devices/ghost-9/heartbeat"), ("ghost-9", "pingan/v1/devices/ghost-9/event")]
    assert b'"fire"' in base64.b64decode(sightings[1]["raw"])
    assert hub.metric("hub_signals_total", source="mqtt", result="unregistered") == 2
    assert hub.api.get("/healthz").json()["status"] == "ok"
    # A malformed message is still a sign of life: the device is not reported silent.
    assert hub.metric("hub_device_up", device="bad-1", site="site-bad-1") == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_zigbee2mqtt_garbage_and_unknown_friendly_names(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    hub.register(["z-1"], protocol="zigbee2mqtt", topics={"z-1": "zigbee2mqtt/kitchen_smoke"})
    with Fleet(site_broker.url, ["z-1"]) as fleet:
        for topic, payload in (("zigbee2mqtt/kitchen_smoke", b"ON"),
                               ("zigbee2mqtt/kitchen_smoke", b"[1, 2]"),
                               ("zigbee2mqtt/garage_door", b'{"contact": false}'),
                               ("zigbee2mqtt/kitchen_smoke", b'{"smoke": true}')):
            assert fleet.publish_topic(topic, payload)
    assert consumer.wait_count(1, timeout=15)
    assert [m.data["category"] for m in consumer.messages() if m.data] == ["fire"]
    assert [d["reason"] for d in _all(hub, "/api/v1/dead-letters")] == ["not_an_object", "not_json"]
    assert [u["device_key"] for u in _all(hub, "/api/v1/unregistered")] == ["zigbee2mqtt/garage_door"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_flood_of_garbage_does_not_stop_the_hub(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    hub.register(["noisy"])
    with Fleet(site_broker.url, ["noisy"]) as fleet:
        for i in range(2000):
            assert fleet.publish_topic("pingan/v1/devices/noisy/event", bytes([i % 256]) * (i % 300))
        fleet.publish_event("noisy", "duress")
    assert consumer.wait_count(1, timeout=30)
    deadline = time.monotonic() + 15
    while hub.metric("hub_signals_total", source="mqtt", result="rejected") < 2000 and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    assert hub.metric("hub_signals_total", source="mqtt", result="rejected") == 2000
    assert hub.api.get("/healthz").status_code == 200


def _all(hub: HubProcess, path: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    cursor = None
    while True:
        page = hub.api.get(path, params={"limit": 7, **({"cursor": cursor} if cursor else {})}).json()
        items += page["items"]
        cursor = page["next"]
        if cursor is None:
            return items

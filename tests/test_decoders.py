"""The two MQTT decoders: the hub's own JSON format and zigbee2mqtt state messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from paho.mqtt.client import topic_matches_sub

from drivers.base import Decoded, Inbound
from drivers.pingan_mqtt import PinganMqtt
from drivers.pingan_mqtt import Settings as PinganSettings
from drivers.zigbee2mqtt import Settings as ZigbeeSettings
from drivers.zigbee2mqtt import Zigbee2Mqtt
from hub.errors import Rejected, Unregistered
from hub.model import Category, Device, Heartbeat, Qualifier, Signal, Source
from hub.registry import Registry

NOW = datetime(2026, 11, 29, 3, 0, 5, tzinfo=UTC)


def device(device_id: str, protocol: str = "mqtt", topic: str | None = None) -> Device:
    return Device(id=device_id, site_id="shop-17", protocol=protocol, account=None, topic=topic,
                  supervision_s=60, test_mode=False)


REGISTRY = Registry.build([], [], [device("panel-7"),
                                   device("z-door", "zigbee2mqtt", "zigbee2mqtt/front_door"),
                                   device("z-sos", "zigbee2mqtt", "zigbee2mqtt/sos_button")])


def inbound(topic: str, payload: bytes | str) -> Inbound:
    return Inbound(topic=topic, payload=payload.encode() if isinstance(payload, str) else payload,
                   received_at=NOW)


# -- pingan/v1/devices/{id}/event|heartbeat ---------------------------------------------------------------

@pytest.fixture
def pingan() -> PinganMqtt:
    return PinganMqtt(PinganSettings())


def event(decoder: PinganMqtt, payload: bytes | str, device_id: str = "panel-7") -> Signal:
    decoded = decoder.decode(inbound(f"pingan/v1/devices/{device_id}/event", payload), REGISTRY)
    assert decoded.device_id == device_id and len(decoded.items) == 1
    item = decoded.items[0]
    assert isinstance(item, Signal)
    return item


def rejected(decoder: PinganMqtt, payload: bytes | str, device_id: str = "panel-7") -> Rejected:
    with pytest.raises(Rejected) as caught:
        decoder.decode(inbound(f"pingan/v1/devices/{device_id}/event", payload), REGISTRY)
    return caught.value


def test_topics(pingan: PinganMqtt) -> None:
    assert pingan.subscriptions() == ["pingan/v1/devices/+/event", "pingan/v1/devices/+/heartbeat"]
    assert pingan.accepts("pingan/v1/devices/panel-7/event")
    assert not pingan.accepts("zigbee2mqtt/front_door")
    other = PinganMqtt(PinganSettings(prefix="nanjing"))
    assert other.subscriptions() == ["nanjing/v1/devices/+/event", "nanjing/v1/devices/+/heartbeat"]
    assert not other.accepts("pingan/v1/devices/panel-7/event")


def test_the_contract_example_event(pingan: PinganMqtt) -> None:
    raw = ('{"event": "burglary", "qualifier": "new", "zone": "3", "partition": "1", '
           '"ts": "2026-11-29T03:00:00+08:00", "id": "panel-7-000123", "text": "back door"}')
    assert event(pingan, raw) == Signal(
        source=Source.MQTT, device_id="panel-7", category=Category.BURGLARY, qualifier=Qualifier.NEW,
        zone="3", partition="1", device_time=datetime(2026, 11, 28, 19, 0, tzinfo=UTC), received_at=NOW,
        msg_id="panel-7-000123", code="", text="back door", raw=raw.encode())


def test_defaults_numbers_and_restores(pingan: PinganMqtt) -> None:
    minimal = event(pingan, '{"event": "panic"}')
    assert (minimal.category, minimal.qualifier, minimal.zone, minimal.partition, minimal.device_time,
            minimal.msg_id, minimal.text) == (Category.PANIC, Qualifier.NEW, "", "", None, None, "")
    numbers = event(pingan, '{"event": "fire", "zone": 12, "partition": 2, "qualifier": "restore"}')
    assert (numbers.zone, numbers.partition, numbers.qualifier) == ("12", "2", Qualifier.RESTORE)
    status = event(pingan, '{"event": "ac_loss", "qualifier": "status", "ts": "2026-11-29T03:00:00Z"}')
    assert status.qualifier is Qualifier.STATUS
    assert status.device_time == datetime(2026, 11, 29, 3, tzinfo=UTC)
    extra = event(pingan, '{"event": "gas", "firmware": "2.1", "rssi": -70}')  # newer senders' extra fields
    assert extra.category is Category.GAS


@pytest.mark.parametrize("name", ["burglary", "panic", "duress", "fire", "medical", "gas", "water", "tamper",
                                  "ac_loss", "low_battery", "comm_fault", "open", "close", "bypass", "test"])
def test_every_contract_event_name(pingan: PinganMqtt, name: str) -> None:
    assert event(pingan, f'{{"event": "{name}"}}').category == Category(name)


def test_a_contact_id_event(pingan: PinganMqtt) -> None:
    sig = event(pingan, '{"cid": "1130 01 003", "id": "m-1", "ts": "2026-11-29T11:00:00+08:00"}')
    assert (sig.category, sig.qualifier, sig.code, sig.partition, sig.zone, sig.msg_id) == \
        (Category.BURGLARY, Qualifier.NEW, "130", "1", "3", "m-1")
    assert sig.device_time == datetime(2026, 11, 29, 3, tzinfo=UTC)
    restore = event(pingan, '{"cid": "3101 00 012"}')
    assert (restore.category, restore.qualifier, restore.code, restore.zone) == \
        (Category.MEDICAL, Qualifier.RESTORE, "101", "12")
    closing = event(pingan, '{"cid": "3401 01 007"}')
    assert (closing.category, closing.qualifier, closing.zone) == (Category.CLOSE, Qualifier.NEW, "7")


def test_a_heartbeat_is_any_payload(pingan: PinganMqtt) -> None:
    for payload in (b'{"battery": 87}', b"", b"\xff\xfe not even text"):
        decoded = pingan.decode(inbound("pingan/v1/devices/panel-7/heartbeat", payload), REGISTRY)
        assert decoded == Decoded(device_id="panel-7", items=(
            Heartbeat(source=Source.MQTT, device_id="panel-7", received_at=NOW),))


def test_an_unregistered_device(pingan: PinganMqtt) -> None:
    for kind in ("event", "heartbeat"):
        with pytest.raises(Unregistered) as caught:
            pingan.decode(inbound(f"pingan/v1/devices/ghost-9/{kind}", '{"event": "burglary"}'), REGISTRY)
        assert caught.value.device_key == "ghost-9"


@pytest.mark.parametrize("topic", ["pingan/v1/devices/panel-7/status", "pingan/v1/devices/panel-7",
                                   "pingan/v1/devices//event", "pingan/v1/devices/panel-7/event/extra"])
def test_a_topic_outside_the_format_is_rejected(pingan: PinganMqtt, topic: str) -> None:
    with pytest.raises(Rejected) as caught:
        pingan.decode(inbound(topic, '{"event": "burglary"}'), REGISTRY)
    assert caught.value.reason == "bad_topic"


@pytest.mark.parametrize(("payload", "reason"), [
    (b"not json", "not_json"),
    (b'{"event": "burglary"', "not_json"),
    (b"", "not_json"),
    (b'{"event": "burglary", "text": "caf\xe9"}', "bad_encoding"),   # Latin-1, not UTF-8
    (b"\xff\xfe{}", "bad_encoding"),
    (b'["burglary"]', "not_an_object"),
    (b'"burglary"', "not_an_object"),
    (b"42", "not_an_object"),
    (b"null", "not_an_object"),
    (b'{"event": "alien_invasion"}', "unknown_event"),
    (b'{"event": "Burglary"}', "unknown_event"),
    (b'{"event": "fire", "ts": "2026-11-29T03:00:00"}', "time_without_zone"),
    (b'{"event": "fire", "zone": ["3"]}', "bad_field"),
    (b'{"event": "fire", "zone": {"id": 3}}', "bad_field"),
    (b'{"event": "fire", "zone": 1.5}', "bad_field"),
    (b'{"event": "fire", "zone": true}', "bad_field"),
    (b'{"event": "fire", "qualifier": "maybe"}', "bad_field"),
    (b'{"event": "fire", "ts": "yesterday"}', "bad_field"),
    (b'{"event": "fire", "ts": 1764385200}', "bad_field"),
    (b'{"event": "fire", "id": ""}', "bad_field"),
    (b'{"event": "fire", "id": 123}', "bad_field"),
    (b'{"event": 7}', "bad_field"),
    (b'{"event": "fire", "cid": "1110 01 001"}', "bad_field"),      # both
    (b"{}", "bad_field"),                                            # neither
    (b'{"qualifier": "new", "zone": "3"}', "bad_field"),
    (b'{"cid": "1130 1 003"}', "bad_contact_id"),
    (b'{"cid": "2130 01 003"}', "bad_contact_id"),
    (b'{"cid": "abcd ef ghi"}', "bad_contact_id"),
    (b'{"cid": 1130001003}', "bad_field"),
    (b'{"event": "fire", "text": "back\\u0000door"}', "bad_field"),   # no database can keep NUL in text
    (b'{"event": "fire", "zone": "3\\u0000"}', "bad_field"),
])
def test_rejections_carry_their_reason(pingan: PinganMqtt, payload: bytes, reason: str) -> None:
    exc = rejected(pingan, payload)
    assert exc.reason == reason, exc
    assert exc.device_id == "panel-7"  # the device was heard, even if not understood
    assert len(exc.detail) <= 500


def test_a_long_text_is_rejected_not_truncated(pingan: PinganMqtt) -> None:
    assert rejected(pingan, '{"event": "fire", "text": "' + "x" * 501 + '"}').reason == "bad_field"
    assert event(pingan, '{"event": "fire", "text": "' + "x" * 500 + '"}').text == "x" * 500


# -- zigbee2mqtt -----------------------------------------------------------------------------------------

@pytest.fixture
def zigbee() -> Zigbee2Mqtt:
    return Zigbee2Mqtt(ZigbeeSettings())


def state(decoder: Zigbee2Mqtt, payload: str, topic: str = "zigbee2mqtt/front_door") -> list[tuple[str, str]]:
    """The signals of one state message as (category, qualifier); checks the heartbeat that comes first."""
    decoded = decoder.decode(inbound(topic, payload), REGISTRY)
    device_id = REGISTRY.by_topic[topic].id
    assert decoded.device_id == device_id
    heartbeat, *signals = decoded.items
    assert heartbeat == Heartbeat(source=Source.ZIGBEE2MQTT, device_id=device_id, received_at=NOW)
    assert all(isinstance(s, Signal) and s.source is Source.ZIGBEE2MQTT and s.device_id == device_id
               and s.received_at == NOW and s.raw == payload.encode() for s in signals)
    return [(s.category.value, s.qualifier.value) for s in signals if isinstance(s, Signal)]


def test_zigbee_topics(zigbee: Zigbee2Mqtt) -> None:
    assert zigbee.subscriptions() == ["zigbee2mqtt/#"]  # friendly names may contain "/"
    assert zigbee.accepts("zigbee2mqtt/front_door") and not zigbee.accepts("pingan/v1/devices/x/event")
    assert Zigbee2Mqtt(ZigbeeSettings(base_topic="z2m")).subscriptions() == ["z2m/#"]


def test_contact_true_is_closed(zigbee: Zigbee2Mqtt) -> None:
    assert state(zigbee, '{"contact": true, "battery": 90, "linkquality": 120}') == []   # first sight, normal
    assert state(zigbee, '{"contact": false, "battery": 90}') == [("burglary", "new")]
    assert state(zigbee, '{"contact": false, "battery": 89}') == []                       # unchanged
    assert state(zigbee, '{"contact": true, "battery": 89}') == [("burglary", "restore")]
    assert state(zigbee, '{"contact": true, "battery": 89}') == []


def test_first_sight_of_an_alarm_state_raises_it(zigbee: Zigbee2Mqtt) -> None:
    assert state(zigbee, '{"contact": false, "tamper": true, "smoke": false}') == \
        [("burglary", "new"), ("tamper", "new")]


def test_every_field_rises_and_restores(zigbee: Zigbee2Mqtt) -> None:
    normal = {"contact": True, "occupancy": False, "tamper": False, "smoke": False, "water_leak": False,
              "gas": False, "carbon_monoxide": False, "battery_low": False, "battery": 90}
    categories = {"contact": "burglary", "occupancy": "burglary", "tamper": "tamper", "smoke": "fire",
                  "water_leak": "water", "gas": "gas", "carbon_monoxide": "gas", "battery_low": "low_battery"}
    assert state(zigbee, json.dumps(normal)) == []
    for field, category in categories.items():
        alarm = {**normal, field: not normal[field]}
        assert state(zigbee, json.dumps(alarm)) == [(category, "new")], field
        assert state(zigbee, json.dumps(normal)) == [(category, "restore")], field


def test_zones_name_the_field(zigbee: Zigbee2Mqtt) -> None:
    payload = '{"occupancy": true, "contact": false}'
    decoded = zigbee.decode(inbound("zigbee2mqtt/front_door", payload), REGISTRY)
    signals = [s for s in decoded.items if isinstance(s, Signal)]
    assert {(s.zone, s.code) for s in signals} == {("occupancy", "occupancy"), ("contact", "contact")}


@pytest.mark.parametrize("action", ["emergency", "SOS", "panic"])
def test_an_emergency_action_is_a_panic(zigbee: Zigbee2Mqtt, action: str) -> None:
    topic = "zigbee2mqtt/sos_button"
    assert state(zigbee, f'{{"action": "{action}", "battery": 100}}', topic) == [("panic", "new")]
    assert state(zigbee, '{"action": "", "battery": 100}', topic) == []
    assert state(zigbee, '{"action": "single"}', topic) == []
    assert state(zigbee, '{"action": 1}', topic) == []


def test_devices_are_tracked_separately(zigbee: Zigbee2Mqtt) -> None:
    assert state(zigbee, '{"tamper": true}') == [("tamper", "new")]
    assert state(zigbee, '{"tamper": true}', "zigbee2mqtt/sos_button") == [("tamper", "new")]


def test_every_registrable_state_topic_is_subscribed(zigbee: Zigbee2Mqtt) -> None:
    for topic in ("zigbee2mqtt/front_door", "zigbee2mqtt/kitchen/door"):
        assert zigbee.accepts(topic)
        assert any(topic_matches_sub(sub, topic) for sub in zigbee.subscriptions()), topic


def test_a_state_message_of_an_unregistered_topic(zigbee: Zigbee2Mqtt) -> None:
    with pytest.raises(Unregistered) as caught:
        zigbee.decode(inbound("zigbee2mqtt/garage", '{"contact": false}'), REGISTRY)
    assert caught.value.device_key == "zigbee2mqtt/garage"


@pytest.mark.parametrize(("payload", "reason"), [
    (b"online", "not_json"),
    (b"", "not_json"),
    (b'{"contact": ', "not_json"),
    (b'{"contact": true, "name": "caf\xe9"}', "bad_encoding"),
    (b"[true]", "not_an_object"),
    (b"true", "not_an_object"),
    (b"null", "not_an_object"),
])
def test_zigbee_rejections(zigbee: Zigbee2Mqtt, payload: bytes, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        zigbee.decode(inbound("zigbee2mqtt/front_door", payload), REGISTRY)
    assert (caught.value.reason, caught.value.device_id) == (reason, "z-door")


def test_a_rejected_message_does_not_disturb_the_transitions(zigbee: Zigbee2Mqtt) -> None:
    assert state(zigbee, '{"contact": false}') == [("burglary", "new")]
    with pytest.raises(Rejected):
        zigbee.decode(inbound("zigbee2mqtt/front_door", b"garbage"), REGISTRY)
    assert state(zigbee, '{"contact": false}') == []
    assert state(zigbee, '{"contact": true}') == [("burglary", "restore")]


def test_a_field_first_seen_in_a_later_message_follows_the_first_sight_rule(zigbee: Zigbee2Mqtt) -> None:
    assert state(zigbee, '{"battery": 90, "linkquality": 100}') == []
    assert state(zigbee, '{"contact": true, "battery": 90}') == [], "first sight of a normal state"
    assert state(zigbee, '{"contact": false}') == [("burglary", "new")]
    assert state(zigbee, '{"battery": 80}') == []
    assert state(zigbee, '{"contact": false, "battery": 80}') == [], "still open: nothing new"


def test_zigbee2mqtt_own_topics_and_commands_are_not_reports(zigbee: Zigbee2Mqtt) -> None:
    for topic in ("zigbee2mqtt/bridge/state", "zigbee2mqtt/bridge/logging", "zigbee2mqtt/front_door/set",
                  "zigbee2mqtt/front_door/get"):
        nothing = Decoded(device_id=None, items=())
        assert zigbee.decode(inbound(topic, '{"state": "online"}'), REGISTRY) == nothing


def test_zigbee2mqtt_availability_online_is_a_sign_of_life(zigbee: Zigbee2Mqtt) -> None:
    online = zigbee.decode(inbound("zigbee2mqtt/front_door/availability", "online"), REGISTRY)
    offline = zigbee.decode(inbound("zigbee2mqtt/front_door/availability", "offline"), REGISTRY)
    assert online == Decoded(device_id=REGISTRY.by_topic["zigbee2mqtt/front_door"].id, items=())
    assert offline == Decoded(device_id=None, items=())
    with pytest.raises(Unregistered):
        zigbee.decode(inbound("zigbee2mqtt/garage/availability", "online"), REGISTRY)

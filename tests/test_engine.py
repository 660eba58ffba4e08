"""The alarm engine, driven directly with signals: what becomes an alarm, how urgent, for which
center, and exactly which rows one decision writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.engine import CC_SINK, Engine
from hub.message import AlarmMessage, with_sent_at
from hub.model import (
    AlarmState,
    Camera,
    Category,
    Center,
    Change,
    Device,
    Evidence,
    Qualifier,
    Signal,
    SignalResult,
    Site,
    Source,
)
from hub.registry import Registry
from hub.writes import Writes

T0 = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
DEFAULT_CENTER = "110-default"


def device(device_id: str, site_id: str = "shop-17", *, test_mode: bool = False) -> Device:
    return Device(id=device_id, site_id=site_id, protocol="mqtt", account=None, topic=None,
                  supervision_s=None, test_mode=test_mode)


def site(site_id: str, center_id: str | None) -> Site:
    return Site(id=site_id, name=f"Shop {site_id}", kind="shop", address="17 Zhongshan Rd", lat=32.05,
                lon=118.78, door_plate="No. 17", pole="P-17", center_id=center_id)


@pytest.fixture
def engine() -> Engine:
    registry = Registry.build(
        centers=[Center(id="110-city", name="City", kind="110", parent_id=None, ack_deadline_s=120),
                 Center(id="station-gulou", name="Gulou", kind="station", parent_id="110-city",
                        ack_deadline_s=60)],
        sites=[site("shop-17", "110-city"), site("shop-18", "station-gulou"), site("kiosk-1", None),
               site("kiosk-2", "closed-center")],
        devices=[device("panel-7"), device("panel-8", "shop-18"), device("tech-1", test_mode=True),
                 device("kiosk-panel", "kiosk-1"), device("lost-panel", "kiosk-2"),
                 device("orphan", "no-such-site")],
    )
    e = Engine(prefix="pingan", default_center=DEFAULT_CENTER)
    e.load(registry, [], [])
    return e


def signal(category: Category | str, *, device_id: str = "panel-7", qualifier: Qualifier = Qualifier.NEW,
           zone: str = "3", msg_id: str | None = None, at: datetime = T0, **extra: Any) -> Signal:
    return Signal(source=extra.pop("source", Source.MQTT), device_id=device_id, category=Category(category),
                  qualifier=qualifier, zone=zone, partition="1", received_at=at, msg_id=msg_id,
                  raw=b"{}", **extra)


def apply(engine: Engine, sig: Signal) -> tuple[Any, Writes]:
    writes = Writes()
    return engine.apply(sig, writes), writes


def only_signal_rows(writes: Writes) -> bool:
    return bool(writes.signals) and not (writes.alarms_new or writes.alarms_changed or writes.history
                                         or writes.deliveries or writes.dead_letters or writes.unregistered
                                         or writes.devices_seen)


def delivered(writes: Writes) -> list[dict[str, Any]]:
    return [json.loads(d["payload"]) for d in writes.deliveries]


PRIORITIES = {
    "panic": (1, "110"), "duress": (1, "110"), "fire": (1, "119"), "medical": (1, "120"),
    "burglary": (2, "110"), "gas": (2, "119"), "tamper": (3, "110"), "water": (3, "110"),
    "unknown": (3, "110"), "ac_loss": (4, "110"), "low_battery": (4, "110"), "comm_fault": (4, "110"),
}


@pytest.mark.parametrize(("category", "expected"), sorted(PRIORITIES.items()))
def test_a_new_alarm_is_one_delivery_with_its_priority(engine: Engine, category: str,
                                                       expected: tuple[int, str]) -> None:
    outcome, writes = apply(engine, signal(category))
    assert (outcome.result, outcome.change) == (SignalResult.ACCEPTED, Change.NEW)
    assert len(writes.alarms_new) == 1 and not writes.alarms_changed
    assert len(writes.deliveries) == 1
    d = writes.deliveries[0]
    assert (d["sink"], d["target"], d["priority"], d["seq"], d["pending"], d["attempts"]) == \
        (CC_SINK, "pingan/v1/cc/110-city/alarms", expected[0], 1, True, 0)
    msg = delivered(writes)[0]
    assert (msg["category"], msg["priority"], msg["agency"]) == (category, *expected)
    assert (msg["change"], msg["state"], msg["seq"], msg["signals"]) == ("new", "new", 1, 1)
    assert msg["alarm_id"] == outcome.alarm.id == d["alarm_id"]
    assert [(h["seq"], h["change"], h["state"]) for h in writes.history] == [(1, "new", "new")]
    assert [(s["result"], s["alarm_id"]) for s in writes.signals] == [("accepted", outcome.alarm.id)]


def test_the_110_message_validates_and_locates_the_site(engine: Engine) -> None:
    device_time = T0 - timedelta(seconds=4)
    _, writes = apply(engine, signal("burglary", device_time=device_time, at=T0, msg_id="m-1"))
    payload = writes.deliveries[0]["payload"]
    message = AlarmMessage.model_validate_json(payload)
    AlarmMessage.model_validate_json(with_sent_at(payload, T0 + timedelta(seconds=1)))
    assert message.site.model_dump() == {"id": "shop-17", "name": "Shop shop-17",
                                         "address": "17 Zhongshan Rd", "lat": 32.05, "lon": 118.78,
                                         "door_plate": "No. 17", "pole": "P-17"}
    assert message.source.model_dump() == {"kind": "device", "id": "panel-7", "zone": "3"}
    assert (message.raised_at, message.received_at) == \
        ("2026-11-29T02:59:56.000Z", "2026-11-29T03:00:00.000Z")
    assert (message.test, message.restored, message.verified, message.center_id) == \
        (False, False, False, "110-city")
    assert message.evidence == [] and message.sent_at is None


def test_a_repeated_message_id_is_a_duplicate_that_writes_nothing(engine: Engine) -> None:
    first, _ = apply(engine, signal("burglary", msg_id="panel-7-000123"))
    again, writes = apply(engine, signal("burglary", msg_id="panel-7-000123", at=T0 + timedelta(seconds=5)))
    assert again.result is SignalResult.DUPLICATE and again.alarm is None and again.change is None
    assert not writes
    # The same id from another device is another message.
    other, writes = apply(engine, signal("burglary", device_id="panel-8", msg_id="panel-7-000123"))
    assert other.change is Change.NEW and len(writes.deliveries) == 1
    assert first.alarm.id != other.alarm.id


def test_a_repeat_while_open_is_merged_without_a_delivery(engine: Engine) -> None:
    first, _ = apply(engine, signal("burglary", msg_id="a"))
    later = T0 + timedelta(seconds=30)
    repeat, writes = apply(engine, signal("burglary", msg_id="b", at=later))
    assert (repeat.result, repeat.change) == (SignalResult.DUPLICATE, None)
    assert repeat.alarm is first.alarm
    assert not writes.deliveries and not writes.history and not writes.alarms_new
    row = writes.alarms_changed[first.alarm.id]
    stored = json.loads(row["message"])
    assert (row["signals"], row["seq"], row["updated_at"], stored["signals"]) == (2, 1, later, 2)
    assert [(s["result"], s["alarm_id"]) for s in writes.signals] == [("duplicate", first.alarm.id)]
    _, writes = apply(engine, signal("burglary", at=later))
    assert writes.alarms_changed[first.alarm.id]["signals"] == 3


def test_another_zone_or_category_is_another_alarm(engine: Engine) -> None:
    a, _ = apply(engine, signal("burglary", zone="3"))
    b, wb = apply(engine, signal("burglary", zone="4"))
    c, wc = apply(engine, signal("tamper", zone="3"))
    assert (b.change, c.change) == (Change.NEW, Change.NEW)
    assert len({a.alarm.id, b.alarm.id, c.alarm.id}) == 3
    assert len(wb.deliveries) == len(wc.deliveries) == 1


def test_restore_then_rearm(engine: Engine) -> None:
    new, _ = apply(engine, signal("burglary"))
    restored, writes = apply(engine, signal("burglary", qualifier=Qualifier.RESTORE,
                                            at=T0 + timedelta(seconds=10)))
    assert (restored.result, restored.change, restored.alarm.id) == (SignalResult.ACCEPTED, Change.RESTORED,
                                                                     new.alarm.id)
    msg = delivered(writes)[0]
    assert (msg["seq"], msg["change"], msg["restored"], msg["signals"], msg["state"]) == \
        (2, "restored", True, 2, "new")
    assert writes.deliveries[0]["seq"] == 2
    assert [(h["seq"], h["change"]) for h in writes.history] == [(2, "restored")]
    assert writes.alarms_changed[new.alarm.id]["restored"] is True

    again, writes = apply(engine, signal("burglary", qualifier=Qualifier.RESTORE,
                                         at=T0 + timedelta(seconds=11)))
    assert (again.result, again.change) == (SignalResult.ACCEPTED, None)
    assert not writes.deliveries and writes.alarms_changed[new.alarm.id]["signals"] == 3

    rearmed, writes = apply(engine, signal("burglary", at=T0 + timedelta(seconds=20)))
    assert (rearmed.result, rearmed.change, rearmed.alarm.id) == (SignalResult.ACCEPTED, Change.UPDATED,
                                                                  new.alarm.id)
    msg = delivered(writes)[0]
    assert (msg["seq"], msg["change"], msg["restored"], msg["signals"]) == (3, "updated", False, 4)


def test_the_restore_of_nothing_is_logged_only(engine: Engine) -> None:
    outcome, writes = apply(engine, signal("panic", qualifier=Qualifier.RESTORE))
    assert (outcome.result, outcome.alarm, outcome.change) == (SignalResult.ACCEPTED, None, None)
    assert only_signal_rows(writes)
    assert [(s["category"], s["qualifier"], s["result"], s["alarm_id"]) for s in writes.signals] == \
        [("panic", "restore", "accepted", None)]
    # Without device times, a later alarm is an ordinary new one.
    later, writes = apply(engine, signal("panic", at=T0 + timedelta(seconds=5)))
    assert later.change is Change.NEW and [m["change"] for m in delivered(writes)] == ["new"]


def test_a_restore_that_overtook_its_alarm_restores_it_on_arrival(engine: Engine) -> None:
    apply(engine, signal("burglary", qualifier=Qualifier.RESTORE, device_time=T0 + timedelta(seconds=5)))
    outcome, writes = apply(engine, signal("burglary", device_time=T0, at=T0 + timedelta(seconds=6)))
    assert outcome.change is Change.NEW
    assert [(m["seq"], m["change"], m["restored"]) for m in delivered(writes)] == \
        [(1, "new", False), (2, "restored", True)]
    # A restore older than the alarm does not restore it.
    apply(engine, signal("fire", qualifier=Qualifier.RESTORE, device_time=T0))
    _, writes = apply(engine, signal("fire", device_time=T0 + timedelta(seconds=1)))
    assert [m["change"] for m in delivered(writes)] == ["new"]


@pytest.mark.parametrize("category", ["open", "close", "bypass", "test", "cancel"])
def test_log_only_categories_are_a_signal_row_and_nothing_else(engine: Engine, category: str) -> None:
    outcome, writes = apply(engine, signal(category, zone="5"))
    assert (outcome.result, outcome.alarm, outcome.change) == (SignalResult.ACCEPTED, None, None)
    assert [(s["category"], s["result"], s["alarm_id"], s["zone"]) for s in writes.signals] == \
        [(category, "accepted", None, "5")]
    assert only_signal_rows(writes)
    assert engine.open == {}


def test_a_test_mode_device_raises_an_alarm_no_center_receives(engine: Engine) -> None:
    outcome, writes = apply(engine, signal("fire", device_id="tech-1"))
    assert outcome.change is Change.NEW
    row = writes.alarms_new[outcome.alarm.id]
    assert (row["test"], row["category"], row["priority"]) == (True, "fire", 1)
    assert json.loads(row["message"])["test"] is True
    assert writes.deliveries == []
    assert [h["change"] for h in writes.history] == ["new"]
    _, writes = apply(engine, signal("fire", device_id="tech-1", qualifier=Qualifier.RESTORE))
    assert writes.deliveries == [] and [h["change"] for h in writes.history] == ["restored"]


@pytest.mark.parametrize(("device_id", "center"), [
    ("panel-7", "110-city"),            # the site's center
    ("panel-8", "station-gulou"),
    ("kiosk-panel", DEFAULT_CENTER),    # a site without a center
    ("lost-panel", DEFAULT_CENTER),     # a site whose center is not (or no longer) registered
    ("orphan", DEFAULT_CENTER),         # a device whose site is unknown
])
def test_alarms_go_to_the_center_of_their_site_or_the_default(engine: Engine, device_id: str,
                                                               center: str) -> None:
    outcome, writes = apply(engine, signal("burglary", device_id=device_id))
    assert writes.deliveries[0]["target"] == f"pingan/v1/cc/{center}/alarms"
    assert outcome.alarm.center_id == center == delivered(writes)[0]["center_id"]


def test_an_unknown_site_still_gives_a_valid_message(engine: Engine) -> None:
    _, writes = apply(engine, signal("burglary", device_id="orphan"))
    message = AlarmMessage.model_validate_json(writes.deliveries[0]["payload"])
    assert message.site.model_dump() == {"id": "no-such-site", "name": None, "address": None, "lat": None,
                                         "lon": None, "door_plate": None, "pole": None}


def test_supervision_faults_are_alarms_of_the_supervisor(engine: Engine) -> None:
    outcome, writes = apply(engine, signal("comm_fault", zone="", source=Source.SUPERVISOR))
    assert delivered(writes)[0]["source"] == {"kind": "supervisor", "id": "panel-7", "zone": ""}
    AlarmMessage.model_validate_json(writes.deliveries[0]["payload"])
    assert writes.signals[0]["source"] == "supervisor" and outcome.alarm.priority == 4


def test_mark_delivered_moves_new_to_delivered_only(engine: Engine) -> None:
    first, _ = apply(engine, signal("burglary"))
    second, _ = apply(engine, signal("fire"))
    second.alarm.state = AlarmState.ACKNOWLEDGED  # as an operator's acknowledgement would leave it
    engine.mark_delivered([first.alarm.id, second.alarm.id, "01JDZUNKNOWN0000000000000"])
    assert first.alarm.state is AlarmState.DELIVERED and second.alarm.state is AlarmState.ACKNOWLEDGED
    engine.mark_delivered([first.alarm.id])  # a redelivery changes nothing
    assert first.alarm.state is AlarmState.DELIVERED
    # The next change of the alarm carries the state it has now.
    _, writes = apply(engine, signal("burglary", qualifier=Qualifier.RESTORE))
    assert delivered(writes)[0]["state"] == "delivered"


def test_signal_rows_keep_what_the_source_said(engine: Engine) -> None:
    device_time = T0 - timedelta(seconds=2)
    sig = Signal(source=Source.MQTT, device_id="panel-7", category=Category.BURGLARY, zone="3", partition="1",
                 device_time=device_time, received_at=T0, msg_id="m-9", code="130", text="back door " * 100,
                 raw=b'{"cid": "1130 01 003"}')
    _, writes = apply(engine, sig)
    row = writes.signals[0]
    assert {k: row[k] for k in ("source", "device_id", "category", "qualifier", "zone", "partition", "code",
                                "msg_id", "device_time", "received_at", "raw", "result")} == {
        "source": "mqtt", "device_id": "panel-7", "category": "burglary", "qualifier": "new", "zone": "3",
        "partition": "1", "code": "130", "msg_id": "m-9", "device_time": device_time, "received_at": T0,
        "raw": b'{"cid": "1130 01 003"}', "result": "accepted"}
    assert len(row["text"]) == 500


def test_load_rebuilds_the_open_alarms_and_the_dedup_memory(engine: Engine) -> None:
    first, _ = apply(engine, signal("burglary", msg_id="m-1"))
    rebuilt = Engine(prefix="pingan", default_center=DEFAULT_CENTER)
    rebuilt.load(engine.registry, [first.alarm], [("panel-7", "m-1")])
    assert apply(rebuilt, signal("burglary", msg_id="m-1"))[0].result is SignalResult.DUPLICATE
    repeat, writes = apply(rebuilt, signal("burglary", msg_id="m-2"))
    assert (repeat.result, repeat.alarm.id) == (SignalResult.DUPLICATE, first.alarm.id)
    _, writes = apply(rebuilt, signal("burglary", qualifier=Qualifier.RESTORE))
    assert [(m["alarm_id"], m["seq"]) for m in delivered(writes)] == [(first.alarm.id, 2)]


# -- cameras -------------------------------------------------------------------------------------------

def camera_engine(*, armed: str = "true") -> Engine:
    registry = Registry.build(
        centers=[Center(id="110-city", name="City", kind="110", parent_id=None, ack_deadline_s=120)],
        sites=[site("shop-17", "110-city")], devices=[],
        cameras=[Camera(id="cam-1", site_id="shop-17", name="Door", enabled=True, armed=armed, schedule=(),
                        offline_after_s=60, motion={}, test_mode=False)])
    e = Engine(prefix="pingan", default_center=DEFAULT_CENTER, evidence_base="http://hub.test/api/v1/alarms")
    e.load(registry, [], [])
    return e


def test_camera_motion_raises_a_located_alarm_with_its_evidence() -> None:
    e = camera_engine()
    evidence = (Evidence("snapshot", "cam-1/20261129/E1/snapshot.jpg"),
                Evidence("clip", "cam-1/20261129/E1/clip.mp4"))
    outcome, writes = apply(e, signal("video_motion", device_id="cam-1", zone="motion",
                                      source=Source.CAMERA, evidence=evidence))
    assert outcome.change is Change.NEW
    message = delivered(writes)[0]
    alarm_id = message["alarm_id"]
    assert (message["category"], message["priority"], message["site"]["id"], message["source"]) == \
        ("video_motion", 3, "shop-17", {"kind": "camera", "id": "cam-1", "zone": "motion"})
    assert message["evidence"] == [
        {"kind": "snapshot", "url": f"http://hub.test/api/v1/alarms/{alarm_id}/evidence/1.jpg"},
        {"kind": "clip", "url": f"http://hub.test/api/v1/alarms/{alarm_id}/evidence/2.mp4"}]
    assert [(r["n"], r["kind"], r["path"]) for r in writes.evidence] == [
        (1, "snapshot", evidence[0].path), (2, "clip", evidence[1].path)]
    AlarmMessage.model_validate(message)


def test_a_status_report_is_logged_never_an_alarm() -> None:
    """Motion on an unarmed camera (and any `status` report) is a signal, not an alarm."""
    e = camera_engine(armed="false")
    outcome, writes = apply(e, signal("video_motion", device_id="cam-1", zone="motion",
                                      source=Source.CAMERA, qualifier=Qualifier.STATUS))
    assert outcome.result is SignalResult.ACCEPTED and outcome.alarm is None
    assert only_signal_rows(writes)

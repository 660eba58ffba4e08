"""Nothing is lost: the hub killed mid-stream, the site broker restarted, the 110 broker away for 30 s.

Each run publishes a stream in which every (device, zone) is raised once and restored once, so each
event has exactly one place on the 110 queue: `(alarm of that device and zone, seq 1 or 2)`. The
consumer may see a message twice (at least once), but every `(alarm_id, seq)` it sees must be one of
those, and every event the broker acknowledged must be there.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from simulators.consumer import Consumer
from simulators.fleet import Fleet, GroundTruth, Step
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.servers import Mosquitto

pytestmark = pytest.mark.slow


def stream(devices: list[str], zones: int, rate: float) -> list[Step]:
    """Every (device, zone) raised, and restored ten raises later, one message every 1/`rate` s."""
    keys = [(d, str(z)) for z in range(1, zones + 1) for d in devices]
    steps = []
    for i, (device, zone) in enumerate(keys):
        steps.append(Step(device_id=device, event="burglary", zone=zone, at=2 * i / rate))
        steps.append(Step(device_id=device, event="burglary", qualifier="restore", zone=zone,
                          at=(2 * i + 21) / rate))
    return steps


@contextmanager
def publishing(fleet: Fleet, steps: list[Step]) -> Iterator[threading.Thread]:
    thread = threading.Thread(target=fleet.scripted, args=(steps,), daemon=True)
    thread.start()
    yield thread
    thread.join(120)
    assert not thread.is_alive(), "the fleet did not finish publishing"


def check_accounted(records: list[GroundTruth], consumer: Consumer, timeout: float) -> None:
    """Every acknowledged event is on the queue once per (alarm_id, seq), nothing unexplained."""
    acked = [r for r in records if r.acked]
    keys = {(r.device_id, r.zone) for r in acked}
    want = {(r.device_id, r.zone, 1 if r.qualifier == "new" else 2) for r in acked}

    def complete(_msgs: object) -> bool:
        got = {(m.data["source"]["id"], m.data["source"]["zone"], m.data["seq"])
               for m in consumer.messages() if m.data}
        return want <= got

    assert consumer.wait_for(complete, timeout=timeout), _summary(consumer, want)
    alarm_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    seen: dict[tuple[str, int], str] = {}
    for msg in consumer.messages():
        data = msg.data
        assert data is not None, msg.payload
        key = (data["source"]["id"], data["source"]["zone"])
        assert key in keys, f"an alarm nobody raised: {data}"
        assert (data["seq"], data["change"]) in ((1, "new"), (2, "restored")), data
        alarm_of[key].add(data["alarm_id"])
        previous = seen.setdefault((data["alarm_id"], data["seq"]), data["change"])
        assert previous == data["change"], "the same (alarm_id, seq) with different content"
    assert all(len(ids) == 1 for ids in alarm_of.values()), "an event raised two alarms"
    report = consumer.report()
    assert report.gaps == 0 and report.invalid == 0, report


def _summary(consumer: Consumer, want: set[tuple[str, str, int]]) -> str:
    got = {(m.data["source"]["id"], m.data["source"]["zone"], m.data["seq"])
           for m in consumer.messages() if m.data}
    missing = sorted(want - got)
    return f"{len(missing)} of {len(want)} events missing, e.g. {missing[:5]}; {consumer.report()}"


def test_hub_killed_mid_stream_loses_nothing(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    devices = [f"k-{i:03d}" for i in range(50)]
    hub.register(devices)
    steps = stream(devices, zones=20, rate=400.0)  # 2,000 events over 5 s
    assert len(steps) == 2000
    with Fleet(site_broker.url, devices) as fleet, publishing(fleet, steps):
        time.sleep(1.5)
        hub.kill()
        time.sleep(1.0)
        hub.start()
    assert sum(r.acked for r in fleet.records) == 2000
    check_accounted(fleet.records, consumer, timeout=60)
    # The restarted hub kept counting from the database, not from zero.
    listed = hub.api.get("/api/v1/alarms", params={"limit": 1000}).json()
    assert len(listed["items"]) == 1000 and listed["next"] is None


def test_site_broker_restart_loses_nothing(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    devices = [f"s-{i:03d}" for i in range(20)]
    hub.register(devices)
    steps = stream(devices, zones=20, rate=200.0)  # 800 events over 4 s
    with Fleet(site_broker.url, devices) as fleet, publishing(fleet, steps):
        time.sleep(1.0)
        site_broker.restart()
    check_accounted(fleet.records, consumer, timeout=60)
    assert sum(r.acked for r in fleet.records) == len(steps)


def test_command_center_broker_down_30s_backlog_waits_in_the_outbox(
        hub: HubProcess, site_broker: Mosquitto, cc_broker: Mosquitto, consumer: Consumer) -> None:
    devices = [f"c-{i:03d}" for i in range(10)]
    hub.register(devices)
    cc_broker.stop()
    down_at = time.monotonic()
    with Fleet(site_broker.url, devices) as fleet:
        fleet.scripted(stream(devices, zones=10, rate=100.0))  # 200 events, broker away
        for i, event in enumerate(["panic", "fire", "medical"]):  # urgent ones last
            fleet.publish_event(devices[i], event, zone="99")
    deadline = time.monotonic() + 10
    while hub.metric("hub_outbox_depth", sink="cc") < 203 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert hub.metric("hub_outbox_depth", sink="cc") == 203
    assert hub.metric("hub_sink_up", sink="cc") == 0
    assert hub.api.get("/healthz").status_code == 503  # degraded, and says why
    assert hub.api.get("/healthz").json()["cc_broker"] is False
    time.sleep(max(0.0, 30 - (time.monotonic() - down_at)))
    assert 20 < hub.metric("hub_outbox_oldest_age_seconds", sink="cc") < 40
    cc_broker.start()
    check_accounted(fleet.records, consumer, timeout=60)
    firsts = [m.data for m in consumer.messages() if m.data and not m.dup]
    assert [m["category"] for m in firsts[:3]] == ["panic", "fire", "medical"], "most urgent first"
    priorities = [m["priority"] for m in firsts]
    assert priorities == sorted(priorities), "the backlog is sent by priority, then age"
    deadline = time.monotonic() + 10
    while hub.metric("hub_outbox_depth", sink="cc") > 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert hub.metric("hub_outbox_depth", sink="cc") == 0

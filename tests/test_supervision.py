"""Supervision end to end: a silent device becomes a comm_fault alarm, its return a restore."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from simulators.consumer import Consumer
from simulators.fleet import Fleet
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.servers import Mosquitto

INTERVAL_S = 10
GRACE_S = 1.0  # set by the `hub` fixture


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_silent_device_raises_comm_fault_on_time_and_restores(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    hub.register(["quiet", "chatty"], supervision_s=INTERVAL_S)
    with Fleet(site_broker.url, ["quiet", "chatty"]) as fleet:
        fleet.publish_heartbeat("quiet")
        last_heard = first_heard = time.time()
        for _ in range(int(INTERVAL_S + GRACE_S + 4) * 2):
            fleet.publish_heartbeat("chatty")
            time.sleep(0.5)
        assert consumer.wait_count(1, timeout=5)
        fault = consumer.messages()[0]
        assert fault.data is not None
        assert (fault.data["category"], fault.data["source"]["id"], fault.data["priority"]) == \
            ("comm_fault", "quiet", 4)
        assert fault.data["source"]["kind"] == "supervisor"
        deadline = last_heard + INTERVAL_S + GRACE_S
        assert deadline - 0.5 <= fault.arrival <= deadline + 2.0, fault.arrival - deadline
        assert hub.metric("hub_device_up", device="quiet", site="site-quiet") == 0
        assert hub.metric("hub_device_up", device="chatty", site="site-chatty") == 1
        assert hub.metric("hub_device_last_seen_age_seconds", device="quiet") >= INTERVAL_S
        fleet.publish_heartbeat("quiet")
        back = time.time()
    assert consumer.wait_count(2, timeout=10)
    restore = consumer.messages()[1].data
    assert restore is not None and (restore["change"], restore["seq"]) == ("restored", 2)
    assert hub.metric("hub_device_up", device="quiet", site="site-quiet") == 1
    stored = hub.api.get("/api/v1/devices/quiet").json()
    read = time.time()
    assert stored["online"] is True and stored["last_seen_at"] is not None
    # Uptime from the stored history: offline from the fault until heard again, out of the time known.
    expected = 1 - (back - fault.arrival) / (read - first_heard)
    assert stored["uptime_24h"] == pytest.approx(expected, abs=0.08), (stored, expected)
    assert hub.api.get("/api/v1/devices/chatty").json()["uptime_24h"] == 1.0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_fault_state_survives_a_restart(hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    hub.register(["gone"], supervision_s=INTERVAL_S)
    assert consumer.wait_count(1, timeout=INTERVAL_S + GRACE_S + 5)  # never heard: faults after one interval
    hub.stop()
    hub.start()
    gone = hub.api.get("/api/v1/devices/gone").json()
    assert gone["online"] is False
    assert gone["uptime_24h"] == 0.0, "the history (offline since the fault) survives the restart"
    assert hub.metric("hub_device_up", device="gone", site="site-gone") == 0
    with Fleet(site_broker.url, ["gone"]) as fleet:
        fleet.publish_heartbeat("gone")
    assert consumer.wait_count(2, timeout=10)
    assert [m.data["change"] for m in consumer.messages() if m.data] == ["new", "restored"]
    time.sleep(1.0)
    assert len(consumer.messages()) == 2, "one fault, one restore: no repeat after the restart"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_last_seen_is_stored_in_batches_and_on_stop(hub: HubProcess, site_broker: Mosquitto) -> None:
    hub.register(["hb-1"], supervision_s=3600)
    with Fleet(site_broker.url, ["hb-1"]) as fleet:
        fleet.publish_heartbeat("hb-1")  # heard for the first time: online, a state change, stored now
        time.sleep(0.5)
        first = hub.api.get("/api/v1/devices/hb-1").json()
        assert first["online"] is True and first["last_seen_at"] is not None
        time.sleep(1.0)
        fleet.publish_heartbeat("hb-1")
    time.sleep(0.5)
    # Not one commit a heartbeat: the second is kept for the next batch of "last seen" times.
    assert hub.api.get("/api/v1/devices/hb-1").json()["last_seen_at"] == first["last_seen_at"]
    heard = time.time()
    assert hub.stop() == 0
    hub.start()
    stored = hub.api.get("/api/v1/devices/hb-1").json()
    assert stored["online"] is True
    seen = datetime.fromisoformat(stored["last_seen_at"]).timestamp()
    assert heard - 2 < seen <= heard

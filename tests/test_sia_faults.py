"""SIA panels keep transmitting while the hub is killed (SIGKILL) and restarted: every event a panel
was acknowledged is on the 110 queue, and every event is stored once, however often the panel had to
repeat it (store, then ACK; a repeat is recognised by its sequence number and content)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from drivers.sia_dc09 import codec
from simulators.consumer import Consumer
from simulators.sia_panel import Panel, Reply
from tests.fixtures import stored
from tests.fixtures.hubproc import HubProcess

pytestmark = pytest.mark.slow

PANELS = 20
EVENTS = 25  # per panel, zones 1..25
KEY = "00112233445566778899AABBCCDDEEFF"  # AES-128 as hex, for every other panel


def account(i: int) -> str:
    return f"7{i:03d}"


def register(hub: HubProcess) -> None:
    hub.post("/api/v1/centers", {"id": "110-k", "name": "110", "kind": "110"})
    for i in range(PANELS):
        hub.post("/api/v1/sites", {"id": f"s-{i}", "name": f"Shop {i}", "address": "1 Rd", "lat": 32.0,
                                   "lon": 118.8, "door_plate": "", "pole": "", "center_id": "110-k"})
        body = {"id": f"sia-{i}", "site_id": f"s-{i}", "protocol": "sia", "account": account(i)}
        if i % 2:
            body["key"] = KEY
        hub.post("/api/v1/devices", body)


def transmit(hub: HubProcess, i: int, replies: list[Reply]) -> None:
    """One panel's events, one at a time, each repeated until answered (panels retry for minutes)."""
    key = codec.parse_key(KEY) if i % 2 else None
    transport = "udp" if i % 4 == 3 else "tcp"
    with Panel("127.0.0.1", hub.sia_port, account(i), key=key, transport=transport, timeout=1.0,
               retries=60) as panel:
        for zone in range(1, EVENTS + 1):
            replies.append(panel.event("BA", zone))
            time.sleep(0.02)


def stored_signals(database_url: str) -> Counter[tuple[str, str]]:
    rows = stored.query(database_url, "SELECT device_id, zone FROM signals WHERE device_id LIKE 'sia-%'")
    return Counter((r.device_id, r.zone) for r in rows)


def test_hub_killed_while_panels_transmit_loses_nothing_and_stores_each_event_once(
        hub: HubProcess, consumer: Consumer, database_url: str) -> None:
    register(hub)
    replies: list[list[Reply]] = [[] for _ in range(PANELS)]
    threads = [threading.Thread(target=transmit, args=(hub, i, replies[i]), daemon=True)
               for i in range(PANELS)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    hub.kill()
    killed_after = sum(len(r) for r in replies)
    time.sleep(1.5)
    hub.start()
    for thread in threads:
        thread.join(180)
    assert not any(t.is_alive() for t in threads), "a panel never got its answers"
    assert 0 < killed_after < PANELS * EVENTS, "the kill did not fall while the panels were transmitting"
    kinds = Counter(r.kind for panel in replies for r in panel)
    assert kinds == {"ACK": PANELS * EVENTS}, kinds
    assert any(r.tries > 1 for panel in replies for r in panel), "no panel had to repeat: the kill missed"
    # Every acknowledged event is on the 110 queue, as one alarm.
    want = {(f"sia-{i}", str(z)) for i in range(PANELS) for z in range(1, EVENTS + 1)}

    def complete(_messages: object) -> bool:
        return want <= {(m.data["source"]["id"], m.data["source"]["zone"]) for m in consumer.messages()
                        if m.data and m.data["change"] == "new"}

    assert consumer.wait_for(complete, timeout=60), consumer.report()
    alarms: dict[tuple[str, str], set[str]] = {}
    for m in consumer.messages():
        if m.data:
            key = (m.data["source"]["id"], m.data["source"]["zone"])
            alarms.setdefault(key, set()).add(m.data["alarm_id"])
    assert all(len(ids) == 1 for ids in alarms.values()), "an event raised two alarms"
    # Stored once each, repeats and all.
    stored = stored_signals(database_url)
    assert set(stored) == want and set(stored.values()) == {1}, stored.most_common(3)

"""The forwarder runs in a child process: it dies with the hub, and a dead one is replaced."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from simulators.consumer import Consumer
from simulators.fleet import Fleet
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.servers import Mosquitto


def children(pid: int) -> list[int]:
    """The hub's forwarder processes (multiprocessing also starts a resource tracker: not that one)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                found.append(int(child))
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_killed_forwarder_is_replaced_and_nothing_is_lost(
        hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    assert hub.proc is not None
    hub.register(["f-1"])
    [child] = children(hub.proc.pid)
    os.kill(child, signal.SIGKILL)
    with Fleet(site_broker.url, ["f-1"]) as fleet:
        fleet.publish_event("f-1", "panic")
        fleet.publish_event("f-1", "fire")
    assert consumer.wait_count(2, timeout=20), hub.log()[-2000:]
    assert sorted(m.data["category"] for m in consumer.messages() if m.data) == ["fire", "panic"]
    [replacement] = children(hub.proc.pid)
    assert replacement != child and "ended unexpectedly" in hub.log()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_forwarder_does_not_outlive_a_killed_hub(hub: HubProcess) -> None:
    assert hub.proc is not None
    [child] = children(hub.proc.pid)
    hub.kill()
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child)

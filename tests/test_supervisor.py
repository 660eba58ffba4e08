"""Device supervision: a device silent past `last heard + supervision_s + grace` faults once, and the
next message from it restores it. Deadlines live in a lazy heap, checked here against a naive model."""

from __future__ import annotations

import heapq
import math
import random

import pytest

from hub.model import Category, Device, Qualifier, Signal, Source
from hub.supervisor import Supervisor

T0 = 1_000_000.0
GRACE = 5.0


def dev(device_id: str, supervision_s: int | None = 60) -> Device:
    return Device(id=device_id, site_id="shop-17", protocol="mqtt", account=None, topic=None,
                  supervision_s=supervision_s, test_mode=False)


def ids(signals: list[Signal]) -> list[str]:
    return sorted(s.device_id for s in signals)


@pytest.fixture
def sup() -> Supervisor:
    s = Supervisor(GRACE)
    s.put(dev("panel-7", 60), T0)
    return s


def test_the_deadline_is_last_heard_plus_interval_plus_grace(sup: Supervisor) -> None:
    assert sup.next_due() == T0 + 65
    assert sup.due(T0 + 64.999) == []
    assert sup.lateness("panel-7", T0 + 60) == -5
    faults = sup.due(T0 + 65)
    assert len(faults) == 1
    fault = faults[0]
    assert (fault.source, fault.device_id, fault.category, fault.qualifier, fault.zone) == \
        (Source.SUPERVISOR, "panel-7", Category.COMM_FAULT, Qualifier.NEW, "")
    assert fault.received_at.tzinfo is not None
    assert sup.lateness("panel-7", T0 + 70) == 5


def test_a_heartbeat_moves_the_deadline(sup: Supervisor) -> None:
    assert sup.heard("panel-7", T0 + 50) is None
    assert sup.due(T0 + 65) == []
    assert sup.next_due() == T0 + 115
    assert sup.due(T0 + 114.9) == []
    assert ids(sup.due(T0 + 115)) == ["panel-7"]


def test_a_fault_is_raised_once(sup: Supervisor) -> None:
    assert ids(sup.due(T0 + 100)) == ["panel-7"]
    assert sup.due(T0 + 1_000) == []
    assert sup.due(T0 + 100_000) == []
    assert sup.next_due() is None
    assert sup.faulted == {"panel-7"}


def test_heard_after_a_fault_is_its_restore_and_supervision_starts_again(sup: Supervisor) -> None:
    sup.due(T0 + 70)
    restore = sup.heard("panel-7", T0 + 200)
    assert restore is not None
    assert (restore.source, restore.device_id, restore.category, restore.qualifier) == \
        (Source.SUPERVISOR, "panel-7", Category.COMM_FAULT, Qualifier.RESTORE)
    assert sup.faulted == set()
    assert sup.heard("panel-7", T0 + 201) is None, "only the first message after a fault restores"
    assert sup.due(T0 + 265) == []
    assert ids(sup.due(T0 + 266)) == ["panel-7"]


def test_unknown_and_unsupervised_devices_are_ignored(sup: Supervisor) -> None:
    assert sup.heard("stranger", T0) is None
    sup.put(dev("no-supervision", None), T0)
    assert "no-supervision" not in sup.interval
    assert ids(sup.due(T0 + 10_000)) == ["panel-7"]


def test_put_changes_the_interval_without_forgetting_when_it_was_heard(sup: Supervisor) -> None:
    sup.put(dev("panel-7", 300), T0 + 10)
    assert sup.due(T0 + 65) == []
    assert sup.due(T0 + 304.9) == []
    assert ids(sup.due(T0 + 305)) == ["panel-7"]


def test_put_without_an_interval_and_drop_stop_supervision(sup: Supervisor) -> None:
    sup.put(dev("panel-8", 60), T0)
    sup.put(dev("panel-7", None), T0 + 1)
    sup.drop("panel-8")
    assert sup.due(T0 + 10_000) == []
    assert sup.heard("panel-7", T0 + 10_001) is None and sup.heard("panel-8", T0 + 10_001) is None
    # Registered again: a full interval from then.
    sup.put(dev("panel-8", 60), T0 + 20_000)
    assert sup.due(T0 + 20_064) == []
    assert ids(sup.due(T0 + 20_065)) == ["panel-8"]


def test_drop_of_a_faulted_device_forgets_the_fault(sup: Supervisor) -> None:
    sup.due(T0 + 100)
    sup.drop("panel-7")
    assert sup.faulted == set()
    sup.put(dev("panel-7", 60), T0 + 200)
    assert sup.heard("panel-7", T0 + 201) is None, "a new registration starts healthy"


def test_load_gives_everyone_a_full_interval_and_keeps_faults() -> None:
    sup = Supervisor(GRACE)
    devices = [dev("a", 60), dev("b", 60), dev("c", None)]
    sup.load(devices, T0, faulted=["b", "c", "gone"], startup_grace_s=100)
    assert sup.faulted == {"b"}
    assert set(sup.interval) == {"a", "b"}
    assert sup.due(T0 + 164.9) == []
    assert ids(sup.due(T0 + 165)) == ["a"]
    restore = sup.heard("b", T0 + 170)
    assert restore is not None and restore.qualifier is Qualifier.RESTORE


def test_the_lazy_heap_faults_exactly_the_silent_devices_among_10000() -> None:
    """Random heartbeats (sometimes late), devices going silent, intervals changed, devices dropped and
    registered: at every check the faults are exactly those a naive scan of all deadlines finds."""
    rng = random.Random(20261129)
    sup = Supervisor(GRACE)
    names = [f"dev-{i:05d}" for i in range(10_000)]
    interval = {d: float(rng.choice((30, 60, 90, 120, 300))) for d in names}
    for d in names:
        sup.put(dev(d, int(interval[d])), T0)
    last = dict.fromkeys(names, T0)
    faulted: set[str] = set()
    silent_from = {d: T0 + rng.uniform(0, 500) for d in rng.sample(names, 300)}
    beats = [(T0 + interval[d] * rng.uniform(0.2, 1.3), d) for d in names]
    heapq.heapify(beats)
    faults = restores = 0
    dropped: list[str] = []
    now = T0
    for step in range(150):
        now += rng.uniform(1.0, 8.0)
        while beats and beats[0][0] <= now:
            at, d = heapq.heappop(beats)
            if d not in interval or at >= silent_from.get(d, math.inf):
                continue
            restore = sup.heard(d, at)
            assert (restore is not None) == (d in faulted), (d, at)
            restores += restore is not None
            faulted.discard(d)
            last[d] = at
            heapq.heappush(beats, (at + interval[d] * rng.uniform(0.2, 1.3), d))
        got = [s.device_id for s in sup.due(now)]
        assert len(got) == len(set(got)), "a device faulted twice in one check"
        expected = {d for d, iv in interval.items() if d not in faulted and last[d] + iv + GRACE <= now}
        assert set(got) == expected, (step, set(got) ^ expected)
        faulted |= expected
        faults += len(expected)
        if step in (40, 90):
            for d in rng.sample(sorted(interval), 50):       # unregistered
                sup.drop(d)
                del interval[d], last[d]
                faulted.discard(d)
                dropped.append(d)
            for d in rng.sample(sorted(interval), 50):       # interval changed: heard time kept
                interval[d] = float(rng.choice((30, 600)))
                sup.put(dev(d, int(interval[d])), now)
        if step == 120:
            for d in dropped[:20]:                            # registered again
                sup.put(dev(d, 60), now)
                interval[d], last[d] = 60.0, now
                heapq.heappush(beats, (now + 60 * rng.uniform(0.2, 1.3), d))
    assert faults > 500 and restores > 100, (faults, restores)  # the run exercised both paths
    long_silent = {d for d, t in silent_from.items() if d in interval and t + 600 + GRACE <= now}
    assert long_silent and long_silent <= faulted
    assert len(sup._heap) < 4 * len(interval), "stale heap entries are not piling up"


def test_a_startup_grace_does_not_delay_a_device_heard_and_then_silent() -> None:
    supervisor = Supervisor(grace_s=5)
    supervisor.load([dev("p", 60)], now=1000.0, faulted=[], startup_grace_s=600)
    assert supervisor.heard("p", 1010.0) is None      # heard once after the start, then silent
    assert supervisor.due(1074.9) == []
    [fault] = supervisor.due(1075.0)                  # 1010 + 60 + 5, not 1000 + 600 + 60 + 5
    assert fault.device_id == "p"


def test_the_version_moves_with_faults_restores_and_registrations(sup: Supervisor) -> None:
    seen = [sup.version]

    def moved() -> bool:
        seen.append(sup.version)
        return seen[-1] != seen[-2]

    sup.heard("panel-7", T0 + 10)
    assert not moved()
    sup.due(T0 + 100)
    assert moved()  # in fault
    sup.due(T0 + 200)
    assert not moved()  # still in fault: nothing new
    sup.heard("panel-7", T0 + 300)
    assert moved()  # restored
    sup.put(dev("panel-8"), T0 + 300)
    assert moved()
    sup.drop("panel-8")
    assert moved()

"""Camera arming schedules, and the evidence store with its retention limit (age and total size)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from hub.cameras.evidence import EvidenceStore, Janitor
from hub.model import ArmWindow, Camera
from hub.store import schema as t
from hub.store.db import migrate, open_engine
from hub.store.store import Store

SHANGHAI = ZoneInfo("Asia/Shanghai")


def cam(armed: str, *windows: ArmWindow) -> Camera:
    return Camera(id="cam-1", site_id="shop-1", name="Door", enabled=True, armed=armed, schedule=windows,
                  offline_after_s=60, motion={}, test_mode=False)


def local(day: int, hh: int, mm: int = 0) -> datetime:
    """Monday 2026-11-30 + day, at hh:mm Shanghai time, as UTC."""
    return (datetime(2026, 11, 30, hh, mm, tzinfo=SHANGHAI) + timedelta(days=day)).astimezone(UTC)


def test_arming_true_false_and_a_weekday_schedule() -> None:
    assert cam("true").armed_at(local(0, 12), SHANGHAI)
    assert not cam("false").armed_at(local(0, 12), SHANGHAI)
    office = cam("schedule", ArmWindow(days=(0, 1, 2, 3, 4), start=clock(8), end=clock(18)))
    assert office.armed_at(local(0, 8), SHANGHAI)  # Monday 08:00, start included
    assert office.armed_at(local(0, 17, 59), SHANGHAI)
    assert not office.armed_at(local(0, 18), SHANGHAI)  # end excluded
    assert not office.armed_at(local(0, 7, 59), SHANGHAI)
    assert not office.armed_at(local(5, 12), SHANGHAI)  # Saturday


def test_an_overnight_window_belongs_to_the_day_it_starts() -> None:
    shop = cam("schedule", ArmWindow(days=(4,), start=clock(22), end=clock(6)))  # Friday night
    assert shop.armed_at(local(4, 23), SHANGHAI)  # Friday 23:00
    assert shop.armed_at(local(5, 5, 59), SHANGHAI)  # Saturday 05:59, still Friday's night
    assert not shop.armed_at(local(5, 6), SHANGHAI)
    assert not shop.armed_at(local(3, 23), SHANGHAI)  # Thursday night
    assert not shop.armed_at(local(4, 5), SHANGHAI)  # Friday morning is Thursday's night
    assert cam("schedule").armed_at(local(0, 12), SHANGHAI) is False  # no windows: never armed


@pytest.fixture
def store(tmp_path: Path) -> Store:
    engine = open_engine(f"sqlite:///{tmp_path}/hub.db")
    migrate(engine)
    return Store(engine)


def event(evidence: EvidenceStore, camera: str, size: int, age_s: float) -> str:
    folder = evidence.new_event(camera)
    rel = evidence.write(folder, "snapshot.jpg", b"\xff\xd8" + b"x" * (size - 2))
    stamp = time.time() - age_s
    os.utime(folder.path / "snapshot.jpg", (stamp, stamp))
    return rel


def test_retention_removes_old_events_then_the_oldest_beyond_the_size_limit(tmp_path: Path,
                                                                            store: Store) -> None:
    evidence = EvidenceStore(tmp_path / "evidence", max_age_s=3600, max_bytes=250_000)
    too_old = event(evidence, "cam-1", 10_000, age_s=7200)
    older = event(evidence, "cam-1", 100_000, age_s=600)
    newer = event(evidence, "cam-2", 100_000, age_s=300)
    newest = event(evidence, "cam-1", 100_000, age_s=60)
    with store.writing() as conn:
        for n, rel in enumerate((too_old, older, newer, newest), 1):
            conn.execute(insert(t.evidence).values(alarm_id="A" * 26, n=n, kind="snapshot", camera_id="cam-1",
                                                   path=rel, created_at=datetime.now(UTC)))
    removed = Janitor(evidence, store).sweep()
    # Past the age limit, then oldest first until the total (300 kB) is within 250 kB.
    assert removed == [too_old.rsplit("/", 1)[0], older.rsplit("/", 1)[0]]
    assert not (evidence.root / too_old).exists() and not (evidence.root / older).exists()
    assert (evidence.root / newer).exists() and (evidence.root / newest).exists()
    with store.engine.connect() as conn:
        rows = dict(conn.execute(select(t.evidence.c.path, t.evidence.c.removed_at)).all())
    assert rows[too_old] is not None and rows[older] is not None
    assert rows[newer] is None and rows[newest] is None
    assert Janitor(evidence, store).sweep() == []  # within both limits now


def test_evidence_writes_are_atomic_and_stay_under_the_root(tmp_path: Path) -> None:
    evidence = EvidenceStore(tmp_path / "evidence", max_age_s=60, max_bytes=10**9)
    folder = evidence.new_event("cam-1")
    rel = evidence.write(folder, "snapshot.jpg", b"\xff\xd8jpeg")
    assert rel.startswith("cam-1/") and (evidence.root / rel).read_bytes() == b"\xff\xd8jpeg"
    assert not list(folder.path.glob("*.part"))

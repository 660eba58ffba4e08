"""Uptime ratios from a history of state changes (hub/uptime.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, insert, update

from hub import uptime
from hub.store import schema as t
from hub.store.db import migrate, open_engine
from hub.uptime import gaps, ratio

T0 = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_nothing_known_is_no_ratio() -> None:
    assert ratio([], at(0), at(60)) is None
    assert ratio([(at(90), True)], at(0), at(60)) is None, "a change after the window tells nothing"


def test_the_state_before_the_window_carries_into_it() -> None:
    assert ratio([(at(-10), True)], at(0), at(60)) == 1.0
    assert ratio([(at(-10), False)], at(0), at(60)) == 0.0
    assert ratio([(at(-10), True), (at(15), False)], at(0), at(60)) == 0.25


def test_time_before_the_first_change_is_unknown_not_up() -> None:
    # First heard 30 minutes into the hour, online since: all the known time is up.
    assert ratio([(at(30), True)], at(0), at(60)) == 1.0
    # Online at 30, offline at 45: half of the known half hour.
    assert ratio([(at(30), True), (at(45), False)], at(0), at(60)) == 0.5


def test_flapping_and_repeated_states() -> None:
    changes = [(at(-5), False), (at(10), True), (at(20), False), (at(20), True), (at(50), False)]
    # Up 10..20 and 20..50: 40 of 60 minutes.
    assert ratio(changes, at(0), at(60)) == 40 / 60
    assert ratio([(at(0), True), (at(0), True), (at(30), True)], at(0), at(60)) == 1.0


def test_changes_after_the_end_are_ignored() -> None:
    assert ratio([(at(-1), True), (at(30), False), (at(70), True)], at(0), at(60)) == 0.5


# -- the hub's own outages --------------------------------------------------------------------------------

def test_time_the_hub_was_down_is_unknown_not_up_and_not_down() -> None:
    changes = [(at(-10), True), (at(40), False)]
    # Up 0..40, down 40..60; the hub ran 0..20 and 30..60 only: up 20 + 10, down 20.
    assert ratio(changes, at(0), at(60), known=[(at(0), at(20)), (at(30), at(60))]) == 30 / 50
    assert ratio(changes, at(0), at(60), known=[]) is None
    assert ratio(changes, at(0), at(60), known=[(at(-30), at(-5))]) is None, "a run before the window"
    assert gaps([(at(0), at(20)), (at(30), at(50))], at(-5), at(60)) == [
        (at(-5), at(0)), (at(20), at(30)), (at(50), at(60))]
    assert gaps([(at(-10), at(70))], at(0), at(60)) == []


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Engine]:
    engine = open_engine(f"sqlite:///{tmp_path / 'uptime.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def _runs(conn: Connection, spans: list[tuple[datetime, datetime | None, datetime | None]]) -> None:
    for started, alive, stopped in spans:
        conn.execute(insert(t.hub_runs).values(started_at=started, alive_at=alive or started,
                                               stopped_at=stopped, version="test"))


def test_a_crashed_run_ends_at_its_last_sign_of_life_and_the_running_one_reaches_now(db: Engine) -> None:
    now = at(600)
    with db.begin() as conn:
        _runs(conn, [(at(0), at(100), at(100)),  # stopped cleanly
                     (at(200), at(290), None),  # crashed: last alive at 290
                     (at(400), at(599.9), None)])  # running now (alive within 3 × 10 s)
    with db.connect() as conn:
        assert uptime.runs(conn, at(-60), now) == [(at(0), at(100)), (at(200), at(290)), (at(400), now)]
        assert uptime.runs(conn, at(250), now) == [(at(250), at(290)), (at(400), now)]
    with db.begin() as conn:  # newest run silent for a minute: it is not running any more
        conn.execute(update(t.hub_runs).where(t.hub_runs.c.started_at == at(400)).values(alive_at=at(500)))
    with db.connect() as conn:
        assert uptime.runs(conn, at(-60), now)[-1] == (at(400), at(500))


def test_the_board_agrees_with_the_per_thing_ratios_and_follows_new_rows(db: Engine) -> None:
    rng = random.Random(5)
    things = [("camera", f"cam-{i}") for i in range(20)] + [("device", f"dev-{i}") for i in range(40)]
    now = T0 + timedelta(days=8)
    with db.begin() as conn:
        _runs(conn, [(T0, now - timedelta(days=3), now - timedelta(days=3)),
                     (now - timedelta(days=3) + timedelta(hours=5), now - timedelta(minutes=20), None),
                     (now - timedelta(minutes=10), now, None)])
        for kind, object_id in things[:-5]:  # the last five: never heard
            at_ = T0 + timedelta(minutes=rng.uniform(0, 60 * 24 * 7.5))
            online = True
            for _ in range(rng.choice([1, 1, 2, 5, 30])):
                conn.execute(insert(t.state_changes).values(kind=kind, object_id=object_id, online=online,
                                                            reason=None, at=at_))
                online = not online
                at_ += timedelta(minutes=rng.expovariate(1 / 300))

    def check(when: datetime) -> None:
        board = uptime.Board(db, lambda: things)
        board.refresh(when)
        incremental.refresh(when)
        with db.connect() as conn:
            for key in things:
                want = {w: v for w, v in uptime.ratios(conn, *key, when, tuple(uptime.WINDOWS)).items()
                        if v is not None}
                for got in (board.snapshot()[1].get(key, {}), incremental.snapshot()[1].get(key, {})):
                    assert got.keys() == want.keys(), (key, got, want)
                    for w in want:
                        assert got[w] == pytest.approx(want[w], abs=1e-9), (key, w)

    incremental = uptime.Board(db, lambda: things)
    check(now)
    assert not any(key in incremental.snapshot()[1] for key in things[-5:]), "never heard: no ratio"
    # New changes, and time moves on by a day: the same board keeps up with what was stored since.
    with db.begin() as conn:
        conn.execute(insert(t.state_changes).values(kind="device", object_id="dev-0", online=False,
                                                    reason="silent", at=now + timedelta(hours=2)))
        conn.execute(insert(t.state_changes).values(kind="device", object_id="dev-39", online=True,
                                                    reason=None, at=now + timedelta(hours=3)))
        _runs(conn, [(now + timedelta(hours=1), now + timedelta(days=1), None)])
    check(now + timedelta(days=1))

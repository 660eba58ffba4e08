"""Uptime ratios from a history of state changes (hub/uptime.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.uptime import ratio

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

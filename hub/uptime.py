"""Uptime from the stored history of state changes, not from the process's memory.

A window's ratio is the time online over the time whose state is known. Two things make time unknown:
before the first recorded change of a camera or device, and while the hub itself was not running (the
`hub_runs` table: a run is known from its start to its last sign of life). Unknown time counts neither
way, so a hub outage is a gap, not uptime and not downtime. A window with no known time has no ratio
(None), which the API shows as null, the console as "—", and /metrics by leaving the series out.

Two readers: `ratios`/`history` answer the API for one camera or device from the database, and
`Board` keeps every registered camera's and device's ratios for /metrics, refreshed from the rows
stored since its last look (20,000 devices are not read again at every scrape).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from hub.store import schema as t

log = logging.getLogger(__name__)

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
LONGEST = max(WINDOWS.values())
# How often a running hub writes its sign of life: after a crash, at most this much of the run before it
# is counted as unknown although the hub was up.
ALIVE_EVERY_S = 10.0

Span = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Change:
    at: datetime
    online: bool
    reason: str | None = None


def ratio(changes: Sequence[tuple[datetime, bool]], start: datetime, end: datetime,
          known: Sequence[Span] | None = None) -> float | None:
    """Online fraction of the known part of [start, end). `changes`: (at, online), oldest first; the
    last one before `start` (if any) gives the state at `start`. `known`: the spans the hub ran, oldest
    first (None: all of the window)."""
    up = total = 0.0
    for a, b, online in _segments(changes, start, end):
        for lo, hi in known if known is not None else ((a, b),):
            span = (min(b, hi) - max(a, lo)).total_seconds()
            if span > 0:
                total += span
                up += span if online else 0.0
    return up / total if total > 0 else None


def _segments(changes: Sequence[tuple[datetime, bool]], start: datetime,
              end: datetime) -> Iterable[tuple[datetime, datetime, bool]]:
    """The spans of [start, end) with a known state, and that state."""
    state: bool | None = None
    since = start
    for at, online in changes:
        if at >= end:
            break
        if at > since:
            if state is not None:
                yield since, at, state
            since = at
        state = online
    if state is not None and end > since:
        yield since, end, state


def runs(conn: Connection, start: datetime, now: datetime) -> list[Span]:
    """The spans since `start` during which the hub ran, oldest first. The newest run, if it has not
    stopped and was alive lately, is running now: it reaches `now`."""
    r = t.hub_runs.c
    rows = conn.execute(select(r.id, r.started_at, r.alive_at, r.stopped_at)
                        .where(r.alive_at >= start).order_by(r.started_at, r.id)).all()
    newest = conn.execute(select(func.max(r.id))).scalar()
    spans = []
    for row in rows:
        end = row.stopped_at or row.alive_at
        running = row.id == newest and row.stopped_at is None
        if running and now - row.alive_at <= timedelta(seconds=3 * ALIVE_EVERY_S):
            end = now
        spans.append((max(row.started_at, start), min(end, now)))
    return [(a, b) for a, b in spans if b > a]


def gaps(known: Sequence[Span], start: datetime, end: datetime) -> list[Span]:
    """The parts of [start, end) outside the known spans: when the hub was not running."""
    out = []
    since = start
    for a, b in known:
        if a > since:
            out.append((since, min(a, end)))
        since = max(since, b)
    if end > since:
        out.append((since, end))
    return [(a, b) for a, b in out if b > a]


def _changes(conn: Connection, kind: str, object_id: str, start: datetime, now: datetime) -> list[Change]:
    """The last change at or before `start` (the state then), then every change until `now`."""
    c = t.state_changes.c
    where = (c.kind == kind, c.object_id == object_id)
    before = conn.execute(select(c.at, c.online, c.reason).where(*where, c.at <= start)
                          .order_by(c.at.desc(), c.id.desc()).limit(1)).all()
    during = conn.execute(select(c.at, c.online, c.reason).where(*where, c.at > start, c.at <= now)
                          .order_by(c.at, c.id)).all()
    return [Change(r.at, r.online, r.reason) for r in [*before, *during]]


def ratios(conn: Connection, kind: str, object_id: str, now: datetime,
           windows: Sequence[str] = ("24h", "7d")) -> dict[str, float | None]:
    """`{window: ratio}` for one camera or device."""
    start = now - max(WINDOWS[w] for w in windows)
    changes = [(c.at, c.online) for c in _changes(conn, kind, object_id, start, now)]
    known = runs(conn, start, now)
    return {w: ratio(changes, now - WINDOWS[w], now, known) for w in windows}


def history(conn: Connection, kind: str, object_id: str, now: datetime, since: datetime,
            limit: int) -> dict[str, Any]:
    """One camera's or device's record since `since`: its changes (at most `limit`), the hub's
    outages, and its uptime."""
    start = min(since, now - LONGEST)
    everything = _changes(conn, kind, object_id, start, now)
    known = runs(conn, start, now)
    pairs = [(c.at, c.online) for c in everything]
    first = conn.execute(select(func.min(t.hub_runs.c.started_at))).scalar() or now
    before = [c for c in everything if c.at <= since]
    after = [c for c in everything if c.at > since]
    return {
        "since": since,
        "state_at_since": before[-1].online if before and any(a <= since < b for a, b in known) else None,
        "changes": [{"at": c.at, "online": c.online, "reason": c.reason} for c in after[:limit]],
        "truncated": len(after) > limit,
        "hub_down": [{"start": a, "end": b} for a, b in gaps([s for s in known if s[1] > since], since, now)
                     if a >= first],  # not before the hub's first start: it did not exist yet
        "uptime": {w: ratio(pairs, now - d, now, known) for w, d in WINDOWS.items()},
    }


# -- every registered camera and device, for /metrics -------------------------------------------------

Key = tuple[str, str]  # (kind, id)


class Board:
    """Every camera's and device's ratios for the three windows, kept in memory and refreshed from what
    was stored since the last refresh. A thing whose state did not change within the longest window is
    entirely up or down for all its known time (1.0 or 0.0, if anything is known), so only the things
    that changed are computed."""

    def __init__(self, db: Engine, registered: Callable[[], Iterable[Key]]) -> None:
        self.db = db
        self.registered = registered
        # (version, {key: {window: ratio}}), replaced whole by each refresh: read by /metrics from any thread
        self._snapshot: tuple[int, dict[Key, dict[str, float]]] = (0, {})
        self.refreshed_at: datetime | None = None
        self.refresh_seconds = 0.0
        self._state: dict[Key, bool] = {}  # state before the recent changes
        self._recent: dict[Key, list[tuple[datetime, bool]]] = {}  # changes within the longest window
        self._last_id = 0

    def refresh(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        start = now - LONGEST
        with self.db.connect() as conn:
            if not self.refreshed_at:
                self._load_before(conn, start)
            else:
                self._read_new(conn)
            known = runs(conn, start, now)
        self._age(start)
        windows = [(w, now - d) for w, d in WINDOWS.items()]
        known_in = {w: any(b > since for _a, b in known) for w, since in windows}
        known_now = any(b >= now for _a, b in known)  # the hub runs now: every window ends in known time
        values: dict[Key, dict[str, float]] = {}
        for key in self.registered():
            recent = self._recent.get(key)
            before = self._state.get(key)
            if not recent:
                if before is not None:
                    values[key] = {w: 1.0 if before else 0.0 for w, _ in windows if known_in[w]}
                continue
            first_at, state = (start, before) if before is not None else recent[0]
            if known_now and first_at < now and all(online is state for _at, online in recent):
                # The same state all along (most things: one change, long ago): up or down for all of
                # its known time, in every window.
                values[key] = {w: 1.0 if state else 0.0 for w, _ in windows}
                continue
            changes = ([(start, before)] if before is not None else []) + recent
            found = {w: ratio(changes, since, now, known) for w, since in windows}
            values[key] = {w: v for w, v in found.items() if v is not None}
        self._snapshot = (self._snapshot[0] + 1, values)
        self.refreshed_at = now

    def snapshot(self) -> tuple[int, dict[Key, dict[str, float]]]:
        return self._snapshot

    def _load_before(self, conn: Connection, start: datetime) -> None:
        """The state of everything at `start` (its last change at or before it), and every change since."""
        c = t.state_changes.c
        last = (select(c.kind, c.object_id, func.max(c.at).label("at")).where(c.at <= start)
                .group_by(c.kind, c.object_id).subquery())
        rows = conn.execute(select(c.id, c.kind, c.object_id, c.online).join(
            last, (c.kind == last.c.kind) & (c.object_id == last.c.object_id) & (c.at == last.c.at))
            .order_by(c.id)).all()
        for row in rows:  # two changes at the same instant: the later stored one
            self._state[(row.kind, row.object_id)] = row.online
        for row in conn.execute(select(c.kind, c.object_id, c.online, c.at).where(c.at > start)
                                .order_by(c.at, c.id)):
            self._recent.setdefault((row.kind, row.object_id), []).append((row.at, row.online))
        self._last_id = conn.execute(select(func.max(c.id))).scalar() or 0

    def _read_new(self, conn: Connection) -> None:
        c = t.state_changes.c
        rows = conn.execute(select(c.id, c.kind, c.object_id, c.online, c.at)
                            .where(c.id > self._last_id).order_by(c.id)).all()
        for row in rows:
            self._recent.setdefault((row.kind, row.object_id), []).append((row.at, row.online))
        if rows:
            self._last_id = rows[-1].id
            for key in {(r.kind, r.object_id) for r in rows}:
                self._recent[key].sort(key=lambda change: change[0])

    def _age(self, start: datetime) -> None:
        """Changes that left the longest window become the state before the rest."""
        for key in list(self._recent):
            recent = self._recent[key]
            old = 0
            while old < len(recent) and recent[old][0] <= start:
                old += 1
            if old:
                self._state[key] = recent[old - 1][1]
                del recent[:old]
            if not recent:
                del self._recent[key]


class BoardThread:
    """Refreshes a Board every `every_s` seconds on its own thread (database reads stay off the web
    server's and the pipeline's threads)."""

    def __init__(self, board: Board, every_s: float, on_error: Callable[[], None],
                 on_refresh: Callable[[], None] = lambda: None) -> None:
        self.board = board
        self.every_s = every_s
        self.on_error = on_error
        self.on_refresh = on_refresh  # after each refresh, on this thread (the exposition's text)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="uptime", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while True:
            started = datetime.now(UTC)
            try:
                self.board.refresh(started)
                self.board.refresh_seconds = (datetime.now(UTC) - started).total_seconds()
                self.on_refresh()
            except Exception:  # a database outage: the last figures stay, the next refresh tries again
                log.exception("uptime refresh failed")
                self.on_error()
            if self._stop.wait(self.every_s):
                return

"""Uptime from the stored history of state changes, not from the process's memory.

A window's ratio is the time online over the time whose state is known: before the first recorded
change of a camera or device nothing is known, and that time counts neither way. A window with no
known time has no ratio (None), which the API shows as null and the console as "—".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from hub.store import schema as t

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


def ratio(changes: Sequence[tuple[datetime, bool]], start: datetime, end: datetime) -> float | None:
    """Online fraction of the known part of [start, end). `changes`: (at, online), oldest first; the
    last one before `start` (if any) gives the state at `start`."""
    up = known = 0.0
    state: bool | None = None
    since = start
    for at, online in changes:
        if at > since:
            span = (min(at, end) - since).total_seconds()
            if state is not None and span > 0:
                known += span
                up += span if state else 0.0
            since = min(max(at, start), end)
        state = online
        if at >= end:
            break
    if state is not None and end > since:
        span = (end - since).total_seconds()
        known += span
        up += span if state else 0.0
    return up / known if known > 0 else None


def ratios(conn: Connection, kind: str, object_id: str, now: datetime,
           windows: Sequence[str] = ("24h", "7d")) -> dict[str, float | None]:
    """`{window: ratio}` for one camera or device, from the state changes table."""
    c = t.state_changes.c
    start = now - max(WINDOWS[w] for w in windows)
    where = (c.kind == kind, c.object_id == object_id)
    before = conn.execute(select(c.at, c.online).where(*where, c.at <= start)
                          .order_by(c.at.desc(), c.id.desc()).limit(1)).all()
    during = conn.execute(select(c.at, c.online).where(*where, c.at > start, c.at <= now)
                          .order_by(c.at, c.id)).all()
    changes = [(r.at, r.online) for r in [*before, *during]]
    return {w: ratio(changes, now - WINDOWS[w], now) for w in windows}

"""`GET /api/v1/cameras/{id}/history` and `GET /api/v1/devices/{id}/history`: when a camera or device
went offline and back, why, when the hub itself was down, and its uptime (hub/uptime.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import select

from hub import uptime
from hub.model import utcnow
from hub.store import schema as t
from hub.web.auth import Role
from hub.web.deps import Ctx, allow
from hub.web.schemas import StateHistoryOut

_LONGEST = timedelta(days=90)

Since = Annotated[datetime | None, Query(description="From this time (with a time zone); default 24 h ago, "
                                                     "at most 90 days ago")]
Limit = Annotated[int, Query(ge=1, le=10000, description="Most changes returned (oldest first)")]


def router() -> APIRouter:
    api = APIRouter()
    reader = [Depends(allow(Role.TECHNICIAN, Role.VIEWER))]
    for kind, table in (("camera", t.cameras), ("device", t.devices)):
        api.add_api_route(f"/api/v1/{kind}s/{{item_id}}/history", _endpoint(kind, table), methods=["GET"],
                          response_model=StateHistoryOut, tags=[f"{kind}s"], dependencies=reader,
                          summary=f"State history of a {kind}")
    return api


def _endpoint(kind: str, table: Any) -> Any:
    def read(item_id: str, ctx: Ctx, since: Since = None, limit: Limit = 1000) -> dict[str, Any]:
        now = utcnow()
        if since is None:
            since = now - timedelta(hours=24)
        elif since.tzinfo is None:
            raise HTTPException(422, "since: needs a time zone (for example 2026-12-01T08:00:00+08:00)")
        since = max(min(since, now), now - _LONGEST)
        with ctx.db.connect() as conn:
            if conn.execute(select(table.c.id).where(table.c.id == item_id)).first() is None:
                raise HTTPException(404, f"no {kind} {item_id!r}")
            found = uptime.history(conn, kind, item_id, now, since, limit)
        return {"kind": kind, "id": item_id, **found}

    return read

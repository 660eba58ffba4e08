"""Reading alarms: an alarm reads as its latest 110-queue message, with its current state and history."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import select

from hub.store import schema as t
from hub.web.deps import ANY_ROLE, Ctx, Paging, allow, encode_cursor, paging

States = Annotated[str | None, Query(pattern=r"^[a-z]+(,[a-z]+)*$", description="Comma-separated states")]


def router() -> APIRouter:
    api = APIRouter(tags=["alarms"], dependencies=[Depends(allow(*ANY_ROLE))])

    @api.get("/api/v1/alarms")
    def listing(ctx: Ctx, page: Annotated[Paging, Depends(paging)], state: States = None,
                center_id: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
        """Newest first."""
        a = t.alarms.c
        query = select(a.id, a.state, a.message).order_by(a.id.desc()).limit(page.limit + 1)
        if state:
            query = query.where(a.state.in_(state.split(",")))
        if center_id:
            query = query.where(a.center_id == center_id)
        if page.after:
            query = query.where(a.id < page.after)
        with ctx.db.connect() as conn:
            rows = conn.execute(query).all()
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        return {"items": [{**json.loads(r.message), "state": r.state} for r in rows],
                "next": encode_cursor(rows[-1].id) if more else None}

    @api.get("/api/v1/alarms/{alarm_id}")
    def read(alarm_id: str, ctx: Ctx) -> dict[str, Any]:
        h = t.history_table.c
        with ctx.db.connect() as conn:
            row = conn.execute(select(t.alarms.c.state, t.alarms.c.message)
                               .where(t.alarms.c.id == alarm_id)).one_or_none()
            if row is None:
                raise HTTPException(404, f"no alarm {alarm_id!r}")
            history = conn.execute(select(h.seq, h.change, h.state, h.at, h.actor, h.detail)
                                   .where(h.alarm_id == alarm_id).order_by(h.id)).all()
        return {**json.loads(row.message), "state": row.state, "history": [dict(r._mapping) for r in history]}

    del listing, read
    return api

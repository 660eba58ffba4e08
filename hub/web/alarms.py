"""Reading alarms: an alarm reads as its latest 110-queue message, with its current state and history."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import FileResponse
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

    @api.get("/api/v1/alarms/{alarm_id}/evidence/{n}.{ext}", response_class=FileResponse,
             responses={200: {"content": {"image/jpeg": {}, "video/mp4": {}}}})
    def evidence(alarm_id: str, n: Annotated[int, Path(ge=1, le=1000)], ext: str, ctx: Ctx) -> FileResponse:
        """A snapshot (.jpg) or clip (.mp4) of an alarm; a clip is 404 until its post-roll is recorded
        (the answer says so), 410 once the retention limit removed it."""
        e = t.evidence.c
        with ctx.db.connect() as conn:
            row = conn.execute(select(e.kind, e.path, e.removed_at)
                               .where(e.alarm_id == alarm_id, e.n == n)).one_or_none()
        if row is None or _EXTENSIONS.get(row.kind) != ext or ctx.evidence_dir is None:
            raise HTTPException(404, f"no evidence {n}.{ext} for alarm {alarm_id!r}")
        if row.removed_at is not None:
            raise HTTPException(410, "removed by the evidence retention limit")
        path = ctx.evidence_dir / row.path
        if not path.is_file():
            raise HTTPException(404, f"the {row.kind} is not recorded yet", headers={"Retry-After": "5"})
        return FileResponse(path, media_type=_MEDIA[row.kind])

    del listing, read, evidence
    return api


_EXTENSIONS = {"snapshot": "jpg", "clip": "mp4"}
_MEDIA = {"snapshot": "image/jpeg", "clip": "video/mp4"}

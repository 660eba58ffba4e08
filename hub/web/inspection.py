"""What technicians inspect: rejected inputs and sightings of unregistered devices, newest first."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Table, select

from hub.store import schema as t
from hub.web import schemas as s
from hub.web.auth import Role
from hub.web.deps import Ctx, Paging, allow, encode_cursor, paging


def _page(ctx: Ctx, table: Table, page: Paging) -> dict[str, Any]:
    query = select(table).order_by(table.c.id.desc()).limit(page.limit + 1)
    if page.after is not None:
        if not (page.after.isascii() and page.after.isdigit()):
            raise RequestValidationError([{"loc": ("query", "cursor"), "msg": "not a cursor from this API",
                                           "type": "value_error"}])
        query = query.where(table.c.id < int(page.after))
    with ctx.db.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query)]
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    for row in rows:
        row["raw"] = base64.b64encode(row["raw"]).decode()
    return {"items": rows, "next": encode_cursor(rows[-1]["id"]) if more else None}


def router() -> APIRouter:
    api = APIRouter(tags=["inspection"], dependencies=[Depends(allow(Role.TECHNICIAN, Role.VIEWER))])

    @api.get("/api/v1/dead-letters", response_model=s.Page[s.DeadLetterOut])
    def dead_letters(ctx: Ctx, page: Annotated[Paging, Depends(paging)]) -> dict[str, Any]:
        return _page(ctx, t.dead_letters, page)

    @api.get("/api/v1/unregistered", response_model=s.Page[s.UnregisteredOut])
    def unregistered(ctx: Ctx, page: Annotated[Paging, Depends(paging)]) -> dict[str, Any]:
        return _page(ctx, t.unregistered, page)

    del dead_letters, unregistered
    return api

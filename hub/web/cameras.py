"""A camera's current picture, for technicians checking a view and operators looking at a site."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Response
from sqlalchemy import select

from hub.store import schema as t
from hub.web.deps import ANY_ROLE, Ctx, allow


def router() -> APIRouter:
    api = APIRouter(tags=["cameras"], dependencies=[Depends(allow(*ANY_ROLE))])

    @api.get("/api/v1/cameras/{camera_id}/snapshot.jpg", response_class=Response,
             responses={200: {"content": {"image/jpeg": {}}}})
    def snapshot(camera_id: str, ctx: Ctx) -> Response:
        """The latest frame as JPEG; 503 while the camera has not delivered one."""
        with ctx.db.connect() as conn:
            known = conn.execute(select(t.cameras.c.id).where(t.cameras.c.id == camera_id)).first()
        if known is None:
            raise HTTPException(404, f"no camera {camera_id!r}")
        jpeg = ctx.camera_snapshot(camera_id)
        if jpeg is None:
            raise HTTPException(503, "the camera has no picture yet", headers={"Retry-After": "5"})
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    del snapshot
    return api

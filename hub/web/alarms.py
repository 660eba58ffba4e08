"""Alarms: reading them (an alarm reads as its latest 110-queue message, with its current state and
history), operators' actions on them, and the live event stream the console follows."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy import func, or_, select

from hub import metrics
from hub.engine import Engine, Handled
from hub.errors import Conflict, NotFound
from hub.model import AlarmState, utcnow
from hub.store import schema as t
from hub.web.auth import Principal, Role
from hub.web.deps import ANY_ROLE, Ctx, Paging, WebContext, allow, encode_cursor, paging
from hub.web.schemas import CloseIn, DispatchIn
from hub.writes import Writes

States = Annotated[str | None, Query(pattern=r"^[a-z]+(,[a-z]+)*$", description="Comma-separated states")]
CenterFilter = Annotated[str | None, Query(max_length=64, description="Alarms of this center and alarms "
                                                                       "escalated to it")]
ResumeQuery = Annotated[int | None, Query(ge=0, description="Instead of the Last-Event-ID header")]
ResumeHeader = Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)]
Operator = Annotated[Principal, Depends(allow(Role.OPERATOR))]

_POLL_S = 0.2  # how often a stream looks for new changes
_KEEPALIVE_S = 15.0
_STREAM_BATCH = 500
_ACTION_TIMEOUT_S = 30.0


def router() -> APIRouter:
    api = APIRouter(tags=["alarms"], dependencies=[Depends(allow(*ANY_ROLE))])

    @api.get("/api/v1/alarms")
    def listing(ctx: Ctx, page: Annotated[Paging, Depends(paging)], state: States = None,
                center_id: CenterFilter = None,
                open: Annotated[bool, Query(description="Only alarms not closed")] = False) -> dict[str, Any]:
        """Newest first. `last_event_id`: the stream's position when this list was read; following the
        stream from there (`Last-Event-ID`) misses no change made after the list."""
        a = t.alarms.c
        query = select(a.id, a.state, a.message).order_by(a.id.desc()).limit(page.limit + 1)
        if state:
            query = query.where(a.state.in_(state.split(",")))
        if open:
            query = query.where(a.state != AlarmState.CLOSED.value)
        if center_id:
            query = query.where(or_(a.center_id == center_id, a.escalated_to == center_id))
        if page.after:
            query = query.where(a.id < page.after)
        with ctx.db.connect() as conn:
            position = conn.execute(select(func.max(t.history_table.c.id))).scalar()
            rows = conn.execute(query).all()
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        return {"items": [{**json.loads(r.message), "state": r.state} for r in rows],
                "next": encode_cursor(rows[-1].id) if more else None, "last_event_id": position or 0}

    @api.get("/api/v1/alarms/stream", response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}}}})
    async def stream(request: Request, ctx: Ctx, center_id: CenterFilter = None,
                     last_event_id: ResumeQuery = None, last_event_header: ResumeHeader = None
                     ) -> StreamingResponse:
        """Server-Sent Events: every change of every alarm (not test alarms), as the 110 queue gets it:
        `id: <n>`, `event: alarm`, `data: <message>`. Resumes after `Last-Event-ID` (header, or the
        `last_event_id` parameter) without gaps; without one, starts now."""
        after = last_event_id
        if last_event_header is not None:
            if not last_event_header.strip().isdigit():
                raise HTTPException(422, "Last-Event-ID must be an event id from this stream")
            after = int(last_event_header)
        if after is None:
            after = await run_in_threadpool(_position, ctx)
        return StreamingResponse(_events(request, ctx, after, center_id), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @api.get("/api/v1/alarms/{alarm_id}")
    def read(alarm_id: str, ctx: Ctx) -> dict[str, Any]:
        """The alarm with its history (who did what, when) and the signals behind it."""
        return _read(ctx, alarm_id)

    @api.post("/api/v1/alarms/{alarm_id}/ack")
    def acknowledge(alarm_id: str, ctx: Ctx, who: Operator) -> dict[str, Any]:
        """Take responsibility for an alarm (new, delivered or escalated): it stops escalating."""
        handled = _act(ctx, alarm_id, lambda e, w: e.acknowledge(alarm_id, who.name, utcnow(), w))
        if handled.ack_latency_s is not None:
            metrics.ACK_LATENCY.labels(handled.center_id).observe(handled.ack_latency_s)
        return _read(ctx, alarm_id)

    @api.post("/api/v1/alarms/{alarm_id}/dispatch")
    def dispatch(alarm_id: str, body: DispatchIn, ctx: Ctx, who: Operator) -> dict[str, Any]:
        """Send a unit to an acknowledged alarm."""
        _act(ctx, alarm_id, lambda e, w: e.dispatch(alarm_id, body.unit, who.name, utcnow(), w))
        return _read(ctx, alarm_id)

    @api.post("/api/v1/alarms/{alarm_id}/close")
    def close(alarm_id: str, body: CloseIn, ctx: Ctx, who: Operator) -> dict[str, Any]:
        """Close an acknowledged (or dispatched) alarm as real, false or test, with a note."""
        _act(ctx, alarm_id, lambda e, w: e.close(alarm_id, body.resolution, body.note, who.name, utcnow(), w))
        return _read(ctx, alarm_id)

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

    del listing, stream, read, acknowledge, dispatch, close, evidence
    return api


_EXTENSIONS = {"snapshot": "jpg", "clip": "mp4"}
_MEDIA = {"snapshot": "image/jpeg", "clip": "video/mp4"}


def _act(ctx: WebContext, alarm_id: str, run: Callable[[Engine, Writes], Handled]) -> Handled:
    """Run an operator's action on the engine's thread and wait for its commit. An alarm the engine
    does not hold open is either closed (409) or unknown (404)."""
    try:
        handled: Handled = ctx.act(run).result(timeout=_ACTION_TIMEOUT_S)
    except NotFound:
        with ctx.db.connect() as conn:
            state = conn.execute(select(t.alarms.c.state).where(t.alarms.c.id == alarm_id)).scalar()
        if state is None:
            raise HTTPException(404, f"no alarm {alarm_id!r}") from None
        raise Conflict(f"alarm {alarm_id} is {state}") from None
    except TimeoutError:
        raise HTTPException(503, "the hub is too busy to take the action now; try again",
                            headers={"Retry-After": "5"}) from None
    return handled


def _read(ctx: WebContext, alarm_id: str) -> dict[str, Any]:
    h = t.history_table.c
    s = t.signals.c
    with ctx.db.connect() as conn:
        row = conn.execute(select(t.alarms.c.state, t.alarms.c.message)
                           .where(t.alarms.c.id == alarm_id)).one_or_none()
        if row is None:
            raise HTTPException(404, f"no alarm {alarm_id!r}")
        history = conn.execute(select(h.seq, h.change, h.state, h.at, h.actor, h.detail)
                               .where(h.alarm_id == alarm_id).order_by(h.id)).all()
        signal_log = conn.execute(
            select(s.received_at, s.source, s.device_id, s.category, s.qualifier, s.zone, s.code, s.text,
                   s.result)
            .where(s.alarm_id == alarm_id).order_by(s.id.desc()).limit(200)).all()
        message = json.loads(row.message)
        site_id = message["site"]["id"]
        cams = conn.execute(select(t.cameras.c.id, t.cameras.c.name, t.cameras.c.enabled)
                            .where(t.cameras.c.site_id == site_id).order_by(t.cameras.c.id)).all() \
            if site_id else []
    return {**message, "state": row.state,
            "history": [dict(r._mapping) for r in history],
            "signal_log": [dict(r._mapping) for r in signal_log],
            # The site's cameras, for live view (operators may not list cameras themselves).
            "cameras": [{"id": c.id, "name": c.name, "status": _camera_state(ctx, c.id, c.enabled)}
                        for c in cams]}


def _camera_state(ctx: WebContext, camera_id: str, enabled: bool) -> str:
    live = ctx.camera_status(camera_id) if enabled else None
    return str(live["status"]) if live else ("connecting" if enabled else "disabled")


def _position(ctx: WebContext) -> int:
    with ctx.db.connect() as conn:
        return int(conn.execute(select(func.max(t.history_table.c.id))).scalar() or 0)


def _changes(ctx: WebContext, after: int) -> list[tuple[int, str]]:
    h = t.history_table.c
    query = (select(h.id, h.message).where(h.id > after, h.message.is_not(None)).order_by(h.id)
             .limit(_STREAM_BATCH))
    with ctx.db.connect() as conn:
        return [(r.id, r.message) for r in conn.execute(query)]


def _for_center(message: str, center_id: str) -> bool:
    decoded = json.loads(message)
    return center_id in (decoded.get("center_id"), decoded.get("escalated_to"))


async def _events(request: Request, ctx: WebContext, after: int, center_id: str | None) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    quiet_since = time.monotonic()
    while not await request.is_disconnected():
        changes = await run_in_threadpool(_changes, ctx, after)
        for event_id, message in changes:
            after = event_id
            if center_id is None or _for_center(message, center_id):
                yield f"id: {event_id}\nevent: alarm\ndata: {message}\n\n"
        if changes:
            quiet_since = time.monotonic()
            continue
        if time.monotonic() - quiet_since >= _KEEPALIVE_S:
            quiet_since = time.monotonic()
            yield f": keep-alive\nid: {after}\n\n"
        await asyncio.sleep(_POLL_S)

"""A camera's current picture, for technicians checking a view and operators looking at a site; a stream
URL tested before it is registered; live view over WebRTC (hub.cameras.live)."""

from __future__ import annotations

import base64
import logging
import threading
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from drivers.rtsp_camera.probe import probe
from hub.cameras.live import BadOffer, LiveUnavailable
from hub.secrets import public_url, redact
from hub.store import schema as t
from hub.web.auth import Role
from hub.web.deps import ANY_ROLE, Ctx, allow, field_error
from hub.web.schemas import Clean, check_stream_url

log = logging.getLogger(__name__)

# A test holds a threadpool thread for up to open + first picture (10 s): a few at a time is plenty.
_TESTS = threading.BoundedSemaphore(2)
TEST_OPEN_TIMEOUT_S, TEST_PICTURE_TIMEOUT_S = 5.0, 5.0


class StreamTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    url: Annotated[str, Field(max_length=1000, description="rtsp://[user:password@]host[:port]/path"),
                   AfterValidator(check_stream_url), Clean]


class StreamTestOut(BaseModel):
    ok: bool
    codec: str | None = Field(description="h264 is what the hub takes")
    width: int | None
    height: int | None
    fps: float | None
    snapshot: str | None = Field(description="The first picture, JPEG, base64")
    reason: str | None = Field(description="Why not ok: unreachable, not_found, auth_refused, "
                                           "unsupported_codec, bad_stream, timeout, …")
    detail: str | None = Field(description="What the camera or the network said (never the password)")


class OfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["offer"]
    sdp: Annotated[str, Field(min_length=1, max_length=100_000, description="The browser's SDP offer, "
                                                                            "ICE candidates included"), Clean]


class AnswerOut(BaseModel):
    type: Literal["answer"]
    sdp: str


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

    @api.post("/api/v1/cameras/test", response_model=StreamTestOut,
              dependencies=[Depends(allow(Role.TECHNICIAN))])
    def test_stream(body: StreamTestIn) -> StreamTestOut:
        """Connect to a stream URL once (within about 10 s) and say what it streams, or why it fails."""
        if not _TESTS.acquire(blocking=False):
            raise HTTPException(503, "other stream tests are running: try again in a few seconds",
                                headers={"Retry-After": "5"})
        try:
            found = probe(body.url, open_timeout_s=TEST_OPEN_TIMEOUT_S,
                          picture_timeout_s=TEST_PICTURE_TIMEOUT_S)
        finally:
            _TESTS.release()
        log.info("stream test of %s: %s", public_url(body.url), "ok" if found.ok else found.reason)
        password = _password(body.url)
        return StreamTestOut(
            ok=found.ok, codec=found.codec, width=found.width, height=found.height, fps=found.fps,
            snapshot=base64.b64encode(found.snapshot).decode() if found.snapshot else None,
            reason=found.reason.value if found.reason else None,
            detail=redact(found.detail, password) if found.detail else None)

    @api.post("/api/v1/cameras/{camera_id}/webrtc", response_model=AnswerOut)
    async def webrtc(camera_id: str, body: OfferIn, ctx: Ctx) -> AnswerOut:
        """Live view: the browser's offer (recvonly video, ICE gathering complete) → the hub's answer,
        the camera's H.264 passed through. 503 while the camera is disabled or its stream cannot open."""
        live = ctx.live_view
        if live is None:
            raise HTTPException(503, "live view is not available on this hub")
        found = await run_in_threadpool(ctx.camera_stream, camera_id)
        if found is None:
            raise HTTPException(404, f"no camera {camera_id!r}")
        url, enabled = found
        if not enabled:
            raise HTTPException(503, "the camera is disabled")
        try:
            sdp = await live.answer(camera_id, url, body.sdp)
        except BadOffer as exc:
            raise field_error("sdp", str(exc)) from None
        except LiveUnavailable as exc:
            raise HTTPException(503, redact(str(exc), _password(url)), headers={"Retry-After": "5"}) from None
        return AnswerOut(type="answer", sdp=sdp)

    del snapshot, test_stream, webrtc
    return api


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None

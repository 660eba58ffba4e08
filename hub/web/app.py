"""The FastAPI application: routes, error translation, /healthz and /metrics."""

from __future__ import annotations

import gzip
from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import select

from hub import __version__, metrics
from hub.errors import Conflict, NotFound
from hub.store import schema as t
from hub.web import alarms, cameras, console, history, inspection, reports, resources
from hub.web.auth import Principal, Role, issue, set_language
from hub.web.deps import Ctx, WebContext, allow, field_error, principal
from hub.web.schemas import CenterBrief, Health, MeOut, MePatch, TokenIn, TokenOut


def create_app(ctx: WebContext) -> FastAPI:
    app = FastAPI(title="Ping'an Hub", version=__version__,
                  description="Alarm ingestion hub between the field and the 110 command center.")
    app.state.ctx = ctx
    app.include_router(resources.router())
    app.include_router(alarms.router())
    app.include_router(cameras.router())
    app.include_router(inspection.router())
    app.include_router(reports.router())
    app.include_router(history.router())
    app.include_router(console.router())

    @app.exception_handler(RequestValidationError)
    async def unprocessable(_r: Request, exc: RequestValidationError) -> JSONResponse:
        """Where and why, without echoing the input back: it may be huge, or a value JSON cannot carry
        (NaN, a lone surrogate), which would turn a 422 into a 500."""
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.middleware("http")
    async def refuse_nul(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """No id or filter contains U+0000, and PostgreSQL could not even look one up."""
        if "\x00" in unquote(request.url.path) or "\x00" in unquote(request.url.query):
            return JSONResponse({"detail": [{"loc": ["path"], "msg": "NUL characters are not allowed",
                                             "type": "value_error"}]}, status_code=422)
        return await call_next(request)

    @app.exception_handler(NotFound)
    async def not_found(_r: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def conflict(_r: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.get("/healthz", response_model=Health, tags=["health"])
    def healthz(ctx: Ctx) -> JSONResponse:
        health = ctx.health()
        return JSONResponse(health.model_dump(), status_code=200 if health.status == "ok" else 503)

    @app.get("/metrics", tags=["health"])
    def prometheus(request: Request) -> Response:
        """Gzipped when asked (Prometheus asks): a big fleet's exposition is megabytes of repetitive text."""
        body = metrics.exposition()
        if "gzip" in request.headers.get("accept-encoding", "") and len(body) > 1024:
            return Response(gzip.compress(body, compresslevel=1), media_type=CONTENT_TYPE_LATEST,
                            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Vary": "Accept-Encoding"})

    @app.post("/api/v1/tokens", status_code=201, response_model=TokenOut, tags=["tokens"])
    def tokens(body: TokenIn, ctx: Ctx, _who: Annotated[Principal, Depends(allow())]) -> TokenOut:
        if body.center_id is not None and _center(ctx, body.center_id) is None:
            raise field_error("center_id", f"no center {body.center_id!r}")
        token = issue(ctx.db, body.name, Role(body.role), center_id=body.center_id, language=body.language)
        return TokenOut(token=token, role=body.role, name=body.name, center_id=body.center_id)

    @app.get("/api/v1/me", response_model=MeOut, tags=["tokens"])
    def me(ctx: Ctx, who: Annotated[Principal, Depends(principal)]) -> MeOut:
        """Who the token belongs to: role, center, language, and the time zone times are shown in."""
        return _me(ctx, who)

    @app.patch("/api/v1/me", response_model=MeOut, tags=["tokens"])
    def change_me(body: MePatch, ctx: Ctx, who: Annotated[Principal, Depends(principal)]) -> MeOut:
        return _me(ctx, set_language(ctx.db, who, body.language))

    del unprocessable, refuse_nul, not_found, conflict, healthz, prometheus, tokens, me, change_me
    return app


def _center(ctx: WebContext, center_id: str) -> CenterBrief | None:
    c = t.centers.c
    with ctx.db.connect() as conn:
        row = conn.execute(select(c.id, c.name, c.kind, c.parent_id, c.ack_deadline_s)
                           .where(c.id == center_id)).one_or_none()
    return None if row is None else CenterBrief(**row._mapping)


def _me(ctx: WebContext, who: Principal) -> MeOut:
    center = _center(ctx, who.center_id) if who.center_id else None
    return MeOut(name=who.name, role=who.role.value, center_id=who.center_id, language=who.language,
                 timezone=ctx.timezone, center=center)

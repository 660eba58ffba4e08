"""The FastAPI application: routes, error translation, /healthz and /metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub import __version__, metrics
from hub.errors import Conflict, NotFound
from hub.web import alarms, cameras, inspection, resources
from hub.web.auth import Principal, Role, issue
from hub.web.deps import Ctx, WebContext, allow
from hub.web.schemas import Health, TokenIn, TokenOut


def create_app(ctx: WebContext) -> FastAPI:
    app = FastAPI(title="Ping'an Hub", version=__version__,
                  description="Alarm ingestion hub between the field and the 110 command center.")
    app.state.ctx = ctx
    app.include_router(resources.router())
    app.include_router(alarms.router())
    app.include_router(cameras.router())
    app.include_router(inspection.router())

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
    def prometheus() -> Response:
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @app.post("/api/v1/tokens", status_code=201, response_model=TokenOut, tags=["tokens"])
    def tokens(body: TokenIn, ctx: Ctx, _who: Annotated[Principal, Depends(allow())]) -> TokenOut:
        token = issue(ctx.db, body.name, Role(body.role))
        return TokenOut(token=token, role=body.role, name=body.name)

    del unprocessable, refuse_nul, not_found, conflict, healthz, prometheus, tokens
    return app

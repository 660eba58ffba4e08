"""The FastAPI application: routes, error translation, /healthz and /metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub import __version__, metrics
from hub.errors import Conflict, NotFound
from hub.web import alarms, inspection, resources
from hub.web.auth import Principal, Role, issue
from hub.web.deps import Ctx, WebContext, allow
from hub.web.schemas import Health, TokenIn, TokenOut


def create_app(ctx: WebContext) -> FastAPI:
    app = FastAPI(title="Ping'an Hub", version=__version__,
                  description="Alarm ingestion hub between the field and the 110 command center.")
    app.state.ctx = ctx
    app.include_router(resources.router())
    app.include_router(alarms.router())
    app.include_router(inspection.router())

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

    del not_found, conflict, healthz, prometheus, tokens
    return app

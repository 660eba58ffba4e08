"""What every route needs: the hub's context, the caller's identity and role checks, pagination."""

from __future__ import annotations

import base64
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sqlalchemy import Connection, Engine

from hub.engine import Engine as AlarmEngine
from hub.model import Registered
from hub.secrets import Vault
from hub.web.auth import Principal, Role, lookup
from hub.web.schemas import Health
from hub.writes import Writes

if TYPE_CHECKING:
    from hub.cameras.live import LiveView


@dataclass(frozen=True, slots=True)
class WebContext:
    """The hub as the web layer sees it."""

    db: Engine
    vault: Vault
    refresh: Callable[[type[Registered], str], Future[Any]]
    health: Callable[[], Health]
    writing: Callable[[], AbstractContextManager[Connection]]  # a write transaction (Store.writing)
    act: Callable[[Callable[[AlarmEngine, Writes], Any]], Future[Any]]  # run on the engine's thread
    timezone: str = "Asia/Shanghai"  # the centers' (config `timezone`)
    camera_status: Callable[[str], dict[str, Any] | None] = lambda _id: None  # live stream state
    camera_snapshot: Callable[[str], bytes | None] = lambda _id: None  # the latest frame as JPEG
    evidence_dir: Path | None = None
    # (stream URL with its password, enabled) of a camera, None if unknown: for live view only
    camera_stream: Callable[[str], tuple[str, bool] | None] = lambda _id: None
    live_view: LiveView | None = None  # WebRTC viewers (hub.cameras.live); None: no live view


def context(request: Request) -> WebContext:
    ctx = request.app.state.ctx
    assert isinstance(ctx, WebContext)
    return ctx


Ctx = Annotated[WebContext, Depends(context)]


def principal(ctx: Ctx, authorization: Annotated[str | None, Header()] = None) -> Principal:
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    found = lookup(ctx.db, authorization[7:].strip())
    if found is None:
        raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
    return found


def allow(*roles: Role) -> Callable[..., Principal]:
    """A dependency admitting admins and the given roles; anyone else with a valid token gets 403."""
    allowed = {Role.ADMIN, *roles}

    def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.role not in allowed:
            raise HTTPException(403, f"role {who.role.value!r} may not do this")
        return who

    return check


ANY_ROLE = (Role.TECHNICIAN, Role.OPERATOR, Role.VIEWER)


@dataclass(frozen=True, slots=True)
class Paging:
    limit: int
    after: str | None


def paging(limit: Annotated[int, Query(ge=1, le=1000)] = 100,
           cursor: Annotated[str | None, Query(max_length=200)] = None) -> Paging:
    return Paging(limit, decode_cursor(cursor) if cursor else None)


def encode_cursor(value: object) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    bad = RequestValidationError([{"loc": ("query", "cursor"), "msg": "not a cursor from this API",
                                   "type": "value_error"}])
    try:
        value = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except ValueError as exc:  # binascii.Error, non-ASCII input and bad UTF-8 are all ValueErrors
        raise bad from exc
    if not value or "\x00" in value:
        raise bad
    return value


def invalid(exc: ValidationError, where: str = "body") -> RequestValidationError:
    """A pydantic error raised inside a route, as the 422 FastAPI gives for a bad body."""
    return RequestValidationError([{**e, "loc": (where, *e["loc"])} for e in exc.errors(include_url=False)])


def field_error(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])

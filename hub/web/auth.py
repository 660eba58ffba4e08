"""Bearer tokens and roles (CONTRACT.md). Tokens are stored as SHA-256 digests, shown once."""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass, replace

from sqlalchemy import Engine, insert, select, update

from hub.model import utcnow
from hub.store import schema as t


class Role(enum.StrEnum):
    ADMIN = "admin"
    TECHNICIAN = "technician"
    OPERATOR = "operator"
    VIEWER = "viewer"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role
    center_id: str | None = None  # an operator's receiving center
    language: str = "zh-CN"
    token_id: int = 0


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "ph_" + secrets.token_urlsafe(32)


def issue(engine: Engine, name: str, role: Role, token: str | None = None, *, center_id: str | None = None,
          language: str = "zh-CN") -> str:
    """Store a token (a new random one unless given) and return it in clear, the only time it exists."""
    token = token or new_token()
    with engine.begin() as conn:
        conn.execute(insert(t.tokens).values(name=name, role=role.value, digest=digest(token),
                                             created_at=utcnow(), revoked=False, center_id=center_id,
                                             language=language))
    return token


def lookup(engine: Engine, token: str) -> Principal | None:
    k = t.tokens.c
    query = select(k.id, k.name, k.role, k.center_id, k.language).where(k.digest == digest(token),
                                                                        k.revoked.is_(False))
    with engine.connect() as conn:
        row = conn.execute(query).one_or_none()
    if row is None:
        return None
    return Principal(row.name, Role(row.role), row.center_id, row.language, row.id)


def set_language(engine: Engine, who: Principal, language: str) -> Principal:
    with engine.begin() as conn:
        conn.execute(update(t.tokens).where(t.tokens.c.id == who.token_id).values(language=language))
    return replace(who, language=language)


def bootstrap_admin(engine: Engine, configured: str | None) -> str | None:
    """Make sure an admin can log in. Returns a newly generated token to print once, else None."""
    with engine.connect() as conn:
        if configured is not None:
            exists = conn.execute(select(t.tokens.c.id).where(t.tokens.c.digest == digest(configured)))
            if exists.first() is None:
                conn.close()
                issue(engine, "bootstrap", Role.ADMIN, configured)
            return None
        has_admin = conn.execute(select(t.tokens.c.id).where(t.tokens.c.role == Role.ADMIN.value,
                                                            t.tokens.c.revoked.is_(False))).first()
    if has_admin is not None:
        return None
    return issue(engine, "bootstrap", Role.ADMIN)

"""Bearer tokens and roles (CONTRACT.md). Tokens are stored as SHA-256 digests, shown once."""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select

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


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "ph_" + secrets.token_urlsafe(32)


def issue(engine: Engine, name: str, role: Role, token: str | None = None) -> str:
    """Store a token (a new random one unless given) and return it in clear, the only time it exists."""
    token = token or new_token()
    with engine.begin() as conn:
        conn.execute(insert(t.tokens).values(name=name, role=role.value, digest=digest(token),
                                             created_at=utcnow(), revoked=False))
    return token


def lookup(engine: Engine, token: str) -> Principal | None:
    query = select(t.tokens.c.name, t.tokens.c.role).where(t.tokens.c.digest == digest(token),
                                                          t.tokens.c.revoked.is_(False))
    with engine.connect() as conn:
        row = conn.execute(query).one_or_none()
    return None if row is None else Principal(row.name, Role(row.role))


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

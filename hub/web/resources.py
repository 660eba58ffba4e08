"""Centers, sites and devices: one generic create/read/list/update/delete, described three times.

After a write commits, the engine is told to refresh that one object, and the answer waits for it, so
a device is known to the pipeline as soon as its 201 is returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from hub import uptime
from hub.model import Camera, Center, Device, Registered, Site, utcnow
from hub.secrets import Vault, public_url
from hub.store import schema as t
from hub.web import schemas as s
from hub.web.auth import Principal, Role
from hub.web.deps import Ctx, Paging, WebContext, allow, encode_cursor, field_error, invalid, paging

Row = dict[str, Any]
Technician = Annotated[Principal, Depends(allow(Role.TECHNICIAN))]
_REFRESH_TIMEOUT_S = 10.0
_SECRET_FIELDS = frozenset({"key", "url"})


@dataclass(frozen=True, slots=True)
class Reference:
    """A column that must name an existing row of another table (422 otherwise)."""

    column: str
    table: Table


@dataclass(frozen=True, slots=True)
class Resource:
    path: str
    table: Table
    kind: type[Registered]
    create: type[BaseModel]
    patch: type[BaseModel]
    out: type[BaseModel]
    references: tuple[Reference, ...] = ()
    referenced_by: tuple[tuple[Table, str], ...] = ()
    unique: tuple[str, ...] = ()
    to_row: Callable[[Row, Vault], Row] = field(default=lambda values, _vault: values)
    from_row: Callable[[Row], Row] = field(default=lambda row: row)
    rules: Callable[[Connection, Row, str], None] = field(default=lambda conn, values, item_id: None)
    live: Callable[[WebContext, Row], Row] = field(default=lambda ctx, row: row)  # state not in the store


def _device_to_row(values: Row, vault: Vault) -> Row:
    values = dict(values)
    key = values.pop("key", None)
    if key is not None:
        values["key_enc"] = vault.seal(key)
    return values


def _device_from_row(row: Row) -> Row:
    return {**row, "has_key": row.get("key_enc") is not None}


def _camera_to_row(values: Row, vault: Vault) -> Row:
    values = dict(values)
    if "url" in values:
        values["url_enc"] = vault.seal(values["url"])
        values["url"] = public_url(values["url"])
    if "armed" in values:
        values["armed"] = str(values["armed"]).lower()
    return values


def _camera_from_row(row: Row) -> Row:
    row = {k: v for k, v in row.items() if k != "url_enc"}
    row["armed"] = {"true": True, "false": False}.get(row["armed"], row["armed"])
    return row


def _uptime(ctx: WebContext, kind: str, object_id: str) -> Row:
    with ctx.db.connect() as conn:
        found = uptime.ratios(conn, kind, object_id, utcnow())
    return {"uptime_24h": found["24h"], "uptime_7d": found["7d"]}


def _camera_live(ctx: WebContext, row: Row) -> Row:
    live = ctx.camera_status(row["id"]) if row["enabled"] else None
    history = _uptime(ctx, "camera", row["id"])
    if live is None:
        return {**row, **history, "status": "disabled" if not row["enabled"] else "connecting", "fps": None}
    return {**row, **live, **history}


def _device_live(ctx: WebContext, row: Row) -> Row:
    return {**row, **_uptime(ctx, "device", row["id"])}


def _device_rules(_conn: Connection, values: Row, _item_id: str) -> None:
    required = s.REQUIRED_BY_PROTOCOL.get(values["protocol"])
    if required is not None and not values.get(required[0]):
        raise field_error(*required)


def _center_rules(conn: Connection, values: Row, item_id: str) -> None:
    """The centers form a tree (110 → station → community): a new parent must not lead back here."""
    parent = values.get("parent_id")
    seen = {item_id}
    while parent is not None:
        if parent in seen:
            raise field_error("parent_id", f"{values.get('parent_id')!r} would make the centers a cycle")
        seen.add(parent)
        parent = conn.execute(select(t.centers.c.parent_id).where(t.centers.c.id == parent)).scalar()


RESOURCES = (
    Resource("centers", t.centers, Center, s.CenterIn, s.CenterPatch, s.CenterOut,
             references=(Reference("parent_id", t.centers),),
             referenced_by=((t.centers, "parent_id"), (t.sites, "center_id")), rules=_center_rules),
    Resource("sites", t.sites, Site, s.SiteIn, s.SitePatch, s.SiteOut,
             references=(Reference("center_id", t.centers),),
             referenced_by=((t.devices, "site_id"), (t.cameras, "site_id"))),
    Resource("devices", t.devices, Device, s.DeviceIn, s.DevicePatch, s.DeviceOut,
             references=(Reference("site_id", t.sites),), unique=("account", "topic"),
             to_row=_device_to_row, from_row=_device_from_row, rules=_device_rules, live=_device_live),
    Resource("cameras", t.cameras, Camera, s.CameraIn, s.CameraPatch, s.CameraOut,
             references=(Reference("site_id", t.sites),), to_row=_camera_to_row, from_row=_camera_from_row,
             live=_camera_live),
)


def router() -> APIRouter:
    api = APIRouter()
    for resource in RESOURCES:
        _mount(api, resource)
    return api


def _mount(api: APIRouter, res: Resource) -> None:
    reader = Depends(allow(Role.TECHNICIAN, Role.VIEWER))
    tag: list[str | Enum] = [res.path]
    base = f"/api/v1/{res.path}"

    @api.post(base, status_code=201, response_model=res.out, tags=tag, openapi_extra=_body_schema(res.create))
    def create(body: dict[str, Any], ctx: Ctx, who: Technician) -> Row:
        values = _validate(res.create, body)
        now = utcnow()
        with _conflicts(), ctx.writing() as conn:
            if _get(conn, res, values["id"]) is not None:
                raise HTTPException(409, f"{res.path[:-1]} {values['id']!r} already exists")
            _check(conn, res, values, values["id"])
            conn.execute(insert(res.table).values(**res.to_row(values, ctx.vault), created_at=now,
                                                  updated_at=now))
            _audit(conn, who, "create", res, values["id"], values)
        _refresh(ctx, res, values["id"])
        return _read(ctx, res, values["id"])

    @api.get(base, response_model=s.Page[res.out], tags=tag, dependencies=[reader])  # type: ignore[name-defined]
    def listing(ctx: Ctx, page: Annotated[Paging, Depends(paging)]) -> Row:
        query = select(res.table).order_by(res.table.c.id).limit(page.limit + 1)
        if page.after is not None:
            query = query.where(res.table.c.id > page.after)
        with ctx.db.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        more = len(rows) > page.limit
        rows = rows[: page.limit]
        return {"items": [res.live(ctx, res.from_row(r)) for r in rows],
                "next": encode_cursor(rows[-1]["id"]) if more else None}

    @api.get(base + "/{item_id}", response_model=res.out, tags=tag, dependencies=[reader])
    def read(item_id: str, ctx: Ctx) -> Row:
        return _read(ctx, res, item_id)

    @api.patch(base + "/{item_id}", response_model=res.out, tags=tag, openapi_extra=_body_schema(res.patch))
    def patch(item_id: str, body: dict[str, Any], ctx: Ctx, who: Technician) -> Row:
        changes = _validate(res.patch, body, exclude_unset=True)
        with _conflicts(), ctx.writing() as conn:
            current = _get(conn, res, item_id)
            if current is None:
                raise HTTPException(404, f"no {res.path[:-1]} {item_id!r}")
            merged = {k: current.get(k) for k in res.create.model_fields if k in current} | changes
            merged["id"] = item_id
            values = _validate(res.create, merged)
            _check(conn, res, values, item_id)
            row = res.to_row({k: v for k, v in values.items() if k in changes}, ctx.vault)
            if row:
                conn.execute(update(res.table).where(res.table.c.id == item_id)
                             .values(**row, updated_at=utcnow()))
            _audit(conn, who, "update", res, item_id, changes)
        _refresh(ctx, res, item_id)
        return _read(ctx, res, item_id)

    @api.delete(base + "/{item_id}", status_code=204, tags=tag)
    def remove(item_id: str, ctx: Ctx, who: Technician) -> Response:
        with ctx.writing() as conn:
            if _get(conn, res, item_id) is None:
                raise HTTPException(404, f"no {res.path[:-1]} {item_id!r}")
            for table, column in res.referenced_by:
                if conn.execute(select(table.c.id).where(table.c[column] == item_id).limit(1)).first():
                    raise HTTPException(409, f"{res.path[:-1]} {item_id!r} is still used by {table.name}")
            conn.execute(delete(res.table).where(res.table.c.id == item_id))
            _audit(conn, who, "delete", res, item_id, {})
        _refresh(ctx, res, item_id)
        return Response(status_code=204)

    del create, listing, read, patch, remove


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """Document the body model in OpenAPI while validating it ourselves (PATCH needs the raw keys)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _validate(model: type[BaseModel], body: dict[str, Any], exclude_unset: bool = False) -> Row:
    try:
        return model.model_validate(body).model_dump(exclude_unset=exclude_unset)
    except ValidationError as exc:
        raise invalid(exc) from exc


def _get(conn: Connection, res: Resource, item_id: str) -> Row | None:
    row = conn.execute(select(res.table).where(res.table.c.id == item_id)).one_or_none()
    return None if row is None else dict(row._mapping)


def _read(ctx: Ctx, res: Resource, item_id: str) -> Row:
    with ctx.db.connect() as conn:
        row = _get(conn, res, item_id)
    if row is None:
        raise HTTPException(404, f"no {res.path[:-1]} {item_id!r}")
    return res.live(ctx, res.from_row(row))


def _check(conn: Connection, res: Resource, values: Row, item_id: str) -> None:
    for ref in res.references:
        value = values.get(ref.column)
        if value is None:
            continue
        if ref.table is res.table and value == item_id:
            raise field_error(ref.column, "cannot refer to itself")
        if conn.execute(select(ref.table.c.id).where(ref.table.c.id == value)).first() is None:
            raise field_error(ref.column, f"no {ref.table.name[:-1]} {value!r}")
    for column in res.unique:
        value = values.get(column)
        if value is None:
            continue
        clash = conn.execute(select(res.table.c.id).where(res.table.c[column] == value,
                                                          res.table.c.id != item_id)).first()
        if clash is not None:
            raise HTTPException(409, f"{column} {value!r} is already used by {clash.id!r}")
    res.rules(conn, values, item_id)


def _audit(conn: Connection, who: Principal, action: str, res: Resource, item_id: str, values: Row) -> None:
    """Who changed what, in the same transaction as the change. Secrets are named, never recorded."""
    detail = {k: ("(set)" if k in _SECRET_FIELDS else v) for k, v in values.items() if k != "id"}
    conn.execute(insert(t.audit).values(at=utcnow(), actor=who.name, action=action,
                                        target_kind=res.path[:-1], target_id=item_id, detail=detail))


@contextmanager
def _conflicts() -> Iterator[None]:
    """A write that lost a race against another (same id, same topic) is a 409, not a 500."""
    try:
        yield
    except IntegrityError as exc:
        raise HTTPException(409, "conflicts with an existing object") from exc


def _refresh(ctx: Ctx, res: Resource, item_id: str) -> None:
    ctx.refresh(res.kind, item_id).result(_REFRESH_TIMEOUT_S)


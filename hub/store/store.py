"""The queries of the engine, the forwarder and the supervisor (the API has its own, in hub.web).

Writes go through `write`, one transaction per batch, with executemany inserts: a thousand signals
cost one commit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy import Connection, Engine, Row, Table, func, select

from hub.engine import OpenAlarm
from hub.model import AlarmState, ArmWindow, Camera, Category, Center, Change, Device, Registered, Site
from hub.registry import Registry
from hub.store import schema as t
from hub.store.bulk import Bulk
from hub.writes import Writes


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    id: int
    alarm_id: str
    seq: int
    target: str
    payload: str
    received_at: datetime
    attempts: int


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._bulk = bulk = Bulk(engine.dialect)
        p = bulk.positional
        # The forwarder's and the pipeline's statements, straight to the driver (see bulk).
        self._pending_sql = (
            "SELECT id, alarm_id, seq, target, payload, received_at, attempts FROM deliveries "
            f"WHERE pending = {p} AND sink = {p} AND next_attempt_at <= {p} ORDER BY priority, id LIMIT {p}")
        self._sent_sql = f"UPDATE deliveries SET pending = {p}, sent_at = {p}, attempts = attempts + 1"
        self._delivered_sql = f"UPDATE alarms SET state = {p}"
        # SQLite has one writer at a time and makes the others sleep in its busy handler (1, 2, 5 … 100
        # ms steps): the pipeline and the forwarder take turns here instead, without sleeping.
        self._write_lock = threading.Lock() if engine.dialect.name == "sqlite" else None

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction, taking turns with the hub's other writers on SQLite."""
        with self._write_lock or nullcontext(), self.engine.begin() as conn:
            yield conn

    # -- engine state ------------------------------------------------------------------------------

    def registry(self) -> Registry:
        with self.engine.connect() as conn:
            centers = [_center(r) for r in conn.execute(select(t.centers))]
            sites = [_site(r) for r in conn.execute(select(t.sites))]
            devices = [_device(r) for r in conn.execute(select(t.devices))]
            cameras = [_camera(r) for r in conn.execute(select(t.cameras))]
        return Registry.build(centers, sites, devices, cameras)

    def one(self, kind: type[Registered], item_id: str) -> Registered | None:
        """One center, site or device as the registry holds it, or None if it is gone."""
        table, build = _KINDS[kind]
        with self.engine.connect() as conn:
            row = conn.execute(select(table).where(table.c.id == item_id)).one_or_none()
        return None if row is None else build(row)

    def open_alarms(self) -> list[OpenAlarm]:
        query = select(t.alarms).where(t.alarms.c.state != AlarmState.CLOSED.value)
        with self.engine.connect() as conn:
            return [OpenAlarm(
                id=r.id, seq=r.seq, state=AlarmState(r.state), category=Category(r.category),
                priority=r.priority, agency=r.agency, test=r.test, restored=r.restored,
                verified=r.verified, site_id=r.site_id, center_id=r.center_id, source_kind=r.source_kind,
                source_id=r.source_id, zone=r.zone, signals=r.signals, raised_at=r.raised_at,
                received_at=r.received_at, updated_at=r.updated_at,
                **_from_message(r.message), encoded=r.message, escalated_to=r.escalated_to,
                deadline_at=r.deadline_at, acknowledged_at=r.acknowledged_at, dispatched_at=r.dispatched_at,
                unit=r.unit,
            ) for r in conn.execute(query)]

    def recent_message_ids(self, since: datetime, limit: int = 2_000_000) -> list[tuple[str, str]]:
        """(device, message id) of signals received since `since`, oldest first: the dedup memory."""
        query = (select(t.signals.c.device_id, t.signals.c.msg_id)
                 .where(t.signals.c.received_at >= since, t.signals.c.msg_id.is_not(None))
                 .order_by(t.signals.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            rows = [(r.device_id, r.msg_id) for r in conn.execute(query)]
        rows.reverse()
        return rows

    def early_restores(self, since: datetime) -> list[tuple[tuple[str, str, str], datetime]]:
        """Restores that found no open alarm (they may have overtaken it), oldest first."""
        c = t.signals.c
        query = (select(c.device_id, c.category, c.zone, c.device_time)
                 .where(c.received_at >= since, c.qualifier == "restore", c.alarm_id.is_(None),
                        c.device_time.is_not(None))
                 .order_by(c.id))
        with self.engine.connect() as conn:
            return [((r.device_id, r.category, r.zone), r.device_time) for r in conn.execute(query)]

    def camera_streams(self, camera_id: str | None = None) -> list[tuple[Camera, bytes, bool | None]]:
        """(camera, its sealed stream URL, online as last stored), of one camera or of all."""
        query = select(t.cameras)
        if camera_id is not None:
            query = query.where(t.cameras.c.id == camera_id)
        with self.engine.connect() as conn:
            return [(_camera(r), r.url_enc, r.online) for r in conn.execute(query)]

    def device_states(self) -> dict[str, tuple[bool | None, datetime | None]]:
        """device → (online, last seen) as last stored."""
        query = select(t.devices.c.id, t.devices.c.online, t.devices.c.last_seen_at)
        with self.engine.connect() as conn:
            return {r.id: (r.online, r.last_seen_at) for r in conn.execute(query)}

    def sia_accounts(self, device_id: str | None = None) -> list[tuple[str, str, bytes | None]]:
        """(device, SIA account, sealed AES key or None) of every SIA device, or of one."""
        d = t.devices.c
        query = select(d.id, d.account, d.key_enc).where(d.protocol == "sia", d.account.is_not(None))
        if device_id is not None:
            query = query.where(d.id == device_id)
        with self.engine.connect() as conn:
            return [(r.id, r.account, r.key_enc) for r in conn.execute(query)]

    def camera_states(self) -> dict[str, bool | None]:
        """camera → online as last stored."""
        with self.engine.connect() as conn:
            return {r.id: r.online for r in conn.execute(select(t.cameras.c.id, t.cameras.c.online))}

    # -- one batch ---------------------------------------------------------------------------------

    def write(self, writes: Writes) -> None:
        """Everything of one batch, in one transaction (through the driver directly: see bulk)."""
        bulk = self._bulk
        with self.writing() as conn:
            if writes.alarms_new:
                bulk.insert(conn, t.alarms, list(writes.alarms_new.values()))
            if writes.alarms_changed:
                bulk.update(conn, t.alarms, _ALARM_CHANGES, list(writes.alarms_changed.values()))
            for table, rows in ((t.history_table, writes.history), (t.signals, writes.signals),
                                (t.deliveries, writes.deliveries), (t.dead_letters, writes.dead_letters),
                                (t.unregistered, writes.unregistered), (t.evidence, writes.evidence),
                                (t.state_changes, writes.state_changes)):
                if rows:
                    bulk.insert(conn, table, rows)
            if writes.sent:
                self._mark_sent(conn, writes.sent, writes.delivered)
            if writes.devices_seen:
                bulk.update(conn, t.devices, ("online", "last_seen_at"), list(writes.devices_seen.values()))
            if writes.cameras_seen:
                bulk.update(conn, t.cameras, ("online", "last_frame_at"), list(writes.cameras_seen.values()))

    # -- the hub's own runs (uptime counts the time between them as unknown) --------------------------

    def begin_run(self, version: str, now: datetime) -> int:
        with self.writing() as conn:
            inserted = conn.execute(t.hub_runs.insert().values(
                started_at=now, alive_at=now, stopped_at=None, version=version[:32])).inserted_primary_key
        assert inserted is not None
        return int(inserted[0])

    def alive(self, run_id: int, now: datetime, *, stopped: bool = False) -> None:
        """The hub is still running (or, `stopped`, has stopped cleanly) at `now`."""
        values: dict[str, Any] = {"alive_at": now}
        if stopped:
            values["stopped_at"] = now
        with self.writing() as conn:
            conn.execute(t.hub_runs.update().where(t.hub_runs.c.id == run_id).values(**values))

    # -- outbox ------------------------------------------------------------------------------------

    def pending(self, sink: str, now: datetime, limit: int) -> list[PendingDelivery]:
        """The next deliveries for a sink, most urgent first, then oldest."""
        bulk = self._bulk
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(self._pending_sql, (True, sink, bulk.bind_time(now), limit)).all()
        return [PendingDelivery(id, alarm_id, seq, target, payload, bulk.read_time(received_at), attempts)
                for id, alarm_id, seq, target, payload, received_at, attempts in rows]

    def _mark_sent(self, conn: Connection, sent: list[tuple[list[int], datetime]],
                   delivered: Sequence[str]) -> None:
        """Deliveries confirmed by their sink; `delivered`: alarms that became delivered by it."""
        bulk = self._bulk
        for ids, at in sent:
            bulk.where_in(conn, self._sent_sql, (False, bulk.bind_time(at)), ids)
        if delivered:
            bulk.where_in(conn, self._delivered_sql, (AlarmState.DELIVERED.value,), delivered)

    def outbox_stats(self, sink: str, now: datetime) -> tuple[int, float]:
        """(pending deliveries, age in seconds of the oldest one)."""
        d = t.deliveries.c
        query = select(func.count(), func.min(d.created_at)).where(d.pending.is_(True), d.sink == sink)
        with self.engine.connect() as conn:
            count, oldest = conn.execute(query).one()
        age = (now - oldest).total_seconds() if oldest is not None else 0.0
        return int(count), max(age, 0.0)


def _from_message(encoded: str) -> dict[str, Any]:
    """What an open alarm keeps of its last message besides the text: the change and the evidence."""
    last = json.loads(encoded)
    site = last.get("site") or {}
    return {"change": Change(last["change"]),
            "evidence": tuple((e["kind"], e["url"]) for e in last.get("evidence", [])),
            # the coordinates the alarm showed (the site's or, where it has none, the device's)
            "lat": site.get("lat"), "lon": site.get("lon")}


def _center(r: Row[Any]) -> Center:
    return Center(id=r.id, name=r.name, kind=r.kind, parent_id=r.parent_id, ack_deadline_s=r.ack_deadline_s)


def _site(r: Row[Any]) -> Site:
    return Site(id=r.id, name=r.name, kind=r.kind, address=r.address, lat=r.lat, lon=r.lon,
                door_plate=r.door_plate, pole=r.pole, center_id=r.center_id)


def _device(r: Row[Any]) -> Device:
    return Device(id=r.id, site_id=r.site_id, protocol=r.protocol, account=r.account, topic=r.topic,
                  supervision_s=r.supervision_s, test_mode=r.test_mode)


def _camera(r: Row[Any]) -> Camera:
    return Camera(id=r.id, site_id=r.site_id, name=r.name, enabled=r.enabled, armed=r.armed,
                  schedule=tuple(arm_window(w) for w in r.schedule or []), offline_after_s=r.offline_after_s,
                  motion=dict(r.motion or {}), test_mode=r.test_mode)


def arm_window(stored: dict[str, Any]) -> ArmWindow:
    """A schedule window as stored: {"days": [0..6], "start": "HH:MM", "end": "HH:MM"}."""
    return ArmWindow(days=tuple(stored["days"]), start=time.fromisoformat(stored["start"]),
                     end=time.fromisoformat(stored["end"]))


_KINDS: dict[type[Registered], tuple[Table, Callable[[Row[Any]], Registered]]] = {
    Center: (t.centers, _center), Site: (t.sites, _site), Device: (t.devices, _device),
    Camera: (t.cameras, _camera)}


_ALARM_CHANGES = ("seq", "state", "verified", "restored", "signals", "updated_at", "closed_at", "resolution",
                  "message", "escalated_to", "deadline_at", "acknowledged_at", "dispatched_at", "unit")

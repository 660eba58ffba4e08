"""The database schema (SQLAlchemy Core). Alembic migrations in `hub/migrations` build exactly this.

Times are stored as timezone-aware UTC. The outbox (`deliveries`) is written in the same transaction as
the alarm change it carries, so a crash can never leave one without the other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone: it is put back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

Id = String(64)

centers = Table(
    "centers", metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("parent_id", Id, ForeignKey("centers.id", ondelete="RESTRICT"), nullable=True),
    Column("ack_deadline_s", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

sites = Table(
    "sites", metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("address", String(500), nullable=False),
    Column("lat", Float, nullable=True),
    Column("lon", Float, nullable=True),
    Column("door_plate", String(100), nullable=False),
    Column("pole", String(100), nullable=False),
    Column("center_id", Id, ForeignKey("centers.id", ondelete="RESTRICT"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

devices = Table(
    "devices", metadata,
    Column("id", Id, primary_key=True),
    Column("site_id", Id, ForeignKey("sites.id", ondelete="RESTRICT"), nullable=False),
    Column("protocol", String(32), nullable=False),
    Column("account", String(32), nullable=True, unique=True),
    Column("key_enc", LargeBinary, nullable=True),
    Column("topic", String(300), nullable=True, unique=True),
    Column("supervision_s", Integer, nullable=True),
    Column("test_mode", Boolean, nullable=False),
    Column("online", Boolean, nullable=True),
    Column("last_seen_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

cameras = Table(
    "cameras", metadata,
    Column("id", Id, primary_key=True),
    Column("site_id", Id, ForeignKey("sites.id", ondelete="RESTRICT"), nullable=False),
    Column("name", String(200), nullable=False),
    # The stream URL with its credentials, sealed by the vault; `url` is the same without the password.
    Column("url_enc", LargeBinary, nullable=False),
    Column("url", String(1000), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("armed", String(16), nullable=False),
    Column("schedule", JSON, nullable=False),
    Column("offline_after_s", Integer, nullable=False),
    Column("motion", JSON, nullable=False),
    Column("test_mode", Boolean, nullable=False),
    Column("online", Boolean, nullable=True),
    Column("last_frame_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

alarms = Table(
    "alarms", metadata,
    Column("id", String(26), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("category", String(32), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("agency", String(8), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("test", Boolean, nullable=False),
    Column("restored", Boolean, nullable=False),
    Column("site_id", Id, nullable=True),
    Column("center_id", Id, nullable=False),
    Column("source_kind", String(16), nullable=False),
    Column("source_id", Id, nullable=False),
    Column("zone", String(32), nullable=False),
    Column("signals", Integer, nullable=False),
    Column("raised_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("resolution", String(16), nullable=True),
    # Operators' handling (issue 4): who acknowledged is in the history; deadline_at is when an
    # unacknowledged alarm escalates to the parent of its current center (escalated_to, else center_id).
    Column("escalated_to", Id, nullable=True),
    Column("deadline_at", UTCDateTime, nullable=True),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("dispatched_at", UTCDateTime, nullable=True),
    Column("unit", String(100), nullable=True),
    # The latest 110-queue message, as sent (encoded once, for the outbox and for readers alike).
    Column("message", Text, nullable=False),
    Index(None, "state", "center_id", "priority"),
    Index(None, "source_id", "category", "zone"),
    Index(None, "escalated_to"),
    Index(None, "received_at"),  # daily figures
)

alarm_history = history_table = Table(
    "alarm_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alarm_id", String(26), ForeignKey("alarms.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("change", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("detail", JSON, nullable=True),
    # The 110-queue message of this change (NULL for test alarms, which no center gets): the event
    # stream (SSE) replays these by id, so a console resuming after Last-Event-ID misses nothing.
    Column("message", Text, nullable=True),
    Index(None, "alarm_id", "seq"),
    Index(None, "at"),  # daily figures
)

signals = Table(
    "signals", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("device_id", Id, nullable=False),
    Column("category", String(32), nullable=False),
    Column("qualifier", String(8), nullable=False),
    Column("zone", String(32), nullable=False),
    Column("partition", String(32), nullable=False),
    Column("code", String(16), nullable=False),
    Column("msg_id", String(128), nullable=True),
    Column("device_time", UTCDateTime, nullable=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("text", String(500), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("result", String(16), nullable=False),
    Column("alarm_id", String(26), nullable=True),
    Index(None, "alarm_id"),
    Index(None, "device_id", "received_at"),
    Index(None, "received_at", "msg_id"),
)

deliveries = Table(
    "deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alarm_id", String(26), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("sink", String(32), nullable=False),
    Column("target", String(300), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("pending", Boolean, nullable=False),
    Index(None, "pending", "sink", "priority", "id"),
    Index(None, "alarm_id"),
)

audit = Table(
    "audit", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target_kind", String(32), nullable=False),
    Column("target_id", String(64), nullable=False),
    Column("detail", JSON, nullable=True),
)

dead_letters = Table(
    "dead_letters", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("source", String(16), nullable=False),
    Column("topic", String(300), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("detail", String(500), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Index(None, "at"),
)

unregistered = Table(
    "unregistered", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("source", String(16), nullable=False),
    Column("device_key", String(300), nullable=False),
    Column("topic", String(300), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Index(None, "device_key", "at"),
    Index(None, "at"),
)

state_changes = Table(
    # Every online/offline change of a camera or device, with why: uptime is computed from this history
    # (hub/uptime.py), so it survives restarts.
    "state_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),  # camera | device
    Column("object_id", Id, nullable=False),
    Column("online", Boolean, nullable=False),
    Column("reason", String(32), nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "kind", "object_id", "at"),
)

hub_runs = Table(
    # One row per start of the hub: when it started, when it was last known alive, and when it stopped
    # cleanly (null after a crash). Outside these spans nothing is known of cameras and devices, so
    # uptime counts that time neither way.
    "hub_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("alive_at", UTCDateTime, nullable=False),
    Column("stopped_at", UTCDateTime, nullable=True),
    Column("version", String(32), nullable=False),
    Index(None, "alive_at"),
)

tokens = Table(
    "tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("center_id", Id, nullable=True),  # an operator's receiving center: the queue the console shows
    Column("language", String(8), nullable=False, server_default="zh-CN"),
)

evidence = Table(
    "evidence", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alarm_id", String(26), nullable=False),
    Column("n", Integer, nullable=False),  # its number within the alarm: /alarms/{id}/evidence/{n}.{ext}
    Column("kind", String(16), nullable=False),
    Column("camera_id", Id, nullable=False),
    Column("path", String(500), nullable=False),  # under HUB_DATA_DIR/evidence
    Column("created_at", UTCDateTime, nullable=False),
    Column("removed_at", UTCDateTime, nullable=True),  # by the retention limit
    Index(None, "alarm_id", "n", unique=True),
    Index(None, "created_at"),
)

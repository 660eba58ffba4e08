"""Domain objects of the hub: frozen values that flow from drivers through the engine to the store.

Times are timezone-aware UTC `datetime`s. Wire formats (JSON, DC-09) never reach past the drivers: the
core sees only these types.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, tzinfo


def utcnow() -> datetime:
    return datetime.now(UTC)


class Category(enum.StrEnum):
    """What a signal or alarm is about. The first fifteen are the MQTT `event` names of CONTRACT.md."""

    BURGLARY = "burglary"
    PANIC = "panic"
    DURESS = "duress"
    FIRE = "fire"
    MEDICAL = "medical"
    GAS = "gas"
    WATER = "water"
    TAMPER = "tamper"
    AC_LOSS = "ac_loss"
    LOW_BATTERY = "low_battery"
    COMM_FAULT = "comm_fault"
    OPEN = "open"
    CLOSE = "close"
    BYPASS = "bypass"
    TEST = "test"
    # Beyond the MQTT event names: reported by Contact ID / SIA codes, cameras and supervision.
    TROUBLE = "trouble"
    TEMPERATURE = "temperature"
    CANCEL = "cancel"
    VIDEO_MOTION = "video_motion"
    VIDEO_LOSS = "video_loss"
    UNKNOWN = "unknown"


class Qualifier(enum.StrEnum):
    NEW = "new"
    RESTORE = "restore"
    STATUS = "status"


class Source(enum.StrEnum):
    """Which input path a signal came through (the `source` label of `hub_signals_total`)."""

    MQTT = "mqtt"
    ZIGBEE2MQTT = "zigbee2mqtt"
    SIA = "sia"
    CAMERA = "camera"
    SUPERVISOR = "supervisor"


class AlarmState(enum.StrEnum):
    NEW = "new"
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    ESCALATED = "escalated"
    CLOSED = "closed"


class Change(enum.StrEnum):
    """The `change` field of a 110-queue message."""

    NEW = "new"
    UPDATED = "updated"
    RESTORED = "restored"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    CLOSED = "closed"


class SignalResult(enum.StrEnum):
    """The `result` label of `hub_signals_total`: what the hub did with one input."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    UNREGISTERED = "unregistered"


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal:
    """One normalised observation from a source.

    `device_id` is the registered device (or the camera); `msg_id` makes a message idempotent when the
    source gives one; `code` keeps the source's own code (Contact ID `130`, SIA `BA`) for the record.
    """

    source: Source
    device_id: str
    category: Category
    qualifier: Qualifier = Qualifier.NEW
    zone: str = ""
    partition: str = ""
    device_time: datetime | None = None
    received_at: datetime = field(default_factory=utcnow)
    msg_id: str | None = None
    code: str = ""
    text: str = ""
    raw: bytes = b""
    evidence: tuple[Evidence, ...] = ()
    lat: float | None = None  # where the device says it is (a 4G panel's GPS), when it says
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """A file that shows what happened (a snapshot, a clip), by its path under the evidence folder.
    A clip may still be being written when the signal is applied."""

    kind: str  # "snapshot" | "clip" (files under the evidence folder) | "link" (`path` is the device's URL)
    path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """A device said it is alive, with nothing to report."""

    source: Source
    device_id: str
    received_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True, kw_only=True)
class Center:
    id: str
    name: str
    kind: str
    parent_id: str | None
    ack_deadline_s: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    id: str
    name: str
    kind: str
    address: str
    lat: float | None
    lon: float | None
    door_plate: str
    pole: str
    center_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    id: str
    site_id: str
    protocol: str
    account: str | None
    topic: str | None
    supervision_s: int | None
    test_mode: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ArmWindow:
    """Armed from `start` to `end` (local time of the centers) on `days` (0 Monday … 6 Sunday); an
    `end` not after `start` runs past midnight into the next day."""

    days: tuple[int, ...]
    start: time
    end: time

    def covers(self, local: datetime) -> bool:
        now = local.time()
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= now < self.end
        # Overnight: the evening part belongs to the start day, the morning part to the day before.
        if now >= self.start:
            return local.weekday() in self.days
        return now < self.end and (local.weekday() - 1) % 7 in self.days


@dataclass(frozen=True, slots=True, kw_only=True)
class Camera:
    """A video source at a site. Its stream URL is a secret and lives only in the store (sealed)."""

    id: str
    site_id: str
    name: str
    enabled: bool
    armed: str  # "true" | "false" | "schedule"
    schedule: tuple[ArmWindow, ...]
    offline_after_s: int
    motion: dict[str, object]  # the camera's motion settings as stored (validated by hub.motion)
    test_mode: bool

    def armed_at(self, when: datetime, zone: tzinfo) -> bool:
        """Does motion on this camera raise an alarm at this moment?"""
        if self.armed == "true":
            return True
        if self.armed == "false":
            return False
        local = when.astimezone(zone)
        return any(window.covers(local) for window in self.schedule)


Registered = Center | Site | Device | Camera
"""What the registry holds and the API registers."""

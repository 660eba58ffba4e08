"""Pydantic models of the API's bodies and answers (CONTRACT.md). Validation errors become 422s."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from drivers.sia_dc09.codec import parse_key


def no_nul(value: str) -> str:
    """PostgreSQL cannot store U+0000 in text, and no name or address needs it."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


Clean = AfterValidator(no_nul)
ObjectId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$",
                                description="Letters, digits and _ . : - (up to 64)")]
Text = Annotated[str, Field(max_length=500), Clean]
Name = Annotated[str, Field(min_length=1, max_length=200), Clean]
Short = Annotated[str, Field(max_length=100), Clean]
Kind = Annotated[str, Field(min_length=1, max_length=32), Clean]
CenterKind = Literal["110", "station", "community"]
Protocol = Literal["mqtt", "zigbee2mqtt", "sia"]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]
Seconds = Annotated[int, Field(ge=10, le=7 * 86400)]

T = TypeVar("T")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None


# -- centers -----------------------------------------------------------------------------------------

class CenterPatch(_In):
    name: Name | None = None
    kind: CenterKind | None = None
    parent_id: ObjectId | None = None
    ack_deadline_s: Seconds | None = Field(None, description="Escalate to the parent after this")


class CenterIn(CenterPatch):
    id: ObjectId
    name: Name
    kind: CenterKind
    ack_deadline_s: Seconds = 120


class CenterOut(BaseModel):
    id: str
    name: str
    kind: str
    parent_id: str | None
    ack_deadline_s: int


# -- sites -------------------------------------------------------------------------------------------

class SitePatch(_In):
    name: Name | None = None
    kind: Kind | None = None
    address: Text | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    door_plate: Short | None = None
    pole: Short | None = None
    center_id: ObjectId | None = None


class SiteIn(SitePatch):
    id: ObjectId
    name: Name
    kind: Kind = "shop"
    address: Text = ""
    door_plate: Short = ""
    pole: Short = ""


class SiteOut(BaseModel):
    id: str
    name: str
    kind: str
    address: str
    lat: float | None
    lon: float | None
    door_plate: str
    pole: str
    center_id: str | None


# -- devices -----------------------------------------------------------------------------------------

def check_aes_key(key: str) -> str:
    """16/24/32 ASCII characters, or 32/48/64 hex digits (AES-128/192/256): what the SIA receiver can use."""
    parse_key(key)  # ValueError says what is wrong
    return key


class DevicePatch(_In):
    site_id: ObjectId | None = None
    protocol: Protocol | None = None
    account: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{3,16}$", description="SIA account")] | None = None
    key: Annotated[str, StringConstraints(strip_whitespace=False),  # a space may be part of a key
                   Field(description="AES key, write-only, stored encrypted")] | None = None
    topic: Annotated[str, Field(min_length=1, max_length=300, pattern=r"^[^#+\s\x00]+$")] | None = None
    supervision_s: Seconds | None = Field(None, description="Expected reporting interval; none: unsupervised")
    test_mode: bool | None = None

    @field_validator("key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        return None if value is None else check_aes_key(value)

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        """Panels send accounts in either case; one account is one device (DC-09 hex digits)."""
        return None if value is None else value.upper()


class DeviceIn(DevicePatch):
    id: ObjectId
    site_id: ObjectId
    protocol: Protocol = "mqtt"
    test_mode: bool = False


# protocol → the field it cannot do without, and why.
REQUIRED_BY_PROTOCOL = {"zigbee2mqtt": ("topic", "a zigbee2mqtt device needs its state topic"),
                        "sia": ("account", "a SIA device needs its account")}


class DeviceOut(BaseModel):
    id: str
    site_id: str
    protocol: str
    account: str | None
    has_key: bool
    topic: str | None
    supervision_s: int | None
    test_mode: bool
    online: bool | None
    last_seen_at: datetime | None
    uptime_24h: float | None = Field(None, description="Time online over known time, last 24 h")
    uptime_7d: float | None = Field(None, description="Time online over known time, last 7 days")


# -- cameras -----------------------------------------------------------------------------------------

_STREAM_URL = re.compile(r"^rtsps?://[^\s/?#]+(/[^\s]*)?$")
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def check_stream_url(url: str) -> str:
    """rtsp:// or rtsps://, a host, any path; credentials (user:password@) allowed and kept secret."""
    if not _STREAM_URL.match(url):
        raise ValueError("a camera URL is rtsp://[user:password@]host[:port]/path (or rtsps://)")
    return url


class ArmWindowIn(_In):
    days: Annotated[list[Annotated[int, Field(ge=0, le=6)]], Field(min_length=1, max_length=7,
                                                                   description="0 Monday … 6 Sunday")]
    start: Annotated[str, Field(pattern=_HHMM, description="HH:MM, the centers' local time")]
    end: Annotated[str, Field(pattern=_HHMM, description="HH:MM; not after start: runs past midnight")]


class CameraPatch(_In):
    site_id: ObjectId | None = None
    name: Name | None = None
    url: Annotated[str, Field(max_length=1000, description="Stream URL; its password is stored "
                                                            "encrypted and never shown again"),
                   AfterValidator(check_stream_url), Clean] | None = None
    enabled: bool | None = None
    armed: bool | Literal["schedule"] | None = Field(
        None, description="Motion raises alarms: true, false, or per `schedule`")
    schedule: Annotated[list[ArmWindowIn], Field(max_length=32)] | None = None
    offline_after_s: Annotated[int, Field(ge=10, le=86400)] | None = Field(
        None, description="Silent this long → a video_loss alarm")
    motion: dict[str, Any] | None = Field(None, description="Motion settings (hub.motion.MotionSettings)")
    test_mode: bool | None = None

    @field_validator("motion")
    @classmethod
    def _motion(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        from hub.motion.settings import MotionSettings
        return None if value is None else MotionSettings.model_validate(value).model_dump(mode="json")


class CameraIn(CameraPatch):
    id: ObjectId
    site_id: ObjectId
    name: Name
    url: Annotated[str, Field(max_length=1000), AfterValidator(check_stream_url), Clean]
    enabled: bool = True
    armed: bool | Literal["schedule"] = False
    schedule: Annotated[list[ArmWindowIn], Field(max_length=32)] = []
    offline_after_s: Annotated[int, Field(ge=10, le=86400)] = 60
    motion: dict[str, Any] = {}
    test_mode: bool = False


class CameraOut(BaseModel):
    id: str
    site_id: str
    name: str
    url: str = Field(description="Without its password")
    enabled: bool
    armed: bool | Literal["schedule"]
    schedule: list[dict[str, Any]]
    offline_after_s: int
    motion: dict[str, Any]
    test_mode: bool
    status: Literal["online", "offline", "connecting", "disabled"]
    reason: str | None = Field(None, description="Why the stream last failed")
    fps: float | None
    last_frame_at: datetime | None
    width: int | None = Field(None, description="Of the picture now streamed")
    height: int | None = None
    quality: str | None = None
    reconnects_1h: int | None = None
    stalls_1h: int | None = None
    frames_dropped: int | None = None
    uptime_24h: float | None = Field(None, description="Time online over known time, last 24 h")
    uptime_7d: float | None = Field(None, description="Time online over known time, last 7 days")


# -- state history ---------------------------------------------------------------------------------

class StateChangeOut(BaseModel):
    at: datetime
    online: bool
    reason: str | None = Field(None, description="Why it went offline (silent, unreachable, stalled, …)")


class HubDownOut(BaseModel):
    start: datetime
    end: datetime


class UptimeOut(BaseModel):
    h1: float | None = Field(None, alias="1h")
    h24: float | None = Field(None, alias="24h")
    d7: float | None = Field(None, alias="7d")
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class StateHistoryOut(BaseModel):
    kind: Literal["camera", "device"]
    id: str
    since: datetime
    state_at_since: bool | None = Field(description="Online at `since` (null: not known then)")
    changes: list[StateChangeOut] = Field(description="Every change since `since`, oldest first")
    truncated: bool = Field(description="More changes than `limit`: the newest are left out")
    hub_down: list[HubDownOut] = Field(description="When the hub itself was not running: nothing is known "
                                                   "of the camera or device then")
    uptime: UptimeOut = Field(description="Time online over the time whose state is known (null: none known)")


# -- others ------------------------------------------------------------------------------------------

Language = Literal["zh-CN", "en"]


class TokenIn(_In):
    role: Literal["admin", "technician", "operator", "viewer"]
    name: Name
    center_id: ObjectId | None = Field(None, description="The receiving center whose queue the console shows")
    language: Language = "zh-CN"


class TokenOut(BaseModel):
    token: str
    role: str
    name: str
    center_id: str | None = None


class MePatch(_In):
    language: Language


class CenterBrief(BaseModel):
    id: str
    name: str
    kind: str
    parent_id: str | None
    ack_deadline_s: int


class MeOut(BaseModel):
    name: str
    role: str
    center_id: str | None
    language: Language
    timezone: str = Field(description="The centers' time zone: the console shows times in it, 24-hour")
    center: CenterBrief | None


class DispatchIn(_In):
    unit: Annotated[str, Field(min_length=1, max_length=100, description="The unit sent (car, post…)"), Clean]
    note: Annotated[str, Field(max_length=1000), Clean] = ""


class CloseIn(_In):
    resolution: Literal["real", "false", "test"]
    note: Annotated[str, Field(max_length=1000), Clean] = ""


class DeadLetterOut(BaseModel):
    id: int
    at: datetime
    source: str
    topic: str
    reason: str
    detail: str
    raw: str = Field(description="The bytes as received, base64")


class UnregisteredOut(BaseModel):
    id: int
    at: datetime
    source: str
    device_key: str
    topic: str
    raw: str = Field(description="The bytes as received, base64")


class HistoryOut(BaseModel):
    seq: int
    change: str
    state: str
    at: datetime
    actor: str
    detail: dict[str, Any] | None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    version: str
    database: bool
    site_broker: bool
    cc_broker: bool
    embedded_broker: str | None

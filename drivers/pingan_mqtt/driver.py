"""Decoder of `{prefix}/v1/devices/{device_id}/event` (canonical JSON or a Contact ID string) and
`.../heartbeat` (any payload)."""

from __future__ import annotations

from datetime import UTC
from typing import ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from drivers.base import Decoded, Inbound
from drivers.pingan_mqtt.config import Settings
from hub import contact_id
from hub.errors import Rejected, Unregistered
from hub.model import Category, Heartbeat, Qualifier, Signal, Source
from hub.registry import Registry

EventName = Literal["burglary", "panic", "duress", "fire", "medical", "gas", "water", "tamper", "ac_loss",
                    "low_battery", "comm_fault", "open", "close", "bypass", "test"]
Code = str | int


class EventPayload(BaseModel):
    """One event as CONTRACT.md writes it. Unknown extra fields are ignored (newer senders)."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)
    event: EventName | None = None
    cid: str | None = Field(None, max_length=32)
    qualifier: Literal["new", "restore", "status"] = "new"
    zone: Code = Field("", description="Zone number or name")
    partition: Code = ""
    ts: AwareDatetime | None = None
    id: str | None = Field(None, min_length=1, max_length=128)
    text: str = Field("", max_length=500)

    @field_validator("cid", "zone", "partition", "id", "text")
    @classmethod
    def _no_nul(cls, value: Code | None) -> Code | None:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @model_validator(mode="after")
    def _one_of_event_or_cid(self) -> EventPayload:
        if (self.event is None) == (self.cid is None):
            raise ValueError("exactly one of 'event' and 'cid' is required")
        return self


class PinganMqtt:
    protocol: ClassVar[str] = "mqtt"

    def __init__(self, settings: Settings) -> None:
        self.prefix = settings.prefix
        self._head = f"{settings.prefix}/v1/devices/"

    def subscriptions(self) -> list[str]:
        return [f"{self._head}+/event", f"{self._head}+/heartbeat"]

    def accepts(self, topic: str) -> bool:
        return topic.startswith(self._head)

    def decode(self, inbound: Inbound, registry: Registry) -> Decoded:
        parts = inbound.topic[len(self._head):].split("/")
        if len(parts) != 2 or not parts[0] or parts[1] not in ("event", "heartbeat"):
            raise Rejected("bad_topic", inbound.topic[:200])
        device_id, kind = parts
        if device_id not in registry.devices:
            raise Unregistered(device_id)
        if kind == "heartbeat":
            return Decoded(device_id=device_id, items=(
                Heartbeat(source=Source.MQTT, device_id=device_id, received_at=inbound.received_at),))
        return Decoded(device_id=device_id, items=(_signal(device_id, _parse(inbound.payload, device_id),
                                                           inbound),))


def _parse(payload: bytes, device_id: str) -> EventPayload:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Rejected("bad_encoding", f"not UTF-8 at byte {exc.start}", device_id=device_id) from exc
    try:
        return EventPayload.model_validate_json(text)
    except ValidationError as exc:
        raise Rejected(_reason(exc), _detail(exc), device_id=device_id) from exc


def _reason(exc: ValidationError) -> str:
    errors = exc.errors()
    if any(e["type"] == "json_invalid" for e in errors):
        return "not_json"
    if any(e["type"] == "model_type" or e["type"] == "model_attributes_type" for e in errors):
        return "not_an_object"
    if any(e["loc"][:1] == ("event",) and e["type"] == "literal_error" and isinstance(e["input"], str)
           for e in errors):
        return "unknown_event"
    if any(e["loc"][:1] == ("ts",) and e["type"] == "timezone_aware" for e in errors):
        return "time_without_zone"
    return "bad_field"


def _detail(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in exc.errors())[:500]


def _signal(device_id: str, event: EventPayload, inbound: Inbound) -> Signal:
    zone, partition = str(event.zone), str(event.partition)
    if event.cid is not None:
        try:
            cid = contact_id.parse(event.cid)
        except Rejected as exc:
            raise Rejected(exc.reason, exc.detail, device_id=device_id) from exc
        category, qualifier, code = cid.category, cid.qualifier, f"{cid.code:03d}"
        zone, partition = cid.zone, cid.partition
    else:
        assert event.event is not None
        category, qualifier, code = Category(event.event), Qualifier(event.qualifier), ""
    device_time = event.ts.astimezone(UTC) if event.ts else None
    return Signal(source=Source.MQTT, device_id=device_id, category=category, qualifier=qualifier,
                  zone=zone, partition=partition, device_time=device_time,
                  received_at=inbound.received_at, msg_id=event.id, code=code, text=event.text,
                  raw=inbound.payload)


"""SIA DC-09 frames into signals, and the reply each frame earns (ALARMS.md).

The receiver (`hub.sia_receiver`) parses a frame to choose its reply and hands the parse here with the
raw bytes; the pipeline runs `SiaDc09.decode` on its own thread, commits, and only then is the reply
sent: a panel hears ACK for an event only once its signal is stored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from drivers.base import Decoded, Inbound
from drivers.sia_dc09 import codec, codes
from drivers.sia_dc09.codec import Frame, FrameError
from drivers.sia_dc09.config import Settings
from hub.errors import Rejected, Unregistered
from hub.model import Category, Evidence, Heartbeat, Qualifier, Signal, Source
from hub.registry import Registry

TOPIC_PREFIX = "sia/"  # Inbound.topic of a frame: sia/tcp/<peer> or sia/udp/<peer>
_REPLIES = codec.REPLY_TOKENS  # a receiver's tokens: a panel has no business sending them
_ACCOUNT = re.compile(rb'"\*?[A-Z0-9-]{1,16}"[0-9A-Fa-f]{4}(?:R[0-9A-Fa-f]{1,6})?(?:L[0-9A-Fa-f]{1,6})?'
                      rb'#([0-9A-Fa-f]{1,16})')
_LINK = re.compile(r"^https?://[^\s]{1,2000}$")
_DEGREES = re.compile(r"^\s*([NSEW])?\s*(-?\d{1,3}(?:\.\d+)?)\s*([NSEW])?\s*$", re.IGNORECASE)


def peek_account(raw: bytes) -> str | None:
    """The account of a frame that could not be parsed (for the sighting or the dead letter)."""
    found = _ACCOUNT.search(raw[:200])
    return found.group(1).decode().upper() if found else None


def answer(parsed: Frame | FrameError, *, known: bool, key: bytes | None, now: datetime,
           settings: Settings) -> bytes | None:
    """What the panel hears back, once the frame is stored. None: nothing at all (a bad CRC, a frame
    that cannot be read; DC-09 wants silence so that the panel repeats it)."""
    if isinstance(parsed, FrameError):
        if parsed.reason == "no_key" and not known and settings.unknown_account == "nak":
            return codec.nak(now)
        return None
    if parsed.token in _REPLIES:
        return None
    if not known:
        if settings.unknown_account == "nak":
            return codec.nak(now)
        if settings.unknown_account == "ack" and not parsed.encrypted:
            return codec.ack(parsed)
        return None
    if parsed.encrypted and not _in_window(parsed, now, settings):
        return codec.nak(now)  # with the receiver's time: the panel sets its clock and repeats
    # A well-formed message is acknowledged even when its code means nothing to us: answering DUH put an
    # Ajax hub into a reconnect loop (home-assistant/core #160310). The code is stored as unknown.
    return codec.ack(parsed, key, now)


def _in_window(frame: Frame, now: datetime, settings: Settings) -> bool:
    return frame.timestamp is not None and codec.in_window(frame.timestamp, now, settings.clock_ahead_s,
                                                           settings.clock_behind_s)


class SiaDc09:
    """The decoder of frames the SIA receiver took in (there is no MQTT topic to subscribe to). The
    receiver hands over its parse (it decrypted the frame to choose its reply); a frame without one is
    parsed here, in the clear only (the keys live with the receiver)."""

    protocol: ClassVar[str] = "sia"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def subscriptions(self) -> list[str]:
        return []

    def accepts(self, topic: str) -> bool:
        return topic.startswith(TOPIC_PREFIX)

    def decode(self, inbound: Inbound, registry: Registry) -> Decoded:
        parsed = inbound.parsed
        if not isinstance(parsed, Frame | FrameError):
            parsed = parse(inbound.payload, lambda _account: None)
        if isinstance(parsed, FrameError):
            account = peek_account(inbound.payload)
            device = registry.by_account.get(account) if account else None
            if parsed.reason == "no_key" and account and device is None:
                raise Unregistered(account)
            raise Rejected(parsed.reason, parsed.detail, device_id=device.id if device else None)
        device = registry.by_account.get(parsed.account.upper())
        if parsed.token in _REPLIES:
            raise Rejected("unexpected_token", f"{parsed.token!r} is a receiver's reply",
                           device_id=device.id if device else None)
        if device is None:
            raise Unregistered(parsed.account.upper())
        if parsed.encrypted and not _in_window(parsed, inbound.received_at, self.settings):
            # Still a sign of life (the device is heard), but not an event: the panel repeats it after NAK.
            raise Rejected("clock", f"stamped {parsed.timestamp}, received {inbound.received_at}",
                           device_id=device.id)
        return Decoded(device_id=device.id, items=items_of(parsed, device.id, inbound))


def parse(raw: bytes, key_for: Callable[[str], bytes | None]) -> Frame | FrameError:
    try:
        return codec.parse(raw, key_for)
    except FrameError as exc:
        return exc


def items_of(frame: Frame, device_id: str, inbound: Inbound) -> tuple[Signal | Heartbeat, ...]:
    """The signals of one frame (a NULL is a heartbeat: it only restarts the supervision timer)."""
    if frame.token == "NULL":
        return (Heartbeat(source=Source.SIA, device_id=device_id, received_at=inbound.received_at),)
    try:
        if frame.token == "SIA-DCS":
            events = codes.parse_dcs(frame.data)
        elif frame.token == "ADM-CID":
            events = [codes.parse_cid(frame.data)]
        else:
            events = [_unknown(frame.token, frame.data)]
    except FrameError:
        # Well-formed as a frame, not understood inside: kept as an unknown event for a person to read.
        events = [_unknown("?", frame.data)]
    msg_id = _message_id(frame, inbound.received_at)
    extra = _Extra.of(frame) if frame.extended else _NO_EXTRA
    return tuple(Signal(source=Source.SIA, device_id=device_id, category=e.category, qualifier=e.qualifier,
                        zone=e.zone, partition=e.partition, device_time=extra.event_time or frame.timestamp,
                        received_at=inbound.received_at, msg_id=f"{msg_id}/{n}", code=e.code,
                        text=extra.text(e.text), raw=inbound.payload, evidence=extra.evidence,
                        lat=extra.lat, lon=extra.lon)
                 for n, e in enumerate(events))


def _unknown(code: str, data: str) -> codes.SiaEvent:
    return codes.SiaEvent(code=code[:16], category=Category.UNKNOWN, qualifier=Qualifier.NEW, zone="",
                          partition="", user="", text=data[:200])


def _message_id(frame: Frame, received_at: datetime) -> str:
    """The same message repeated (same sequence number, same content) has the same id and is recorded
    once (DC-09 Annex C: 9995, 9996, 9995, 9997 is three events). Not the timestamp: a panel repeats an
    encrypted message with a new one after a NAK. The hour of arrival is in the id because the sequence
    number wraps at 9999, which a panel polling every minute reaches within a week: a repeat comes
    within the panel's retry window, not 9,999 messages later. (A repeat across the turn of an hour is
    taken as a new signal; its alarm, if still open, merges it.)"""
    content = "\x1f".join([frame.token, frame.data, *(f"{k}{v}" for k, v in frame.extended)])
    digest = hashlib.blake2b(content.encode(), digest_size=8).hexdigest()
    return f"{frame.seq}-{digest}-{int(received_at.timestamp()) // 3600}"


@dataclass(frozen=True, slots=True)
class _Extra:
    """What the extended data blocks add: where (coordinates, site/building/room/location text), a link
    to verification video or audio, the event's own time, and alarm text."""

    lat: float | None
    lon: float | None
    place: str
    note: str
    evidence: tuple[Evidence, ...]
    event_time: datetime | None

    @classmethod
    def of(cls, frame: Frame) -> _Extra:
        place = " / ".join(v.strip() for letter in "SORL" if (v := frame.extra(letter)) and v.strip())
        link = (frame.extra("V") or "").strip()
        return cls(lat=_degrees(frame.extra("Y"), 90.0), lon=_degrees(frame.extra("X"), 180.0),
                   place=place[:200], note=(frame.extra("I") or "").strip()[:200],
                   evidence=(Evidence(kind="link", path=link),) if _LINK.match(link) else (),
                   event_time=_event_time(frame.extra("H")))

    def text(self, own: str) -> str:
        return " — ".join(part for part in (own.strip(), self.note, self.place) if part)[:500]


def _degrees(value: str | None, limit: float) -> float | None:
    """`[Y N39.9042]`, `[X116.4074E]`, `[X-73.9]`: decimal degrees, south and west negative."""
    found = _DEGREES.match(value or "")
    if not found:
        return None
    hemisphere = (found.group(1) or found.group(3) or "").upper()
    degrees = float(found.group(2)) * (-1 if hemisphere in ("S", "W") else 1)
    return degrees if -limit <= degrees <= limit else None


def _event_time(value: str | None) -> datetime | None:
    """`[H…]` in the timestamp's own layout (HH:MM:SS,MM-DD-YYYY, UTC); anything else is ignored."""
    if not value:
        return None
    try:
        return datetime.strptime(value.strip().lstrip("_"), "%H:%M:%S,%m-%d-%Y").replace(tzinfo=UTC)
    except ValueError:
        return None


_NO_EXTRA = _Extra(lat=None, lon=None, place="", note="", evidence=(), event_time=None)

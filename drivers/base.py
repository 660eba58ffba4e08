"""The three shapes every driver takes.

A *decoder* turns one message of its wire format into signals and heartbeats; it knows its topics and
its format and nothing else. A *sink* sends deliveries to one kind of receiver and says which it
confirmed. A *video source* keeps one camera's stream open and hands over its newest frame, its
status, and clips of its own packets. Each translates its library's errors at this boundary
(`hub.errors`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

from hub.model import Heartbeat, Signal
from hub.registry import Registry


@dataclass(frozen=True, slots=True, kw_only=True)
class Inbound:
    """One raw message as it arrived, before any parsing."""

    topic: str
    payload: bytes
    received_at: datetime
    # What the transport already made of the payload, for its decoder (a SIA frame: the receiver must
    # parse and decrypt it to choose its reply; the decoder need not do it again).
    parsed: object = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Decoded:
    """What one message said. `device_id` None: no registered device spoke (a broker's own topic)."""

    device_id: str | None
    items: tuple[Signal | Heartbeat, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    """One delivery as a sink sees it: where to, and the encoded message."""

    target: str
    payload: str


class Decoder(Protocol):
    protocol: ClassVar[str]

    def subscriptions(self) -> list[str]:
        """MQTT topic filters this decoder reads."""
        ...

    def accepts(self, topic: str) -> bool: ...

    def decode(self, inbound: Inbound, registry: Registry) -> Decoded:
        """Signals and heartbeats of one message. Raises Rejected or Unregistered."""
        ...


class Sink(Protocol):
    kind: ClassVar[str]

    def ready(self) -> bool:
        """True while the receiver is reachable; a forwarder waits instead of sending otherwise."""
        ...

    def send(self, items: Sequence[Outgoing], timeout: float) -> list[bool]:
        """Send all, wait up to `timeout` for the receiver's confirmations; one flag per item."""
        ...

    def close(self) -> None: ...


class VideoSource(Protocol):
    kind: ClassVar[str]
    on_status: Callable[[Any], None] | None  # called from the source's own thread on every change
    on_frame: Callable[[], None] | None  # likewise, when a new frame is ready for latest()

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def latest(self, timeout: float | None = None) -> Any:
        """The newest frame not yet taken (latest wins), waiting up to `timeout` s; None if none came."""
        ...

    def status(self) -> Any: ...

    def snapshot(self) -> Any:
        """The most recent picture in colour, or None before the first."""
        ...

    def clip(self, start_wall: float, end_wall: float, path: Path) -> Future[Path]:
        """The source's own packets of [start_wall, end_wall] written to `path`, without re-encoding."""
        ...

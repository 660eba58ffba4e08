"""The two shapes every driver takes.

A *decoder* turns one message of its wire format into signals and heartbeats; it knows its topics and
its format and nothing else. A *sink* sends deliveries to one kind of receiver and says which it
confirmed. Both translate their library's errors at this boundary (`hub.errors`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from hub.model import Heartbeat, Signal
from hub.registry import Registry


@dataclass(frozen=True, slots=True, kw_only=True)
class Inbound:
    """One raw message as it arrived, before any parsing."""

    topic: str
    payload: bytes
    received_at: datetime


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

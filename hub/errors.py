"""The hub's error tree. Lower-level errors are translated into these at the boundary that sees them.

    HubError
    ├── ConfigError        bad configuration: do not retry, tell the operator which setting
    ├── Rejected           an input that cannot be understood: dead-lettered with its reason
    ├── NotFound           an unknown id (API 404)
    ├── Conflict           a state change that is not allowed, or a duplicate id (API 409)
    ├── Unavailable        a dependency (broker, database) is down: transient, retry with backoff
    └── Unregistered       a message from a device nobody registered: kept for technicians
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    """The configuration is invalid; retrying will not help."""


class Rejected(HubError):
    """An input was malformed. `reason` is a short, bounded code usable as a metric label."""

    def __init__(self, reason: str, detail: str = "", *, device_id: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.device_id = device_id


class NotFound(HubError):
    """The object does not exist."""


class Conflict(HubError):
    """The change conflicts with the current state."""


class Unavailable(HubError):
    """A dependency is down for now; the caller retries later."""


class Unregistered(HubError):
    """A message from a device the hub does not know: kept and listed, never forwarded."""

    def __init__(self, device_key: str) -> None:
        super().__init__(f"unregistered device {device_key!r}")
        self.device_key = device_key

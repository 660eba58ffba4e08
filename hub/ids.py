"""Sortable unique identifiers (ULID, Crockford base32) for alarms.

A ULID sorts by creation time, so the 110 queue and the store can order alarms by id alone, and it is
unique across hub nodes without a coordinator.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(now: float | None = None) -> str:
    """A 26-character ULID: 48 bits of milliseconds since the epoch, then 80 random bits."""
    ms = int((time.time() if now is None else now) * 1000)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))

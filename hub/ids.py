"""Sortable unique identifiers (ULID, Crockford base32) for alarms.

A ULID sorts by creation time, so the 110 queue and the store can order alarms by id alone, and it is
unique across hub nodes without a coordinator.
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Two characters (10 bits) at a time: 13 steps instead of 26 for the 130 bits of a ULID's 26 characters.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


def new_ulid(now: float | None = None) -> str:
    """A 26-character ULID: 48 bits of milliseconds since the epoch, then 80 random bits."""
    ms = int((time.time() if now is None else now) * 1000)
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    pairs = [_PAIRS[(value >> shift) & 1023] for shift in range(120, -10, -10)]
    return "".join(pairs)

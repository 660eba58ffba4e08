"""Sortable unique identifiers (ULID, Crockford base32) for alarms.

A ULID sorts by creation time, so the 110 queue and the store can order alarms by id alone, and it is
unique across hub nodes without a coordinator.
"""

from __future__ import annotations

import os
import random
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Two characters (10 bits) at a time: 13 steps instead of 26 for the 130 bits of a ULID's 26 characters.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


# Uniqueness, not secrecy: a generator seeded once from the OS, so an id costs no system call.
_random = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(32)))  # a forked child must not repeat us


def new_ulid(now: float | None = None) -> str:
    """A 26-character ULID: 48 bits of milliseconds since the epoch, then 80 random bits."""
    ms = int((time.time() if now is None else now) * 1000)
    value = (ms << 80) | _random.getrandbits(80)
    pairs = [_PAIRS[(value >> shift) & 1023] for shift in range(120, -10, -10)]
    return "".join(pairs)

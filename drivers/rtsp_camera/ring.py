"""The stream's own encoded packets, kept for evidence clips (issue 3, item 5).

The ring always starts at a keyframe, so that any clip cut from it can be decoded from its first
packet, and it covers at least the pre-roll plus `REQUEST_SLACK_S` (a clip is asked for a little
after the motion that caused it started). Clip requests collect packets as they arrive until their
post-roll is in.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

REQUEST_SLACK_S = 5.0
# Without keyframes the ring could never start at one; past this span it drops its oldest packets anyway.
MAX_SPAN_S = 120.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PacketRecord:
    """One encoded packet as the camera sent it."""

    data: bytes
    pts: int | None
    dts: int | None
    time_base: Fraction
    keyframe: bool
    wall: float  # epoch seconds when the packet arrived


@dataclass(slots=True, kw_only=True, eq=False)
class ClipRequest:
    """Packets of [start_wall, end_wall] being collected, and the future that gets the written path."""

    start_wall: float
    end_wall: float
    path: Path
    future: Future[Path]
    packets: list[PacketRecord] = field(default_factory=list)


def window_start(gops: Iterable[list[PacketRecord]], start_wall: float) -> list[PacketRecord]:
    """Packets from the last keyframe at or before `start_wall` (else the first keyframe) onwards."""
    kept = list(gops)
    first = max((i for i, gop in enumerate(kept) if gop[0].wall <= start_wall), default=0)
    return [record for gop in kept[first:] for record in gop]


class PacketRing:
    """Thread-safe ring of one session's packets, by group of pictures, and the clip requests still
    collecting. Packets before the session's first keyframe are useless for clips and not kept."""

    def __init__(self, keep_s: float) -> None:
        self.keep_s = keep_s + REQUEST_SLACK_S
        self._gops: deque[list[PacketRecord]] = deque()
        self._pending: list[ClipRequest] = []
        self._closed = False
        self._lock = threading.Lock()

    def add(self, record: PacketRecord) -> list[ClipRequest]:
        """Keep `record`; returns the requests whose post-roll is now complete (no longer pending)."""
        with self._lock:
            self._keep(record)
            done = [r for r in self._pending if record.wall > r.end_wall]
            self._pending = [r for r in self._pending if record.wall <= r.end_wall]
            for request in self._pending:
                request.packets.append(record)
            return done

    def request(self, request: ClipRequest) -> bool:
        """Start collecting for `request`; False when its window already ended or the session did (then
        it is as complete as it will get)."""
        with self._lock:
            request.packets.extend(r for r in window_start(self._gops, request.start_wall)
                                   if r.wall <= request.end_wall)
            if self._closed or (self._gops and self._gops[-1][-1].wall > request.end_wall):
                return False
            self._pending.append(request)
            return True

    def drain(self) -> list[ClipRequest]:
        """The session ended: every pending request, with what it has; the ring is emptied."""
        with self._lock:
            pending, self._pending = self._pending, []
            self._gops.clear()
            self._closed = True
            return pending

    def span_s(self) -> float:
        with self._lock:
            return self._gops[-1][-1].wall - self._gops[0][0].wall if self._gops else 0.0

    def _keep(self, record: PacketRecord) -> None:
        gops = self._gops
        if record.keyframe:
            gops.append([record])
        elif gops:
            gops[-1].append(record)
        # Drop the oldest group of pictures once the next one alone covers keep_s.
        while len(gops) > 1 and record.wall - gops[1][0].wall >= self.keep_s:
            gops.popleft()
        if gops and record.wall - gops[0][0].wall > MAX_SPAN_S:
            gops.clear()  # a stream without keyframes: nothing here could start a clip anyway

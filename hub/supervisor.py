"""Device supervision: a device silent for its `supervision_s` plus a grace becomes a comm_fault.

20,000 devices heartbeating every minute make 333 heartbeats a second, so a heartbeat costs one dict
store. Deadlines sit in a heap that is only looked at when its earliest entry falls due; an entry whose
device was heard since is pushed again with its new deadline (lazy deletion), so the work is
proportional to the number of supervision intervals, not to the number of heartbeats.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from hub.model import Category, Device, Qualifier, Signal, Source, utcnow


class Supervisor:
    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.interval: dict[str, float] = {}
        self.last_seen: dict[str, float] = {}
        self.faulted: set[str] = set()
        self.heard_at: dict[str, float] = {}  # when really heard (last_seen also moves on restarts)
        self._armed: dict[str, float] = {}  # the earliest deadline each device has in the heap
        self._heap: list[tuple[float, str]] = []
        # Moves whenever the set of supervised devices, one of them, or which are in fault changes: what
        # /metrics writes of their up/down state is reused while it stays (20,000 lines a scrape).
        self.version = 0

    def load(self, devices: Iterable[Device], now: float, faulted: Iterable[str],
             startup_grace_s: float = 0.0) -> None:
        """(Re)start supervising: every device gets a full interval from `now` (the hub cannot know
        what it missed while it was down), keeping those already in fault."""
        self.interval = {d.id: float(d.supervision_s) for d in devices if d.supervision_s}
        known = set(self.interval)
        self.faulted = set(faulted) & known
        self.last_seen = {k: v for k, v in self.last_seen.items() if k in known}
        for device_id in known:
            self.last_seen.setdefault(device_id, now + startup_grace_s)
        self._heap = [(self._deadline(d), d) for d in known if d not in self.faulted]
        heapq.heapify(self._heap)
        self._armed = {d: deadline for deadline, d in self._heap}
        self.version += 1

    def put(self, device: Device, now: float) -> None:
        """A device was registered or changed: supervise it from now by its (new) interval."""
        if not device.supervision_s:
            self.drop(device.id)
            return
        fresh = device.id not in self.interval
        self.version += 1
        self.interval[device.id] = float(device.supervision_s)
        if fresh:
            self.last_seen[device.id] = now
        self._armed.pop(device.id, None)  # the interval may have changed: arm by the new one
        self._arm(device.id)

    def drop(self, device_id: str) -> None:
        """Stop supervising (the heap entry is skipped when it comes due)."""
        self.version += 1
        self.interval.pop(device_id, None)
        self.last_seen.pop(device_id, None)
        self._armed.pop(device_id, None)
        self.faulted.discard(device_id)

    def _deadline(self, device_id: str) -> float:
        return self.last_seen[device_id] + self.interval[device_id] + self.grace_s

    def heard(self, device_id: str, now: float) -> Signal | None:
        """A message from the device. Returns the comm_fault restore if it had been in fault."""
        if device_id not in self.interval:
            return None
        self.last_seen[device_id] = now
        self.heard_at[device_id] = now
        if device_id not in self.faulted:
            # Only when the new deadline is earlier than the one waiting in the heap (the first message
            # after a start with a startup grace): otherwise the heap entry is re-armed when it falls due.
            self._arm(device_id)
            return None
        self.faulted.discard(device_id)
        self.version += 1
        self._arm(device_id)
        return _signal(device_id, Qualifier.RESTORE)

    def _arm(self, device_id: str) -> None:
        deadline = self._deadline(device_id)
        if deadline < self._armed.get(device_id, float("inf")):
            heapq.heappush(self._heap, (deadline, device_id))
            self._armed[device_id] = deadline

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> list[Signal]:
        """comm_fault signals for every device whose deadline has passed."""
        faults = []
        while self._heap and self._heap[0][0] <= now:
            due_at, device_id = heapq.heappop(self._heap)
            if self._armed.get(device_id) == due_at:
                del self._armed[device_id]  # whatever happens next, this entry is gone from the heap
            if device_id not in self.interval or device_id in self.faulted:
                continue
            deadline = self._deadline(device_id)
            if deadline > now:
                self._arm(device_id)
                continue
            self.faulted.add(device_id)
            self.version += 1
            faults.append(_signal(device_id, Qualifier.NEW))
        return faults

    def lateness(self, device_id: str, now: float) -> float:
        """Seconds since the deadline of a device (negative before it)."""
        return now - self._deadline(device_id)


def _signal(device_id: str, qualifier: Qualifier) -> Signal:
    return Signal(source=Source.SUPERVISOR, device_id=device_id, category=Category.COMM_FAULT,
                  qualifier=qualifier, received_at=utcnow(),
                  text="no message within the supervision interval" if qualifier is Qualifier.NEW
                  else "device heard again")

"""The alarm engine: decides which signals become alarms, how urgent, for which center.

It runs on one thread (the pipeline's) and keeps the open alarms in memory, so a decision needs no
database read. Every decision is written to a `Writes` set that the pipeline commits in one
transaction before any source is acknowledged. If that commit fails, the engine is rebuilt from the
database (`load`), which is the truth.

Rules (ALARMS.md, receiving-center practice):
- every signal is logged; only categories with a priority become alarms, and only when the signal is
  news (`new` or `restore`): a `status` report (a condition still present, motion on an unarmed
  camera) is logged only;
- a repeat of the same message id is dropped; a new event for the same device, category and zone
  while its alarm is open is merged into it (a duplicate), unless the alarm had been restored, in which
  case it re-arms it (`updated`);
- a restore marks the alarm restored (`restored`); it stays open for an operator to close (alarms
  latch until reset by a person, GB 50394);
- a device in test mode raises test alarms that are stored but never sent to a center;
- operators acknowledge, dispatch (with the unit) and close (with a resolution) an alarm, in that
  order; anything else is a conflict (API 409). Each action is a change on the 110 queue;
- an alarm not acknowledged by its center's deadline escalates to the parent center (`escalated`); it
  stays in the first center's queue as well, and every later change goes to both. The deadline is
  stored, so it survives a restart; a center without a parent has a deadline but nowhere to escalate;
- a restore may overtake its alarm (a broker's redelivery after a reconnect, a panel's retry): a
  restore with no open alarm is remembered with its device time, and an alarm raised later whose
  device time is not after it is raised restored.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub import categories, message
from hub.errors import Conflict, NotFound
from hub.ids import new_ulid
from hub.model import AlarmState, Category, Change, Qualifier, Signal, SignalResult, Source, utcnow
from hub.registry import Registry
from hub.writes import Row, Writes

CC_SINK = "cc"
_SEEN_MAX = 2_000_000
_EARLY_MAX = 100_000
_EVIDENCE_MAX = 16
_EXTENSION = {"snapshot": ".jpg", "clip": ".mp4"}
Key = tuple[str, str, str]
_SOURCE_KIND = {Source.CAMERA: "camera", Source.SUPERVISOR: "supervisor"}


@dataclass(slots=True)
class OpenAlarm:
    """The engine's working copy of an alarm that is not closed (mutable on purpose: engine state)."""

    id: str
    seq: int
    state: AlarmState
    category: Category
    priority: int
    agency: str
    test: bool
    restored: bool
    verified: bool
    site_id: str | None
    center_id: str
    source_kind: str
    source_id: str
    zone: str
    signals: int
    raised_at: datetime
    received_at: datetime
    updated_at: datetime
    change: Change = Change.NEW  # of the last message sent to a center
    evidence: tuple[tuple[str, str], ...] = ()  # (kind, url) in the message
    encoded: str = ""  # the last message, as sent and stored (only the text: an open alarm is one
    # object for the garbage collector, whose full passes over millions of them were latency spikes)
    escalated_to: str | None = None  # the center it was last escalated to
    deadline_at: datetime | None = None  # of the acknowledgement, while it is not acknowledged
    acknowledged_at: datetime | None = None
    dispatched_at: datetime | None = None
    unit: str | None = None
    delivered_at: datetime | None = None  # not stored: the acknowledgement latency falls back to received_at
    # Where the device said it is (a panel's coordinates), for a site registered without them.
    lat: float | None = None
    lon: float | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.source_id, self.category.value, self.zone)

    def row(self) -> Row:
        return {
            "id": self.id, "seq": self.seq, "state": self.state.value, "category": self.category.value,
            "priority": self.priority, "agency": self.agency, "verified": self.verified,
            "test": self.test, "restored": self.restored, "site_id": self.site_id,
            "center_id": self.center_id, "source_kind": self.source_kind, "source_id": self.source_id,
            "zone": self.zone, "signals": self.signals, "raised_at": self.raised_at,
            "received_at": self.received_at, "updated_at": self.updated_at, "closed_at": None,
            "resolution": None, "message": self.encoded, "escalated_to": self.escalated_to,
            "deadline_at": self.deadline_at, "acknowledged_at": self.acknowledged_at,
            "dispatched_at": self.dispatched_at, "unit": self.unit,
        }


# What an operator may do in each state (the API answers 409 to anything else).
_ACKNOWLEDGEABLE = frozenset({AlarmState.NEW, AlarmState.DELIVERED, AlarmState.ESCALATED})
_DISPATCHABLE = frozenset({AlarmState.ACKNOWLEDGED})
_CLOSABLE = frozenset({AlarmState.ACKNOWLEDGED, AlarmState.DISPATCHED})
RESOLUTIONS = ("real", "false", "test")


@dataclass(frozen=True, slots=True)
class Handled:
    """An operator's action as the engine took it: the alarm after it, and the acknowledgement latency."""

    alarm_id: str
    center_id: str
    ack_latency_s: float | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    result: SignalResult
    alarm: OpenAlarm | None = None
    change: Change | None = None


class Engine:
    def __init__(self, *, prefix: str, default_center: str,
                 evidence_base: str = "http://127.0.0.1:8080/api/v1/alarms") -> None:
        self.prefix = prefix
        self.default_center = default_center
        self.evidence_base = evidence_base.rstrip("/")
        self.registry = Registry()
        self.open: dict[tuple[str, str, str], OpenAlarm] = {}
        self.by_id: dict[str, OpenAlarm] = {}
        self.seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.early: OrderedDict[Key, datetime] = OrderedDict()
        self.deadlines: list[tuple[datetime, str]] = []  # heap of (escalation time, alarm id)

    # -- state -------------------------------------------------------------------------------------

    def load(self, registry: Registry, open_alarms: list[OpenAlarm], seen_ids: list[tuple[str, str]],
             early_restores: Sequence[tuple[Key, datetime]] = ()) -> None:
        """Replace all state with what the store holds."""
        self.registry = registry
        self.open = {a.key: a for a in open_alarms}
        self.by_id = {a.id: a for a in open_alarms}
        self.seen = OrderedDict((k, None) for k in seen_ids[-_SEEN_MAX:])
        self.early = OrderedDict(early_restores[-_EARLY_MAX:])
        self.deadlines = []
        for alarm in open_alarms:
            self._schedule(alarm)

    def _remember(self, device_id: str, msg_id: str) -> bool:
        """True if this message id is new for this device."""
        key = (device_id, msg_id)
        if key in self.seen:
            return False
        self.seen[key] = None
        if len(self.seen) > _SEEN_MAX:
            self.seen.popitem(last=False)
        return True

    # -- signals -----------------------------------------------------------------------------------

    def apply(self, signal: Signal, writes: Writes) -> Outcome:
        """Decide what one signal of a registered device does. Appends what must be stored."""
        if signal.msg_id is not None and not self._remember(signal.device_id, signal.msg_id):
            return Outcome(SignalResult.DUPLICATE)
        outcome = self._decide(signal, writes)
        writes.signals.append(_signal_row(signal, outcome))
        return outcome

    def _decide(self, signal: Signal, writes: Writes) -> Outcome:
        info = categories.info(signal.category)
        if not info.is_alarm or signal.qualifier is Qualifier.STATUS:
            return Outcome(SignalResult.ACCEPTED)
        alarm = self.open.get((signal.device_id, signal.category.value, signal.zone))
        if alarm is None:
            if signal.qualifier is Qualifier.RESTORE:
                self._remember_early(signal)
                return Outcome(SignalResult.ACCEPTED)  # the restore of nothing open: logged only
            return self._raise(signal, writes)
        alarm.signals += 1
        if signal.qualifier is Qualifier.RESTORE:
            if alarm.restored:
                return self._touch(alarm, signal.received_at, writes, SignalResult.ACCEPTED)
            alarm.restored = True
            return self._emit(alarm, Change.RESTORED, signal.received_at, writes)
        if alarm.restored:
            alarm.restored = False
            self._attach(alarm, signal, writes)
            return self._emit(alarm, Change.UPDATED, signal.received_at, writes)
        return self._touch(alarm, signal.received_at, writes, SignalResult.DUPLICATE)

    def _touch(self, alarm: OpenAlarm, at: datetime, writes: Writes, result: SignalResult) -> Outcome:
        """One more signal for an alarm, with nothing new to tell a center (no queue message)."""
        alarm.updated_at = at
        alarm.encoded = message.encode(self._message(alarm, alarm.change))
        writes.put_alarm(alarm.row(), is_new=False)
        return Outcome(result, alarm)

    def _raise(self, signal: Signal, writes: Writes) -> Outcome:
        origin = self.registry.site_of(signal.device_id)
        assert origin is not None, "the pipeline applies signals of registered sources only"
        site_id, test_mode = origin
        site = self.registry.sites.get(site_id) if site_id else None
        info = categories.info(signal.category)
        assert info.priority is not None
        alarm = OpenAlarm(
            id=new_ulid(), seq=0, state=AlarmState.NEW, category=signal.category,
            priority=info.priority, agency=info.agency, test=test_mode, restored=False,
            verified=False, site_id=site_id,
            center_id=self.registry.center_for(site, self.default_center),
            source_kind=_SOURCE_KIND.get(signal.source, "device"), source_id=signal.device_id,
            zone=signal.zone, signals=1, raised_at=signal.device_time or signal.received_at,
            received_at=signal.received_at, updated_at=signal.received_at,
        )
        if not alarm.test:
            alarm.deadline_at = self._deadline(alarm.center_id, signal.received_at)
            self._schedule(alarm)
        self.open[alarm.key] = alarm
        self.by_id[alarm.id] = alarm
        self._attach(alarm, signal, writes)
        outcome = self._emit(alarm, Change.NEW, signal.received_at, writes)
        restored_at = self.early.pop(alarm.key, None)
        if restored_at is not None and signal.device_time is not None and restored_at >= signal.device_time:
            alarm.restored = True
            alarm.signals += 1
            self._emit(alarm, Change.RESTORED, signal.received_at, writes)
        return outcome

    def _attach(self, alarm: OpenAlarm, signal: Signal, writes: Writes) -> None:
        """The signal's evidence becomes the alarm's, numbered on from what it has (at most
        _EVIDENCE_MAX per alarm), each with the URL the API serves it at."""
        if signal.lat is not None and signal.lon is not None:
            alarm.lat, alarm.lon = signal.lat, signal.lon
        added = list(alarm.evidence)
        for item in signal.evidence:
            if len(added) >= _EVIDENCE_MAX:
                break
            n = len(added) + 1
            # A link (a panel's verification video or audio) is shown as the device gave it.
            url = item.path if item.kind == "link" else \
                f"{self.evidence_base}/{alarm.id}/evidence/{n}{_EXTENSION[item.kind]}"
            added.append((item.kind, url))
            writes.evidence.append({"alarm_id": alarm.id, "n": n, "kind": item.kind,
                                    "camera_id": signal.device_id, "path": item.path,
                                    "created_at": signal.received_at, "removed_at": None})
        alarm.evidence = tuple(added)

    def _remember_early(self, signal: Signal) -> None:
        if signal.device_time is None:
            return  # without device times, arrival order is all there is
        key = (signal.device_id, signal.category.value, signal.zone)
        self.early.pop(key, None)
        self.early[key] = signal.device_time
        if len(self.early) > _EARLY_MAX:
            self.early.popitem(last=False)

    def _emit(self, alarm: OpenAlarm, change: Change, at: datetime, writes: Writes,
              actor: str = "hub", detail: dict[str, Any] | None = None, closed: Row | None = None) -> Outcome:
        """A change of an alarm: new seq, history, stored row, and (unless a test) a delivery to each
        center whose queue shows it (its own, and those it was escalated to)."""
        alarm.seq += 1
        alarm.updated_at = at
        alarm.change = change
        alarm.encoded = message.encode(self._message(alarm, change, closed))
        row = alarm.row()
        if closed:
            row.update(closed)
        writes.put_alarm(row, is_new=change is Change.NEW)
        writes.history.append({"alarm_id": alarm.id, "seq": alarm.seq, "change": change.value,
                               "state": alarm.state.value, "at": at, "actor": actor,
                               # encoded here: the store's bulk path hands rows to the driver as they are
                               "detail": message.encode(detail) if detail is not None else None,
                               "message": None if alarm.test else alarm.encoded})
        if not alarm.test:
            for center_id in self.centers_of(alarm):
                writes.deliveries.append({
                    "alarm_id": alarm.id, "seq": alarm.seq, "sink": CC_SINK,
                    "target": f"{self.prefix}/v1/cc/{center_id}/alarms", "priority": alarm.priority,
                    "payload": alarm.encoded, "received_at": at, "created_at": at, "attempts": 0,
                    "next_attempt_at": at, "sent_at": None, "pending": True,
                })
        return Outcome(SignalResult.ACCEPTED, alarm, change)

    def centers_of(self, alarm: OpenAlarm) -> list[str]:
        """The centers whose queues show an alarm: its own, then each it was escalated to in turn."""
        centers = [alarm.center_id]
        current = alarm.center_id
        while alarm.escalated_to is not None and current != alarm.escalated_to and len(centers) < 16:
            center = self.registry.centers.get(current)
            if center is None or center.parent_id is None:
                centers.append(alarm.escalated_to)  # the chain changed since: still tell both ends
                break
            current = center.parent_id
            centers.append(current)
        return centers

    def _message(self, alarm: OpenAlarm, change: Change, closed: Row | None = None) -> dict[str, Any]:
        site = self.registry.sites.get(alarm.site_id) if alarm.site_id else None
        closed = closed or {}
        return {
            "alarm_id": alarm.id, "seq": alarm.seq, "change": change.value, "state": alarm.state.value,
            "category": alarm.category.value, "priority": alarm.priority, "agency": alarm.agency,
            "verified": alarm.verified, "test": alarm.test, "restored": alarm.restored,
            "center_id": alarm.center_id,
            "site": message.site_block(site, alarm.site_id, alarm.lat, alarm.lon),
            "source": {"kind": alarm.source_kind, "id": alarm.source_id, "zone": alarm.zone},
            "raised_at": message.iso(alarm.raised_at), "received_at": message.iso(alarm.received_at),
            "evidence": [{"kind": kind, "url": url} for kind, url in alarm.evidence],
            "signals": alarm.signals, "escalated_to": alarm.escalated_to,
            "deadline_at": message.iso(alarm.deadline_at),
            "acknowledged_at": message.iso(alarm.acknowledged_at),
            "dispatched_at": message.iso(alarm.dispatched_at), "unit": alarm.unit,
            "closed_at": message.iso(closed.get("closed_at")), "resolution": closed.get("resolution"),
        }

    # -- operators ---------------------------------------------------------------------------------

    def acknowledge(self, alarm_id: str, actor: str, at: datetime, writes: Writes) -> Handled:
        alarm = self._handled(alarm_id, _ACKNOWLEDGEABLE, "acknowledged")
        alarm.state = AlarmState.ACKNOWLEDGED
        alarm.acknowledged_at = at
        alarm.deadline_at = None
        since = alarm.delivered_at or alarm.received_at
        self._emit(alarm, Change.ACKNOWLEDGED, at, writes, actor)
        latency = max((at - since).total_seconds(), 0.0)
        return Handled(alarm.id, alarm.escalated_to or alarm.center_id, latency)

    def dispatch(self, alarm_id: str, unit: str, actor: str, at: datetime, writes: Writes) -> Handled:
        alarm = self._handled(alarm_id, _DISPATCHABLE, "dispatched")
        alarm.state = AlarmState.DISPATCHED
        alarm.dispatched_at = at
        alarm.unit = unit
        self._emit(alarm, Change.DISPATCHED, at, writes, actor, {"unit": unit})
        return Handled(alarm.id, alarm.center_id)

    def close(self, alarm_id: str, resolution: str, note: str, actor: str, at: datetime,
              writes: Writes) -> Handled:
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}")
        alarm = self._handled(alarm_id, _CLOSABLE, "closed")
        alarm.state = AlarmState.CLOSED
        self._emit(alarm, Change.CLOSED, at, writes, actor, {"resolution": resolution, "note": note},
                   closed={"closed_at": at, "resolution": resolution})
        del self.open[alarm.key]
        del self.by_id[alarm.id]
        return Handled(alarm.id, alarm.center_id)

    def _handled(self, alarm_id: str, allowed: frozenset[AlarmState], action: str) -> OpenAlarm:
        alarm = self.by_id.get(alarm_id)
        if alarm is None:
            raise NotFound(f"no open alarm {alarm_id!r}")
        if alarm.state not in allowed:
            raise Conflict(f"alarm {alarm_id} is {alarm.state.value}: it cannot be {action} now")
        return alarm

    # -- escalation --------------------------------------------------------------------------------

    def _deadline(self, center_id: str, since: datetime) -> datetime | None:
        center = self.registry.centers.get(center_id)
        return since + timedelta(seconds=center.ack_deadline_s) if center is not None else None

    def _schedule(self, alarm: OpenAlarm) -> None:
        """Watch an unacknowledged alarm's deadline if there is a center above to escalate to."""
        if alarm.deadline_at is None or alarm.state not in _ACKNOWLEDGEABLE or alarm.test:
            return
        center = self.registry.centers.get(alarm.escalated_to or alarm.center_id)
        if center is not None and center.parent_id is not None:
            heapq.heappush(self.deadlines, (alarm.deadline_at, alarm.id))

    def next_deadline(self) -> datetime | None:
        return self.deadlines[0][0] if self.deadlines else None

    def escalate_due(self, now: datetime, writes: Writes) -> list[OpenAlarm]:
        """Escalate every alarm whose acknowledgement deadline has passed; returns them."""
        escalated = []
        while self.deadlines and self.deadlines[0][0] <= now:
            deadline, alarm_id = heapq.heappop(self.deadlines)
            alarm = self.by_id.get(alarm_id)
            if alarm is None or alarm.deadline_at != deadline or alarm.state not in _ACKNOWLEDGEABLE:
                continue  # acknowledged, closed or rescheduled since
            current = alarm.escalated_to or alarm.center_id
            center = self.registry.centers.get(current)
            parent = center.parent_id if center is not None else None
            if parent is None or parent not in self.registry.centers:
                continue
            alarm.escalated_to = parent
            alarm.state = AlarmState.ESCALATED
            alarm.deadline_at = self._deadline(parent, now)
            self._emit(alarm, Change.ESCALATED, now, writes, detail={"from": current, "to": parent})
            self._schedule(alarm)
            escalated.append(alarm)
        return escalated

    # -- other changes -----------------------------------------------------------------------------

    def mark_delivered(self, alarm_ids: list[str]) -> list[str]:
        """The sink confirmed the first message of these alarms: new → delivered (no queue message).
        Returns the ids whose state changed, for the store."""
        changed = []
        for alarm_id in alarm_ids:
            alarm = self.by_id.get(alarm_id)
            if alarm is not None and alarm.delivered_at is None:
                alarm.delivered_at = utcnow()
            if alarm is not None and alarm.state is AlarmState.NEW:
                alarm.state = AlarmState.DELIVERED
                changed.append(alarm_id)
        return changed


def _signal_row(signal: Signal, outcome: Outcome) -> Row:
    return {
        "source": signal.source.value, "device_id": signal.device_id, "category": signal.category.value,
        "qualifier": signal.qualifier.value, "zone": signal.zone, "partition": signal.partition,
        "code": signal.code, "msg_id": signal.msg_id, "device_time": signal.device_time,
        "received_at": signal.received_at, "text": signal.text[:500], "raw": signal.raw,
        "result": outcome.result.value, "alarm_id": outcome.alarm.id if outcome.alarm else None,
    }

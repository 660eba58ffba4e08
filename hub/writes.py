"""One transaction's worth of rows, gathered by the engine and written by the store at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Row = dict[str, Any]


@dataclass(slots=True)
class Writes:
    signals: list[Row] = field(default_factory=list)
    alarms_new: dict[str, Row] = field(default_factory=dict)
    alarms_changed: dict[str, Row] = field(default_factory=dict)
    history: list[Row] = field(default_factory=list)
    deliveries: list[Row] = field(default_factory=list)
    dead_letters: list[Row] = field(default_factory=list)
    unregistered: list[Row] = field(default_factory=list)
    devices_seen: dict[str, Row] = field(default_factory=dict)
    cameras_seen: dict[str, Row] = field(default_factory=dict)
    evidence: list[Row] = field(default_factory=list)
    state_changes: list[Row] = field(default_factory=list)  # cameras' and devices' online/offline
    # Deliveries the sink confirmed, with when: each forwarder round that lands in this batch keeps its time.
    sent: list[tuple[list[int], datetime]] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)  # alarms now delivered

    def put_alarm(self, row: Row, *, is_new: bool) -> None:
        """Keep the newest row of an alarm; an alarm created in this batch stays an insert."""
        if is_new or row["id"] in self.alarms_new:
            self.alarms_new[row["id"]] = row
        else:
            self.alarms_changed[row["id"]] = row

    def __bool__(self) -> bool:
        return any((self.signals, self.alarms_new, self.alarms_changed, self.history, self.deliveries,
                    self.dead_letters, self.unregistered, self.devices_seen, self.cameras_seen, self.evidence,
                    self.state_changes,
                    self.sent, self.delivered))

"""Decoder of zigbee2mqtt state messages.

A state message repeats every field each time anything changes, so an event is raised on a field's
*transition* into its alarm value and restored on the transition back; the first message from a device
raises what is already in alarm and nothing else. Every message is also the device's heartbeat.
`contact` is true when the contact is closed (zigbee2mqtt's convention), so `false` is an opening.

Friendly names may contain `/`, so the whole tree under the base topic is read. zigbee2mqtt's own
topics (`bridge/…`) and the commands sent to devices (`…/set`, `…/get`) are not device reports and are
passed over; `…/availability` of a registered device counts as a sign of life when it says online.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from drivers.base import Decoded, Inbound
from drivers.zigbee2mqtt.config import Settings
from hub.errors import Rejected, Unregistered
from hub.model import Category, Heartbeat, Qualifier, Signal, Source
from hub.registry import Registry


@dataclass(frozen=True, slots=True)
class FieldRule:
    field: str
    category: Category
    alarm_value: Any


RULES: tuple[FieldRule, ...] = (
    FieldRule("contact", Category.BURGLARY, False),
    FieldRule("occupancy", Category.BURGLARY, True),
    FieldRule("tamper", Category.TAMPER, True),
    FieldRule("smoke", Category.FIRE, True),
    FieldRule("water_leak", Category.WATER, True),
    FieldRule("gas", Category.GAS, True),
    FieldRule("carbon_monoxide", Category.GAS, True),
    FieldRule("battery_low", Category.LOW_BATTERY, True),
)
PANIC_ACTIONS = frozenset({"emergency", "sos", "panic"})
_NOT_REPORTS = ("/set", "/get")


class Zigbee2Mqtt:
    protocol: ClassVar[str] = "zigbee2mqtt"

    def __init__(self, settings: Settings) -> None:
        self.base = settings.base_topic
        self._last: dict[str, dict[str, Any]] = {}

    def subscriptions(self) -> list[str]:
        return [f"{self.base}/#"]

    def accepts(self, topic: str) -> bool:
        return topic.startswith(self.base + "/")

    def decode(self, inbound: Inbound, registry: Registry) -> Decoded:
        topic = inbound.topic
        if topic.startswith(f"{self.base}/bridge/") or topic.endswith(_NOT_REPORTS):
            return Decoded(device_id=None, items=())
        owner = registry.by_topic.get(topic.removesuffix("/availability"))
        if topic.endswith("/availability") and owner is not None:
            alive = inbound.payload.strip().lower() in (b"online", b'{"state":"online"}')
            return Decoded(device_id=owner.id if alive else None, items=())
        device = registry.by_topic.get(topic)
        if device is None:
            raise Unregistered(topic)
        state = _parse(inbound.payload, device.id)
        previous = self._last.get(device.id, {})
        self._last[device.id] = previous | {r.field: state[r.field] for r in RULES if r.field in state}
        items: list[Signal | Heartbeat] = [
            Heartbeat(source=Source.ZIGBEE2MQTT, device_id=device.id, received_at=inbound.received_at)]
        for rule in RULES:
            if rule.field not in state or state[rule.field] == previous.get(rule.field):
                continue
            raised = state[rule.field] == rule.alarm_value
            if not raised and rule.field not in previous:
                continue  # first sight of a field in its normal state: nothing to restore
            items.append(_signal(device.id, rule.category, Qualifier.NEW if raised else Qualifier.RESTORE,
                                 rule.field, inbound))
        if isinstance(state.get("action"), str) and state["action"].lower() in PANIC_ACTIONS:
            items.append(_signal(device.id, Category.PANIC, Qualifier.NEW, "action", inbound))
        return Decoded(device_id=device.id, items=tuple(items))


def _parse(payload: bytes, device_id: str) -> dict[str, Any]:
    try:
        state = json.loads(payload)
    except UnicodeDecodeError as exc:
        raise Rejected("bad_encoding", "not UTF-8", device_id=device_id) from exc
    except ValueError as exc:
        raise Rejected("not_json", str(exc)[:200], device_id=device_id) from exc
    if not isinstance(state, dict):
        raise Rejected("not_an_object", f"expected a JSON object, got {type(state).__name__}",
                       device_id=device_id)
    return state


def _signal(device_id: str, category: Category, qualifier: Qualifier, field: str,
            inbound: Inbound) -> Signal:
    return Signal(source=Source.ZIGBEE2MQTT, device_id=device_id, category=category, qualifier=qualifier,
                  zone=field, received_at=inbound.received_at, code=field, raw=inbound.payload)

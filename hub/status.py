"""Status topics on the site broker, for other systems (a city platform, a building's BMS, Home Assistant):

- `{prefix}/v1/hub/status`: `online` while the hub runs, retained; the broker's last will makes it
  `offline` when the hub's connection dies, and a clean stop says `offline` itself.
- `{prefix}/v1/cameras/{id}/status` and `{prefix}/v1/devices/{id}/status`: retained JSON, published
  when the state changes and only after the change is stored: `{"id", "status": "online"|"offline",
  "reason", "since", "site_id"}`.

Its own MQTT connection, so that the last will means the hub and nothing else. Publishing never blocks
the caller: paho queues while the broker is away and sends in order on reconnection, so the retained
message ends as the latest state.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import paho.mqtt.client as paho

from hub import metrics
from hub.mqtt import BrokerAddress, make_client

log = logging.getLogger(__name__)

ONLINE, OFFLINE = b"online", b"offline"
Row = dict[str, Any]


class StatusLink:
    def __init__(self, address: BrokerAddress, client_id: str, prefix: str, keepalive_s: int,
                 site_of: Callable[[str, str], str | None]) -> None:
        self.address = address
        self.prefix = prefix
        self.keepalive_s = keepalive_s
        self.site_of = site_of  # (kind, id) → the site it belongs to
        self.hub_topic = f"{prefix}/v1/hub/status"
        self.client = make_client(address, client_id, persistent=False)
        self.client.will_set(self.hub_topic, OFFLINE, qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect

    def start(self) -> None:
        self.client.connect_async(self.address.host, self.address.port, keepalive=self.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        """Say `offline` (retained) and leave; the will is not sent on a clean disconnect."""
        if self.client.is_connected():
            self.client.publish(self.hub_topic, OFFLINE, qos=1, retain=True).wait_for_publish(3)
        self.client.disconnect()
        self.client.loop_stop()

    def states(self, changes: Iterable[Row]) -> None:
        """Stored changes of cameras and devices (rows of `state_changes`): each one's retained status."""
        for change in changes:
            kind, object_id = change["kind"], change["object_id"]
            self.client.publish(f"{self.prefix}/v1/{kind}s/{object_id}/status",
                                status_payload(change, self.site_of(kind, object_id)), qos=1, retain=True)

    def forget(self, kind: str, object_id: str) -> None:
        """A camera or device was deleted: clear its retained status."""
        self.client.publish(f"{self.prefix}/v1/{kind}s/{object_id}/status", b"", qos=1, retain=True)

    def _on_connect(self, client: paho.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        if reason.is_failure:
            log.warning("status link: %s refused the connection: %s", self.address, reason)
            return
        metrics.MQTT_CONNECTED.labels("status").set(1)
        client.publish(self.hub_topic, ONLINE, qos=1, retain=True)

    def _on_disconnect(self, _c: paho.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        metrics.MQTT_CONNECTED.labels("status").set(0)


def status_payload(change: Row, site_id: str | None) -> bytes:
    at: datetime = change["at"]
    return json.dumps({"id": change["object_id"], "status": "online" if change["online"] else "offline",
                       "reason": change.get("reason"), "since": at.isoformat(), "site_id": site_id},
                      ensure_ascii=False).encode()

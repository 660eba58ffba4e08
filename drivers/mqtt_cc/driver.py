"""Publishes deliveries at QoS 1 and reports which the broker acknowledged (PUBACK)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import ClassVar

import paho.mqtt.client as paho

from drivers.base import Outgoing
from drivers.mqtt_cc.config import Settings
from hub.mqtt import BrokerAddress, make_client

log = logging.getLogger(__name__)


class MqttSink:
    kind: ClassVar[str] = "mqtt"

    def __init__(self, settings: Settings) -> None:
        self.address = BrokerAddress.parse(settings.url)
        self.client = make_client(self.address, settings.client_id, persistent=False)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.connect_async(self.address.host, self.address.port, keepalive=settings.keepalive_s)
        self.client.loop_start()

    def _on_connect(self, _c: paho.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        log.info("command-center broker %s: connected (%s)", self.address, reason)

    def _on_disconnect(self, _c: paho.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        log.warning("command-center broker %s: disconnected (%s)", self.address, reason)

    def ready(self) -> bool:
        return bool(self.client.is_connected())

    def send(self, items: Sequence[Outgoing], timeout: float) -> list[bool]:
        infos = [self.client.publish(item.target, item.payload, qos=1) for item in items]
        deadline = time.monotonic() + timeout
        for info in infos:
            if info.rc != paho.MQTT_ERR_SUCCESS:
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                info.wait_for_publish(remaining)
            except (RuntimeError, ValueError):  # paho: not connected / queue full
                break
        return [info.rc == paho.MQTT_ERR_SUCCESS and info.is_published() for info in infos]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

"""The hub's connection to the site-facing broker: a persistent session that acknowledges late.

`clean_session=False` with a fixed client id makes the broker keep our subscriptions and queue QoS 1
messages while the hub is away; `manual_ack=True` holds each PUBACK until the pipeline has committed
the message's signal, so a crash before the commit means the broker redelivers it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from drivers.base import Inbound
from hub import metrics
from hub.mqtt import BrokerAddress, make_client
from hub.pipeline import Message, Pipeline

log = logging.getLogger(__name__)


class SiteLink:
    def __init__(self, address: BrokerAddress, client_id: str, topics: list[str], pipeline: Pipeline,
                 keepalive_s: int) -> None:
        self.address = address
        self.topics = topics
        self.pipeline = pipeline
        self.keepalive_s = keepalive_s
        self.client = make_client(address, client_id, persistent=True, manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> None:
        self.client.connect_async(self.address.host, self.address.port, keepalive=self.keepalive_s)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def connected(self) -> bool:
        return bool(self.client.is_connected())

    def _on_connect(self, client: paho.Client, _u: object, flags: paho.ConnectFlags,
                    reason: ReasonCode, _p: object) -> None:
        if reason.is_failure:
            log.error("site broker %s refused the connection: %s", self.address, reason)
            return
        log.info("site broker %s: connected (session present: %s)", self.address, flags.session_present)
        metrics.MQTT_CONNECTED.labels("site").set(1)
        client.subscribe([(topic, 1) for topic in self.topics])

    def _on_disconnect(self, _c: paho.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        metrics.MQTT_CONNECTED.labels("site").set(0)
        log.warning("site broker %s: disconnected (%s); reconnecting", self.address, reason)

    def _on_message(self, client: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        inbound = Inbound(topic=msg.topic, payload=bytes(msg.payload), received_at=datetime.now(UTC))
        mid, qos = msg.mid, msg.qos

        def ack() -> None:
            client.ack(mid, qos)

        self.pipeline.submit(Message(inbound, ack))

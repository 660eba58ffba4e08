"""Drivers: one package per protocol, each a config model (`config.py`) and its code (`driver.py`).

The registries below are the only place that knows them all; an unknown name fails with the list of
known ones.
"""

from __future__ import annotations

from drivers import mqtt_cc, pingan_mqtt, rtsp_camera, zigbee2mqtt
from hub.errors import ConfigError

DECODERS = {
    pingan_mqtt.PinganMqtt.protocol: pingan_mqtt.PinganMqtt,
    zigbee2mqtt.Zigbee2Mqtt.protocol: zigbee2mqtt.Zigbee2Mqtt,
}
SINKS = {mqtt_cc.MqttSink.kind: mqtt_cc.MqttSink}
SOURCES = {rtsp_camera.CameraStream.kind: rtsp_camera.CameraStream}
# SIA DC-09 panels can be registered ahead of the receiver that reads them (it has no decoder here).
PROTOCOLS = frozenset(DECODERS) | {"sia"}


def check_protocol(name: str) -> str:
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown device protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))}")
    return name

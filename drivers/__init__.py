"""Drivers: one package per protocol, each a config model (`config.py`) and its code (`driver.py`).

The registries below are the only place that knows them all; an unknown name fails with the list of
known ones.
"""

from __future__ import annotations

from drivers import mqtt_cc, pingan_mqtt, rtsp_camera, sia_dc09, zigbee2mqtt
from hub.errors import ConfigError

DECODERS = {
    pingan_mqtt.PinganMqtt.protocol: pingan_mqtt.PinganMqtt,
    zigbee2mqtt.Zigbee2Mqtt.protocol: zigbee2mqtt.Zigbee2Mqtt,
    sia_dc09.SiaDc09.protocol: sia_dc09.SiaDc09,
}
SINKS = {mqtt_cc.MqttSink.kind: mqtt_cc.MqttSink}
SOURCES = {rtsp_camera.CameraStream.kind: rtsp_camera.CameraStream}
PROTOCOLS = frozenset(DECODERS)


def check_protocol(name: str) -> str:
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown device protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))}")
    return name

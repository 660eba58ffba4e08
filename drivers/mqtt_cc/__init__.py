"""The 110 queue on the command-center MQTT broker: `pingan/v1/cc/{center_id}/alarms`, QoS 1."""

from drivers.mqtt_cc.config import Settings
from drivers.mqtt_cc.driver import MqttSink

__all__ = ["MqttSink", "Settings"]

"""The hub's own MQTT format (CONTRACT.md): `pingan/v1/devices/{device_id}/event|heartbeat`."""

from drivers.pingan_mqtt.config import Settings
from drivers.pingan_mqtt.driver import PinganMqtt

__all__ = ["PinganMqtt", "Settings"]

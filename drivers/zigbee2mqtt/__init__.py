"""zigbee2mqtt sensors: JSON state on `zigbee2mqtt/<friendly name>` (ALARMS.md)."""

from drivers.zigbee2mqtt.config import Settings
from drivers.zigbee2mqtt.driver import Zigbee2Mqtt

__all__ = ["Settings", "Zigbee2Mqtt"]

"""SIA DC-09 panels (ALARMS.md): the codec, the SIA DC-03 codes, and the decoder of received frames.
The receiver itself (TCP and UDP, store then ACK) is `hub.sia_receiver`."""

from drivers.sia_dc09.config import Settings
from drivers.sia_dc09.driver import SiaDc09

__all__ = ["Settings", "SiaDc09"]

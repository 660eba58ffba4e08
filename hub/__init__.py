"""Ping'an Hub: video-surveillance and alarm ingestion hub between the field and the 110 command center."""

__version__ = "0.1.0"

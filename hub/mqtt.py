"""paho-mqtt plumbing shared by the site reader and the command-center sink."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from hub.errors import ConfigError
from hub.secrets import redact


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ConfigError(f"not an MQTT URL (mqtt://host:port): {redact(url)}")
        try:
            port = parts.port or 1883
        except ValueError as exc:
            raise ConfigError(f"bad port in MQTT URL {redact(url)}") from exc
        if port == 0:
            raise ConfigError(f"bad port in MQTT URL {redact(url)}")
        return cls(parts.hostname, port, unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)

    def __str__(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def make_client(address: BrokerAddress, client_id: str, *, persistent: bool,
                manual_ack: bool = False) -> paho.Client:
    """A paho client that reconnects by itself (1 s to 30 s) and allows many messages in flight."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         clean_session=not persistent, manual_ack=manual_ack)
    if address.username:
        client.username_pw_set(address.username, address.password)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(1, 30)
    return client

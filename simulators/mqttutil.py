"""Small MQTT helpers shared by the simulators and the tests.

The hub, the simulators and the tests all take broker addresses as ``mqtt://[user:pass@]host:port``
(the form of ``HUB_MQTT_URL`` in the contract), so parsing lives in one place. Clients are paho-mqtt
2.x clients with the VERSION2 callback API, running their network loop in a background thread.
"""

from __future__ import annotations

import time
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from paho.mqtt.client import Client, MQTTMessageInfo
from paho.mqtt.enums import CallbackAPIVersion

DEFAULT_PORT = 1883


class MqttUrl(NamedTuple):
    """A parsed broker address; unpacks as ``host, port, user, password``."""

    host: str
    port: int
    user: str | None
    password: str | None


def parse_mqtt_url(url: str) -> MqttUrl:
    """Parse ``mqtt://[user:pass@]host[:port]``.

    Credentials are percent-decoded so that passwords containing ``@`` or ``:`` can be given
    (percent-encoded) in an environment variable.
    """
    parts = urlsplit(url)
    if parts.scheme != "mqtt":
        raise ValueError(f"not an mqtt:// URL: {parts.scheme or 'no scheme'}")
    if not parts.hostname:
        raise ValueError("mqtt URL has no host")
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return MqttUrl(parts.hostname, parts.port or DEFAULT_PORT, user, password)


def make_client(url: str, client_id: str, *, clean_session: bool = True) -> Client:
    """Create a configured but not yet connected client.

    Separate from :func:`start` so callers can install ``on_message``/``on_connect`` first: with a
    persistent session the broker sends queued messages right after CONNACK, and a callback set
    later would miss them.
    """
    target = parse_mqtt_url(url)
    client = Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session)
    if target.user is not None:
        client.username_pw_set(target.user, target.password)
    # Many QoS 1 messages in flight keep a fast publisher from stalling on PUBACK round trips.
    client.max_inflight_messages_set(1000)
    # Come back quickly after a broker restart (tests restart brokers on purpose).
    client.reconnect_delay_set(min_delay=1, max_delay=2)
    return client


def start(client: Client, url: str, *, timeout: float = 10.0, keepalive: int = 30) -> Client:
    """Connect ``client`` to ``url``, start its network thread and wait for the CONNACK.

    The TCP connect is synchronous so that a wrong address fails at once; after that the loop
    thread reconnects by itself whenever the broker goes away.
    """
    target = parse_mqtt_url(url)
    client.connect(target.host, target.port, keepalive=keepalive)
    client.loop_start()
    deadline = time.monotonic() + timeout
    while not client.is_connected():
        if time.monotonic() > deadline:
            stop(client)
            raise ConnectionError(f"no CONNACK from {target.host}:{target.port} within {timeout} s")
        time.sleep(0.01)
    return client


def connect(url: str, client_id: str, *, clean_session: bool = True, timeout: float = 10.0) -> Client:
    """Make a client and connect it: the common case when no callback must precede CONNACK."""
    return start(make_client(url, client_id, clean_session=clean_session), url, timeout=timeout)


def stop(client: Client) -> None:
    """Disconnect and stop the network thread, closing every socket now.

    ``loop_stop`` alone leaves paho's wake-up socket pair open until the client is garbage
    collected; a process that makes many clients (tests do) would otherwise hold those descriptors.
    paho has no public call for this.
    """
    client.disconnect()
    client.loop_stop()
    client._reset_sockets()


def is_acked(info: MQTTMessageInfo) -> bool:
    """Whether a QoS 1 publish has been acknowledged by the broker.

    paho keeps ``rc == MQTT_ERR_NO_CONN`` on a message that was published while disconnected even
    after it resends it and gets the PUBACK, and ``is_published`` then raises; the completion flag
    itself is still right, so fall back to it.
    """
    try:
        return info.is_published()
    except ValueError:  # never queued (outgoing queue full)
        return False
    except RuntimeError:
        return bool(getattr(info, "_published", False))

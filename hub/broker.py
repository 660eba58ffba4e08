"""The embedded MQTT broker of the default set-up (DESIGN.md).

Mosquitto as a child process where it is installed: it keeps sessions and redelivers unacknowledged
messages, so nothing is lost across a hub restart. Otherwise amqtt in process, which does neither;
the hub says so loudly at start.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from hub.errors import ConfigError, Unavailable

log = logging.getLogger(__name__)

_MOSQUITTO_CONF = """\
# Written by the hub at start: the embedded broker of the default set-up.
listener {port} 127.0.0.1
# Mosquitto started as root drops to the user named here; stay as the hub's user, who owns the files.
user {user}
allow_anonymous true
persistence true
persistence_location {data}/
autosave_interval 5
# Keep everything queued for the hub's persistent session while it is down.
max_queued_messages 0
max_queued_bytes 0
# Let the hub batch many messages per commit before acknowledging them.
max_inflight_messages 1000
log_dest file {data}/mosquitto.log
log_type error
log_type warning
log_type notice
"""


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_in_use(port):
            return
        time.sleep(0.05)
    raise Unavailable(f"the embedded broker did not open port {port} within {timeout:.0f} s")


class EmbeddedBroker:
    def __init__(self, data_dir: Path, port: int, prefer: str = "auto") -> None:
        self.data_dir = data_dir / "mosquitto"
        self.port = port
        self.prefer = prefer
        self.kind = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._amqtt: Any = None
        self._pid: int | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        if port_in_use(self.port):
            if self._adopt():
                return
            raise ConfigError(f"port {self.port} is already in use: set HUB_MQTT_URL to use the broker "
                              "listening there, or free the port")
        mosquitto = shutil.which("mosquitto") or next(
            (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None)
        if self.prefer == "mosquitto" and not mosquitto:
            raise ConfigError("mqtt.embedded_broker is 'mosquitto' but mosquitto is not installed")
        if mosquitto and self.prefer != "amqtt":
            self._start_mosquitto(mosquitto)
        else:
            self._start_amqtt()

    def _adopt(self) -> bool:
        """Take over our own Mosquitto left running by a hub that died: it holds the queued messages."""
        pid_file = self.data_dir / "mosquitto.pid"
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return False
        if b"mosquitto" not in cmdline or str(self.data_dir.resolve()).encode() not in cmdline:
            return False
        self.kind, self._pid = "mosquitto", pid
        log.info("embedded broker: Mosquitto (pid %d) from an earlier run still serves port %d; using it",
                 pid, self.port)
        return True

    def _start_mosquitto(self, binary: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "mosquitto.conf"
        conf.write_text(_MOSQUITTO_CONF.format(port=self.port, data=self.data_dir.resolve(),
                                               user=getpass.getuser()))
        # Its own session: a Ctrl-C in the terminal reaches the hub, which stops the broker after itself.
        self._process = subprocess.Popen([binary, "-c", str(conf.resolve())], stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        # Our own pid file (Mosquitto writes one only when it daemonises): lets a restarted hub adopt it.
        (self.data_dir / "mosquitto.pid").write_text(str(self._process.pid))
        wait_port(self.port, 10)
        self.kind = "mosquitto"
        log.info("embedded broker: Mosquitto on 127.0.0.1:%d (pid %d)", self.port, self._process.pid)

    def _start_amqtt(self) -> None:
        from amqtt.broker import Broker  # only where Mosquitto is missing

        config = {"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                  "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}}
        ready = threading.Event()
        failure: list[BaseException] = []

        async def boot() -> None:
            self._amqtt = Broker(config)
            await self._amqtt.start()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(boot())
            except BaseException as exc:  # handed to the starting thread below
                failure.append(exc)
                return
            finally:
                ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="amqtt", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise Unavailable(f"the embedded amqtt broker failed to start: {failure[0]}") from failure[0]
        wait_port(self.port, 10)
        self.kind = "amqtt"
        log.warning("embedded broker: Mosquitto is not installed, using amqtt in process on 127.0.0.1:%d. "
                    "It keeps no sessions and does not redeliver unacknowledged messages: alarms in "
                    "flight can be lost if the hub stops. Install mosquitto for at-least-once delivery.",
                    self.port)

    def stop(self) -> None:
        if self._pid is not None:
            os.kill(self._pid, signal.SIGTERM)
            self._pid = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._loop is not None and self._amqtt is not None:
            asyncio.run_coroutine_threadsafe(self._amqtt.shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread:
                self._thread.join(5)
            self._loop = None

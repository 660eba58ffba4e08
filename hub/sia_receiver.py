"""The SIA DC-09 receiver: TCP and UDP on `HUB_SIA`, an asyncio loop on a thread of its own.

Each frame is parsed here (to choose its reply), handed to the pipeline with the raw bytes, and
answered only after the pipeline has committed it: **store, then ACK** (ALARMS.md). A TCP stream is
split on LF…CR, several frames per read and frames across reads. Limits per connection keep a slow or
hostile client from holding the receiver: a frame must finish within `frame_timeout_s`, a silent
connection closes after `idle_timeout_s`, at most `max_unacked` frames wait for their commit before
reading pauses, a connection that sends `max_rejected` bad frames is closed, and there are at most
`max_connections` connections.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from drivers.base import Inbound
from drivers.sia_dc09 import codec, driver
from drivers.sia_dc09.codec import Frame, FrameError
from hub import metrics
from hub.config import SiaSettings
from hub.errors import ConfigError
from hub.pipeline import Item, Message
from hub.secrets import Vault

log = logging.getLogger(__name__)
_CHECK_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class Account:
    device_id: str
    key: bytes | None


class Accounts:
    """SIA accounts → (device, AES key), for the receiver's thread. Keys are unsealed once, at load and
    when the API changes a device, not per frame."""

    def __init__(self, load: Callable[[str | None], list[tuple[str, str, bytes | None]]],
                 vault: Vault) -> None:
        self._load = load  # Store.sia_accounts
        self._vault = vault
        self._by_account: dict[str, Account] = {}
        self._account_of: dict[str, str] = {}  # device → its account

    def reload(self, device_id: str | None = None) -> None:
        """Everything (device_id None), or one device after the API changed or deleted it."""
        rows = self._load(device_id)
        if device_id is None:
            self._by_account, self._account_of = {}, {}
        else:
            old = self._account_of.pop(device_id, None)
            if old is not None:
                self._by_account.pop(old, None)
        for device, account, sealed in rows:
            key = None
            if sealed is not None:
                try:
                    key = codec.parse_key(self._vault.unseal(sealed))
                except (ConfigError, ValueError):
                    log.error("device %s: its stored SIA key cannot be used; its encrypted frames are "
                              "refused", device)
            self._by_account[account.upper()] = Account(device, key)
            self._account_of[device] = account.upper()

    def get(self, account: str | None) -> Account | None:
        return self._by_account.get(account.upper()) if account else None

    def key(self, account: str) -> bytes | None:
        found = self._by_account.get(account.upper())
        return found.key if found else None


class SiaReceiver:
    def __init__(self, settings: SiaSettings, accounts: Accounts, offer: Callable[[Item], bool],
                 submit: Callable[[Item], None]) -> None:
        self.settings = settings  # the decoder's settings too: which reply a frame earns
        self.accounts = accounts
        self.offer = offer  # Pipeline.offer: queue without blocking the loop
        self.submit = submit  # Pipeline.submit: blocking, run off the loop when the queue is full
        self.loop: asyncio.AbstractEventLoop | None = None
        self.address: tuple[str, int] | None = None  # bound (host, port), for tests with port 0
        self._connections: set[_Connection] = set()
        self._thread = threading.Thread(target=self._run, name="sia", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._closing: asyncio.Event | None = None
        self._due: deque[Callable[[], None]] = deque()  # replies committed, to send on the loop
        self._wake_pending = False
        self._counters: dict[tuple[str, str], Any] = {}

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        self.accounts.reload()
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise ConfigError(f"SIA receiver cannot listen on {self.settings.listen}: {self._error}") \
                from self._error

    def stop(self) -> None:
        if self.loop is not None and self._closing is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._closing.set)
        self._thread.join(10)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start(); the hub does not start half-deaf
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._closing = asyncio.Event()
        host, _, port = self.settings.listen.rpartition(":")
        server = await self.loop.create_server(lambda: _Connection(self), host, int(port), reuse_address=True)
        udp, _ = await self.loop.create_datagram_endpoint(lambda: _Datagrams(self),
                                                          local_addr=(host, int(port)))
        self.address = server.sockets[0].getsockname()[:2]
        log.info("SIA DC-09 receiver on %s (TCP and UDP)", self.settings.listen)
        self._ready.set()
        watchdog = asyncio.create_task(self._watch())
        try:
            await self._closing.wait()
        finally:
            watchdog.cancel()
            server.close()
            udp.close()
            for connection in list(self._connections):
                connection.close("the hub is stopping")
            await server.wait_closed()

    async def _watch(self) -> None:
        """Close connections that hold a frame open too long or say nothing at all."""
        while True:
            await asyncio.sleep(_CHECK_EVERY_S)
            now = time.monotonic()
            for connection in list(self._connections):
                connection.check(now)

    # -- frames (on the loop) ----------------------------------------------------------------------

    def frame(self, raw: bytes, transport: str, peer: str, send: Callable[[bytes], None],
              done: Callable[[], None]) -> bool:
        """One frame (or a chunk that is not one): queued for the pipeline with the reply it earns,
        sent after the commit. Returns False for a frame rejected outright (it is still kept)."""
        received = time.monotonic()
        now = datetime.now(UTC)
        parsed = driver.parse(raw, self.accounts.key)
        account = self.accounts.get(parsed.account if isinstance(parsed, Frame) else driver.peek_account(raw))
        reply = driver.answer(parsed, known=account is not None, key=account.key if account else None,
                              now=now, settings=self.settings)
        self._count(transport, _outcome(parsed, reply))

        def sent() -> None:
            if reply is not None:
                send(reply)
                metrics.SIA_REPLY_SECONDS.observe(time.monotonic() - received)
            done()

        item = Message(Inbound(topic=f"{driver.TOPIC_PREFIX}{transport}/{peer}", payload=raw, received_at=now,
                               parsed=parsed), lambda: self._committed(sent))
        if not self.offer(item):  # the pipeline is full: wait for room off the loop (back-pressure)
            assert self.loop is not None
            self.loop.run_in_executor(None, self.submit, item)
        return not isinstance(parsed, FrameError)

    def _committed(self, sent: Callable[[], None]) -> None:
        """On the pipeline's thread, after the commit: the reply is due. Replies of one commit wake the
        loop once, not once each (a wake-up is a system call)."""
        self._due.append(sent)
        if not self._wake_pending:
            self._wake_pending = True
            assert self.loop is not None
            self.loop.call_soon_threadsafe(self._reply_due)

    def _reply_due(self) -> None:
        self._wake_pending = False  # first: what is appended from now on wakes the loop again
        while self._due:
            self._due.popleft()()

    def _count(self, transport: str, outcome: str) -> None:
        counter = self._counters.get((transport, outcome))
        if counter is None:
            counter = self._counters[(transport, outcome)] = metrics.SIA_FRAMES.labels(transport, outcome)
        counter.inc()

    def opened(self, connection: _Connection) -> bool:
        if len(self._connections) >= self.settings.max_connections:
            return False
        self._connections.add(connection)
        metrics.SIA_CONNECTIONS.set(len(self._connections))
        return True

    def closed(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        metrics.SIA_CONNECTIONS.set(len(self._connections))


def _outcome(parsed: Frame | FrameError, reply: bytes | None) -> str:
    """The `outcome` label: what the frame earns (bounded: a reason code or a reply kind)."""
    if isinstance(parsed, FrameError):
        return parsed.reason
    if reply is None:
        return "silent"
    return "nak" if b'"NAK"' in reply[:16] else "ack"


class _Connection(asyncio.Protocol):
    def __init__(self, receiver: SiaReceiver) -> None:
        self.receiver = receiver
        self.settings = receiver.settings
        self.splitter = codec.Splitter()
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.unacked = 0
        self.rejected = 0
        self.paused = False
        self.heard_at = time.monotonic()
        self.partial_since: float | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        host, port = (transport.get_extra_info("peername") or ("?", 0))[:2]
        self.peer = f"{host}:{port}"
        if not self.receiver.opened(self):
            log.warning("SIA: refused %s: %d connections already", self.peer, self.settings.max_connections)
            metrics.SIA_REFUSED.labels("connections").inc()
            transport.abort()
            self.transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.receiver.closed(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.heard_at = time.monotonic()
        for raw in self.splitter.feed(data):
            if self.transport is None:
                return  # closed by an earlier frame of this read
            self.unacked += 1
            if not self.receiver.frame(raw, "tcp", self.peer, self._send, self._done):
                self.rejected += 1
                if self.rejected >= self.settings.max_rejected:
                    self.close(f"{self.rejected} rejected frames")
        self.partial_since = (self.partial_since or self.heard_at) if self.splitter.buffered() else None
        if self.unacked >= self.settings.max_unacked and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def _send(self, reply: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(reply)

    def _done(self) -> None:
        self.unacked -= 1
        if self.paused and self.unacked <= self.settings.max_unacked // 2 and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()

    def check(self, now: float) -> None:
        if self.partial_since is not None and now - self.partial_since > self.settings.frame_timeout_s:
            metrics.SIA_REFUSED.labels("frame_timeout").inc()
            self.close(f"a frame unfinished after {self.settings.frame_timeout_s:g} s")
        elif now - self.heard_at > self.settings.idle_timeout_s and not self.unacked:
            metrics.SIA_REFUSED.labels("idle").inc()
            self.close(f"silent for {self.settings.idle_timeout_s:g} s")

    def close(self, why: str) -> None:
        if self.transport is not None:
            log.info("SIA: closing %s: %s", self.peer, why)
            self.transport.close()


class _Datagrams(asyncio.DatagramProtocol):
    """UDP: each datagram holds one frame (or several, split the same way); replies go to its sender."""

    def __init__(self, receiver: SiaReceiver) -> None:
        self.receiver = receiver
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        peer = f"{addr[0]}:{addr[1]}"
        splitter = codec.Splitter()
        chunks = splitter.feed(data)
        if splitter.buffered():  # a datagram is whole: what is left is a frame without its end
            chunks.append(data[len(data) - splitter.buffered():])
        for raw in chunks:
            self.receiver.frame(raw, "udp", peer, lambda reply: self._send(reply, addr), lambda: None)

    def _send(self, reply: bytes, addr: tuple[str | Any, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)

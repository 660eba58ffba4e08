"""A simulated alarm panel that reports to a receiving center over SIA DC-09, by TCP or UDP.

For tests, the demo and benchmarks. It does what panels do (ALARMS.md): numbers its messages
0001–9999 and wraps; sends the same message, same number, again when no reply comes (`retries`
times); on a NAK sets its clock to the receiver's time in the NAK and resends with a fresh timestamp;
keeps one TCP connection and opens a new one when the receiver has closed it; sends a NULL link test
every interval. Replies are parsed with the hub's own codec (`drivers.sia_dc09.codec`).

Usage::

    python -m simulators.sia_panel --host 127.0.0.1 --port 12128 --account 1234 [--key KEY] [--udp] \\
        --events 10 --null-every 60

`HUB_SIA` (`host:port`, CONTRACT.md) sets the default address.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from drivers.sia_dc09.codec import Frame, FrameError, Splitter, build, parse, parse_key

DEFAULT_ADDRESS = "127.0.0.1:12128"
CID_QUALIFIERS = {"new": "1", "restore": "3", "status": "6"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What the receiver answered to one message: `kind` is the reply's token ("ACK", "NAK", "DUH") or
    "none"; `tries` counts the transmissions; `latency_s` runs from the first one to the reply."""

    kind: str
    frame: Frame | None
    tries: int
    latency_s: float


class Panel:
    """One panel (one account) talking to one receiver. Thread-safe: one message at a time."""

    def __init__(self, host: str, port: int, account: str, *, key: bytes | None = None,
                 transport: str = "tcp", receiver: str | None = None, line: str = "1", timeout: float = 5.0,
                 retries: int = 3) -> None:
        if transport not in ("tcp", "udp"):
            raise ValueError(f"transport is 'tcp' or 'udp', not {transport!r}")
        self.host, self.port, self.account, self.key = host, port, account, key
        self.transport, self.receiver, self.line = transport, receiver, line
        self.timeout, self.retries = timeout, retries
        self.offset_s = 0.0  # this panel's clock minus the real one; a NAK sets it to the receiver's
        self._seq = 0
        self._sock: socket.socket | None = None
        self._splitter = Splitter()
        self._chunks: deque[bytes] = deque()  # split from the TCP stream, not read yet
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._tests: threading.Thread | None = None

    def now(self) -> datetime:
        """The panel's clock."""
        return datetime.now(UTC) + timedelta(seconds=self.offset_s)

    def next_seq(self) -> int:
        self._seq = self._seq % 9999 + 1
        return self._seq

    def send(self, token: str, data: str = "", *, extended: Sequence[tuple[str, str]] = (),
             seq: int | None = None, binary_crc: bool = False, encoding: str = "utf-8") -> Reply:
        """Send one message until it is answered or the tries run out. `seq` None: the next number."""
        with self._lock:
            number = self.next_seq() if seq is None else seq

            def message() -> bytes:
                return build(token, number, self.account, data, receiver=self.receiver, line=self.line,
                             extended=extended, timestamp=self.now(), key=self.key, binary_crc=binary_crc,
                             encoding=encoding)

            return self._deliver(message, f"{number:04d}")

    def _deliver(self, message: Callable[[], bytes], seq: str) -> Reply:
        started, frame, last = time.monotonic(), message(), None
        for tries in range(1, self.retries + 2):
            last = self._exchange(frame, seq)
            if last is None:
                continue  # no reply: the very same bytes again, as panels do
            if last.token != "NAK":
                return Reply(kind=last.token, frame=last, tries=tries, latency_s=time.monotonic() - started)
            self._adopt_clock(last)
            frame = message()
        return Reply(kind=last.token if last else "none", frame=last, tries=self.retries + 1,
                     latency_s=time.monotonic() - started)

    def _adopt_clock(self, nak: Frame) -> None:
        if nak.timestamp is not None:
            self.offset_s = (nak.timestamp - datetime.now(UTC)).total_seconds()

    def _exchange(self, frame: bytes, seq: str) -> Frame | None:
        """Send once; the reply to this message (its number, or a NAK), or None after `timeout` (also
        when the receiver cannot be reached: a panel waits before it tries again, it does not spin)."""
        deadline = time.monotonic() + self.timeout
        try:
            self._transmit(frame)
        except OSError:
            self._close()
            time.sleep(max(deadline - time.monotonic(), 0.0))
            return None
        while (raw := self._receive(deadline)) is not None:
            try:
                reply = parse(raw, lambda _account: self.key)
            except FrameError:
                continue  # noise, or a reply we cannot read: keep waiting
            if reply.token == "NAK" or reply.seq == seq:
                return reply
        time.sleep(max(deadline - time.monotonic(), 0.0))  # the connection dropped: wait out the timeout
        return None

    def event(self, code: str, zone: int, *, cid: bool = False, qualifier: str = "new", partition: int = 1,
              text: str = "", extended: Sequence[tuple[str, str]] = (), encoding: str = "utf-8") -> Reply:
        """A SIA-DCS event (`#ACCT|Nri1/BA003`), or with `cid` an ADM-CID one (`#ACCT|1130 01 003`; `code`
        is the 3-digit event code, or 4 digits with the qualifier)."""
        if cid:
            full = code if len(code) == 4 else CID_QUALIFIERS[qualifier] + code
            return self.send("ADM-CID", f"#{self.account}|{full} {partition:02d} {zone:03d}",
                             extended=extended, encoding=encoding)
        note = f"^{text}^" if text else ""
        return self.send("SIA-DCS", f"#{self.account}|Nri{partition}/{code}{zone:03d}{note}",
                         extended=extended, encoding=encoding)

    def null(self) -> Reply:
        """A NULL link test (supervision)."""
        return self.send("NULL")

    def start_tests(self, interval_s: float, on_reply: Callable[[Reply], None] | None = None) -> None:
        """Send a NULL every `interval_s` seconds on a thread, until stop()."""
        if self._tests is not None:
            raise RuntimeError("link tests are already running")
        self._stopping.clear()

        def run() -> None:
            while not self._stopping.wait(interval_s):
                reply = self.null()
                if on_reply is not None:
                    on_reply(reply)

        self._tests = threading.Thread(target=run, name=f"sia-null-{self.account}", daemon=True)
        self._tests.start()

    def stop(self) -> None:
        """Stop the link tests (a NULL being sent is finished first)."""
        self._stopping.set()
        if self._tests is not None:
            self._tests.join()
            self._tests = None

    def send_raw(self, data: bytes) -> bytes | None:
        """Send bytes as they are (split frames, garbage); the first reply chunk, or None after `timeout`."""
        with self._lock:
            try:
                self._transmit(data)
            except OSError:
                self._close()
                return None
            return self._receive(time.monotonic() + self.timeout)

    def close(self) -> None:
        self.stop()
        with self._lock:
            self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _transmit(self, data: bytes) -> None:
        if self._sock is not None and self.transport == "tcp" and not self._alive(self._sock):
            self._close()
        if self._sock is None:
            self._sock = self._open()
        self._sock.sendall(data)

    def _open(self) -> socket.socket:
        if self.transport == "tcp":
            return socket.create_connection((self.host, self.port), timeout=self.timeout)
        family, kind, proto, _, address = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.connect(address)  # a connected UDP socket only hears from the receiver
        return sock

    @staticmethod
    def _alive(sock: socket.socket) -> bool:
        """False when the receiver has closed the connection (readable, and nothing to read)."""
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return True
        try:
            return sock.recv(1, socket.MSG_PEEK) != b""
        except OSError:
            return False

    def _receive(self, deadline: float) -> bytes | None:
        """The next reply chunk (TCP) or datagram (UDP) before `deadline`, or None."""
        while not self._chunks:
            remaining = deadline - time.monotonic()
            if self._sock is None or remaining <= 0:
                return None
            try:
                self._sock.settimeout(remaining)
                data = self._sock.recv(65536)
            except TimeoutError:
                return None
            except OSError:  # reset, or ICMP port unreachable on UDP
                self._close()
                return None
            if self.transport == "udp":
                return data
            if not data:
                self._close()
                return None
            self._chunks.extend(self._splitter.feed(data))
        return self._chunks.popleft()

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._splitter = Splitter()
        self._chunks.clear()


def build_parser() -> argparse.ArgumentParser:
    host, _, port = os.environ.get("HUB_SIA", DEFAULT_ADDRESS).rpartition(":")
    parser = argparse.ArgumentParser(prog="python -m simulators.sia_panel",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=host.strip("[]"), help="receiver address (default: HUB_SIA)")
    parser.add_argument("--port", type=int, default=int(port))
    parser.add_argument("--account", required=True, help="3–16 hex digits")
    parser.add_argument("--key", help="AES key: 16/24/32 characters or 32/48/64 hex digits")
    parser.add_argument("--udp", action="store_true", help="UDP instead of TCP")
    parser.add_argument("--receiver", help="R field (hex)")
    parser.add_argument("--line", default="1", help="L field (hex)")
    parser.add_argument("--events", type=int, default=1, help="events to send, zones 1, 2, 3, …")
    parser.add_argument("--code", default="BA", help="SIA code, or a Contact ID code with --cid")
    parser.add_argument("--cid", action="store_true", help="send ADM-CID instead of SIA-DCS")
    parser.add_argument("--null-every", type=float, default=0.0, help="then a NULL every S seconds")
    parser.add_argument("--duration", type=float, default=0.0, help="how long to send NULLs (0: until ^C)")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--retries", type=int, default=3)
    return parser


def describe(what: str, reply: Reply) -> str:
    seq = reply.frame.seq if reply.frame else "-"
    return f"{what}: {reply.kind} seq={seq} tries={reply.tries} latency={reply.latency_s * 1000:.1f} ms"


def main(argv: Sequence[str] | None = None) -> int:
    """Send the events, print each reply, then keep the link test going; 1 if an event was not ACKed."""
    args = build_parser().parse_args(argv)
    key = parse_key(args.key) if args.key else None
    panel = Panel(args.host, args.port, args.account, key=key, transport="udp" if args.udp else "tcp",
                  receiver=args.receiver, line=args.line, timeout=args.timeout, retries=args.retries)
    failed = 0
    with panel:
        for zone in range(1, args.events + 1):
            reply = panel.event(args.code, zone, cid=args.cid)
            failed += reply.kind != "ACK"
            print(describe(f"{args.code} zone {zone}", reply), flush=True)
        if args.null_every > 0:
            panel.start_tests(args.null_every, lambda reply: print(describe("NULL", reply), flush=True))
            with contextlib.suppress(KeyboardInterrupt):
                if args.duration > 0:
                    time.sleep(args.duration)
                else:
                    threading.Event().wait()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The DC-09 panel simulator (simulators.sia_panel) against a tiny receiver defined here, over TCP and UDP.

The receiver answers with the hub's codec: ACK (encrypted when the message was), NAK when an encrypted
message's time is outside the window, nothing to the first `silent` frames or to what does not parse.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from drivers.sia_dc09.codec import Frame, FrameError, Splitter, ack, build, in_window, nak, parse
from simulators.sia_panel import Panel, Reply, main

KEY = b"0123456789ABCDEF"


class Receiver:
    """One port, TCP and UDP, on 127.0.0.1. Records every frame and every rejected chunk."""

    def __init__(self, key: bytes | None = None, *, silent: int = 0, close_after_reply: bool = False) -> None:
        self.key, self.silent, self.close_after_reply = key, silent, close_after_reply
        self.frames: list[Frame] = []
        self.raw: list[bytes] = []
        self.rejected: list[str] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._tcp = socket.create_server(("127.0.0.1", 0))
        self.port = self._tcp.getsockname()[1]
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", self.port))
        self._threads = [threading.Thread(target=self._accept, daemon=True),
                         threading.Thread(target=self._datagrams, daemon=True)]
        for thread in self._threads:
            thread.start()

    def answer(self, raw: bytes) -> bytes | None:
        with self._lock:
            try:
                frame = parse(raw, lambda _account: self.key)
            except FrameError as exc:
                self.rejected.append(exc.reason)
                return None
            self.frames.append(frame)
            self.raw.append(raw)
            if self.silent > 0:
                self.silent -= 1
                return None
            now = datetime.now(UTC)
            if frame.encrypted and (frame.timestamp is None or not in_window(frame.timestamp, now)):
                return nak(now)
            return ack(frame, self.key)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._tcp.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        splitter = Splitter()
        with conn:
            while data := _recv(conn):
                for chunk in splitter.feed(data):
                    reply = self.answer(chunk)
                    if reply is not None:
                        conn.sendall(reply)
                        if self.close_after_reply:
                            return

    def _datagrams(self) -> None:
        while True:
            try:
                data, peer = self._udp.recvfrom(65536)
            except OSError:
                return
            reply = self.answer(data)
            if reply is not None:
                self._udp.sendto(reply, peer)

    def close(self) -> None:
        # shutdown() first: on Linux close() alone neither wakes a thread blocked in accept() or recvfrom()
        # nor stops the socket from accepting.
        for sock in (self._tcp, self._udp):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)


def _recv(conn: socket.socket) -> bytes:
    try:
        return conn.recv(65536)
    except OSError:
        return b""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def secure() -> Iterator[Receiver]:
    server = Receiver(KEY)
    yield server
    server.close()


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_events_are_numbered_and_acknowledged(receiver: Receiver, transport: str) -> None:
    with Panel("127.0.0.1", receiver.port, "1234", transport=transport, receiver="2", line="3") as panel:
        first = panel.event("BA", 3)
        second = panel.event("130", 4, cid=True, qualifier="restore", partition=2)
    assert (first.kind, first.tries, second.kind, second.tries) == ("ACK", 1, "ACK", 1)
    assert first.frame is not None and (first.frame.seq, first.frame.receiver, first.frame.line) == \
        ("0001", "2", "3")
    assert [(f.token, f.seq, f.data) for f in receiver.frames] == [
        ("SIA-DCS", "0001", "#1234|Nri1/BA003"), ("ADM-CID", "0002", "#1234|3130 02 004")]
    assert all(f.timestamp is not None and abs((f.timestamp - datetime.now(UTC)).total_seconds()) < 5
               for f in receiver.frames)
    assert receiver.connections == (1 if transport == "tcp" else 0)  # one TCP connection for both
    assert 0 < first.latency_s < 1


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_encrypted_messages_get_encrypted_acks(secure: Receiver, transport: str) -> None:
    with Panel("127.0.0.1", secure.port, "A128", key=KEY, transport=transport) as panel:
        reply = panel.event("FA", 1, text="厨房", extended=[("S", "南京银行")])
    assert reply.kind == "ACK" and reply.frame is not None and reply.frame.encrypted
    [frame] = secure.frames
    assert (frame.encrypted, frame.data, frame.extra("S")) == (True, "#A128|Nri1/FA001^厨房^", "南京银行")


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_no_reply_resends_the_same_message_with_the_same_number(transport: str) -> None:
    server = Receiver(silent=2)
    try:
        with Panel("127.0.0.1", server.port, "1234", transport=transport, timeout=0.3, retries=3) as panel:
            reply = panel.event("BA", 3)
            after = panel.null()
    finally:
        server.close()
    assert (reply.kind, reply.tries) == ("ACK", 3)
    assert [f.seq for f in server.frames] == ["0001", "0001", "0001", "0002"]
    assert server.raw[0] == server.raw[1] == server.raw[2]  # the very same bytes
    assert (after.kind, after.tries) == ("ACK", 1)


def test_gives_up_after_the_retries() -> None:
    server = Receiver(silent=100)
    try:
        with Panel("127.0.0.1", server.port, "1234", timeout=0.2, retries=2) as panel:
            reply = panel.null()
    finally:
        server.close()
    assert (reply.kind, reply.frame, reply.tries) == ("none", None, 3)
    assert [f.seq for f in server.frames] == ["0001"] * 3
    assert reply.latency_s >= 0.6


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_nak_resends_with_the_receivers_time(secure: Receiver, transport: str) -> None:
    with Panel("127.0.0.1", secure.port, "A128", key=KEY, transport=transport) as panel:
        panel.offset_s = -300.0  # the panel's clock is five minutes slow
        reply = panel.event("PA", 1)
        assert abs(panel.offset_s) < 3  # set from the NAK
    assert (reply.kind, reply.tries) == ("ACK", 2)
    first, second = secure.frames
    assert first.seq == second.seq == "0001"
    assert first.timestamp is not None and second.timestamp is not None
    assert (second.timestamp - first.timestamp).total_seconds() > 290
    assert in_window(second.timestamp, datetime.now(UTC))


def test_a_closed_connection_is_reopened() -> None:
    server = Receiver(close_after_reply=True)
    replies: list[Reply] = []
    try:
        with Panel("127.0.0.1", server.port, "1234") as panel:
            for zone in (1, 2, 3):
                replies.append(panel.event("BA", zone))
                time.sleep(0.05)  # the receiver's FIN arrives: the panel sees the connection is gone
    finally:
        server.close()
    assert [(r.kind, r.tries) for r in replies] == [("ACK", 1)] * 3
    assert server.connections == 3


def test_a_receiver_that_is_down_is_no_reply() -> None:
    port = Receiver()
    port.close()
    with Panel("127.0.0.1", port.port, "1234", timeout=0.2, retries=1) as panel:
        reply = panel.null()
    assert (reply.kind, reply.tries) == ("none", 2)


def test_sequence_numbers_wrap_after_9999() -> None:
    panel = Panel("127.0.0.1", 9, "1234")
    numbers = [panel.next_seq() for _ in range(10000)]
    assert numbers[:2] == [1, 2] and numbers[9997:] == [9998, 9999, 1]


def test_an_explicit_number_leaves_the_counter_alone(receiver: Receiver) -> None:
    with Panel("127.0.0.1", receiver.port, "1234") as panel:
        assert panel.send("SIA-DCS", "#1234|Nri1/BA003", seq=9995).kind == "ACK"
        assert panel.null().kind == "ACK"
    assert [f.seq for f in receiver.frames] == ["9995", "0001"]


def test_binary_crc_and_gbk(receiver: Receiver) -> None:
    with Panel("127.0.0.1", receiver.port, "1234") as panel:
        reply = panel.send("SIA-DCS", "#1234|Nri1/BA003", extended=[("S", "北京")], binary_crc=True,
                           encoding="gbk")
    assert reply.kind == "ACK"
    [frame] = receiver.frames
    assert (frame.binary_crc, frame.charset, frame.extra("S")) == (True, "gbk", "北京")


def test_raw_split_frames_and_garbage(receiver: Receiver) -> None:
    frame = build("SIA-DCS", 7, "1234", "#1234|Nri1/BA003")
    with Panel("127.0.0.1", receiver.port, "1234", timeout=0.3) as panel:
        assert panel.send_raw(b"garbage\r") is None
        assert panel.send_raw(frame[:15]) is None
        reply = panel.send_raw(frame[15:])
        assert reply is not None and parse(reply).token == "ACK" and parse(reply).seq == "0007"
        two = panel.send_raw(frame.replace(b"0007", b"0008") + frame)  # a bad CRC, then the good one
        assert two is not None and parse(two).seq == "0007"
    assert receiver.rejected == ["malformed", "bad_crc"]
    assert [f.seq for f in receiver.frames] == ["0007", "0007"]


def test_periodic_link_test(receiver: Receiver) -> None:
    replies: list[Reply] = []
    with Panel("127.0.0.1", receiver.port, "1234") as panel:
        panel.start_tests(0.05, replies.append)
        deadline = time.monotonic() + 5
        while len(receiver.frames) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        panel.stop()
        count = len(receiver.frames)
        time.sleep(0.15)
    assert count >= 3 and len(receiver.frames) == count  # nothing after stop()
    assert {f.token for f in receiver.frames} == {"NULL"}
    assert [r.kind for r in replies] == ["ACK"] * count


def test_cli(receiver: Receiver, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--host", "127.0.0.1", "--port", str(receiver.port), "--account", "1234", "--key",
                 "0123456789ABCDEF", "--events", "2", "--code", "FA", "--timeout", "0.2"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1  # the receiver has no key: encrypted messages are not ACKed
    assert receiver.rejected == ["no_key"] * 8 and out[0].startswith("FA zone 1: none seq=- tries=4")
    server = Receiver(KEY)
    try:
        code = main(["--host", "127.0.0.1", "--port", str(server.port), "--account", "1234", "--key",
                     "0123456789ABCDEF", "--events", "2", "--udp", "--null-every", "0.05",
                     "--duration", "0.3"])
    finally:
        server.close()
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith("BA zone 1: ACK seq=0001 tries=1")
    assert out[1].startswith("BA zone 2: ACK seq=0002")
    assert any(line.startswith("NULL: ACK seq=0003") for line in out[2:])
    assert [f.data for f in server.frames[:2]] == ["#1234|Nri1/BA001", "#1234|Nri1/BA002"]

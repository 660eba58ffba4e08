"""The SIA DC-09 receiver of a real hub process: panels over TCP and UDP → ACK after the commit → the
110 queue. Frames are built with the hub's codec (its own tests check it against pysiaalarm and the
real frames of ALARMS.md) or written by hand where the point is a broken one."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from drivers.sia_dc09 import codec
from simulators.consumer import Consumer, Received
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.servers import Mosquitto
from tests.fixtures.stored import Stack
from tests.fixtures.waiting import wait

CENTER = "110-sia"
KEY_128 = "0123456789ABCDEF"  # 16 ASCII characters
KEY_256 = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF"  # 64 hex digits
PANELS = {  # device → (account, key, site has coordinates)
    "pan-clear": ("1234", None, True),
    "pan-aes128": ("A128", KEY_128, True),
    "pan-aes256": ("B256", KEY_256, True),
    "pan-gps": ("C0C0", None, False),
    "pan-repeat": ("9D9D", None, True),
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("sia")
    with Mosquitto(root / "site") as site, Mosquitto(root / "cc") as cc:
        site.start()
        cc.start()
        database_url = f"sqlite:///{root}/hub.db"
        hub = HubProcess(root / "hub", database_url=database_url, mqtt_url=site.url,
                         cc_mqtt_url=cc.url,
                         config={"sia": {"frame_timeout_s": 1.0, "idle_timeout_s": 5.0, "max_rejected": 5},
                                 "supervision": {"grace_s": 1.0}})
        try:
            hub.start()
            hub.post("/api/v1/centers", {"id": CENTER, "name": "Nanjing 110", "kind": "110"})
            for device, (account, key, located) in PANELS.items():
                hub.post("/api/v1/sites", {
                    "id": f"site-{device}", "name": f"Bank {device}", "address": "1 Zhongshan Rd, Nanjing",
                    "lat": 32.05 if located else None, "lon": 118.78 if located else None,
                    "door_plate": "No. 1", "pole": "P-1", "center_id": CENTER})
                body: dict[str, Any] = {"id": device, "site_id": f"site-{device}", "protocol": "sia",
                                        "account": account}
                if key:
                    body["key"] = key
                hub.post("/api/v1/devices", body)
            with Consumer(cc.url) as consumer:
                yield Stack(hub, consumer, database_url)
        finally:
            hub.close()


def key_of(device: str) -> bytes | None:
    key = PANELS[device][1]
    return codec.parse_key(key) if key else None


def exchange(port: int, data: bytes, *, replies: int = 1, udp: bool = False,
             timeout: float = 5.0) -> list[bytes]:
    """Send `data` (one or more frames) and collect up to `replies` replies (LF…CR each)."""
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
        sock.sendall(data)
        got = b""
        deadline = time.monotonic() + timeout
        while got.count(b"\r") < replies and time.monotonic() < deadline:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            got += chunk
    return [b"\n" + part + b"\r" for part in got.replace(b"\n", b"").split(b"\r") if part]


def new_alarm(consumer: Consumer, device: str, zone: str, timeout: float = 15.0) -> dict[str, Any]:
    def found(messages: list[Received]) -> bool:
        return any(m.data and m.data["source"] == {"kind": "device", "id": device, "zone": zone}
                   and m.data["change"] == "new" for m in messages)

    assert consumer.wait_for(found, timeout), [m.data for m in consumer.messages()][-5:]
    return next(m.data for m in consumer.messages() if m.data and m.data["change"] == "new"
                and m.data["source"] == {"kind": "device", "id": device, "zone": zone})


def frame(device: str, token: str, seq: int, data: str = "", **kw: Any) -> bytes:
    account = PANELS[device][0]
    return codec.build(token, seq, account, data.replace("ACCT", account), receiver="12", line="3", **kw)


def test_a_clear_event_is_acknowledged_with_the_fields_echoed_and_reaches_the_queue(stack: Stack) -> None:
    [reply] = exchange(stack.hub.sia_port, frame("pan-clear", "SIA-DCS", 1, "#ACCT|Nri1/BA003"))
    ack = codec.parse(reply)
    assert (ack.token, ack.seq, ack.receiver, ack.line, ack.account) == ("ACK", "0001", "12", "3", "1234")
    alarm = new_alarm(stack.consumer, "pan-clear", "3")
    assert (alarm["category"], alarm["priority"], alarm["center_id"]) == ("burglary", 2, CENTER)
    assert alarm["site"]["id"] == "site-pan-clear"


def test_contact_id_over_udp(stack: Stack) -> None:
    [reply] = exchange(stack.hub.sia_port, frame("pan-clear", "ADM-CID", 2, "#ACCT|1110 01 007"), udp=True)
    assert codec.parse(reply).token == "ACK"
    alarm = new_alarm(stack.consumer, "pan-clear", "7")
    assert (alarm["category"], alarm["priority"], alarm["agency"]) == ("fire", 1, "119")


@pytest.mark.parametrize("device", ["pan-aes128", "pan-aes256"])
def test_encrypted_event_gets_an_encrypted_ack(stack: Stack, device: str) -> None:
    key = key_of(device)
    sent = frame(device, "SIA-DCS", 5, "#ACCT|Nri1/PA011", key=key, timestamp=datetime.now(UTC))
    assert sent[7:10] != b"SIA" and b'"*SIA-DCS"' in sent
    [reply] = exchange(stack.hub.sia_port, sent)
    assert b'"*ACK"' in reply
    ack = codec.parse(reply, lambda _account: key)
    assert (ack.token, ack.encrypted, ack.seq) == ("ACK", True, "0005")
    alarm = new_alarm(stack.consumer, device, "11")
    assert (alarm["category"], alarm["priority"]) == ("panic", 1)


def test_encrypted_event_outside_the_clock_window_gets_a_nak_with_the_receivers_time(stack: Stack) -> None:
    key = key_of("pan-aes128")
    late = datetime.now(UTC) - timedelta(minutes=5)
    [reply] = exchange(stack.hub.sia_port, frame("pan-aes128", "SIA-DCS", 6, "#ACCT|Nri1/FA021", key=key,
                                                 timestamp=late))
    nak = codec.parse(reply)
    assert nak.token == "NAK" and not nak.encrypted
    assert nak.timestamp is not None and abs((nak.timestamp - datetime.now(UTC)).total_seconds()) < 5
    # Not an event: nothing on the queue for that zone; kept as a dead letter saying why.
    dead = wait(lambda: [d for d in stack.hub.api.get("/api/v1/dead-letters").json()["items"]
                         if d["reason"] == "clock"], 10)
    assert dead
    time.sleep(1)
    assert not any(m.data and m.data["source"]["zone"] == "21" for m in stack.consumer.messages())


def test_bad_crc_gets_no_reply_and_is_kept(stack: Stack) -> None:
    good = frame("pan-clear", "SIA-DCS", 7, "#ACCT|Nri1/BA031")
    broken = good[:1] + (b"0000" if good[1:5] != b"0000" else b"FFFF") + good[5:]
    assert exchange(stack.hub.sia_port, broken, timeout=2.0) == []
    assert wait(lambda: any(d["reason"] == "bad_crc"
                            for d in stack.hub.api.get("/api/v1/dead-letters").json()["items"]), 10)


def test_several_frames_in_one_segment_and_a_frame_split_across_reads(stack: Stack) -> None:
    frames = [frame("pan-clear", "SIA-DCS", 10 + i, f"#ACCT|Nri1/BA04{i}") for i in range(3)]
    replies = exchange(stack.hub.sia_port, b"".join(frames), replies=3)
    assert [codec.parse(r).seq for r in replies] == ["0010", "0011", "0012"]
    split = frame("pan-clear", "SIA-DCS", 13, "#ACCT|Nri1/BA049")
    with socket.create_connection(("127.0.0.1", stack.hub.sia_port), timeout=5) as sock:
        for i in range(len(split)):
            sock.sendall(split[i:i + 1])
            time.sleep(0.002)
        reply = sock.recv(4096)
    assert codec.parse(reply).seq == "0013"
    for zone in ("40", "41", "42", "49"):
        new_alarm(stack.consumer, "pan-clear", zone)


def test_a_repeated_sequence_number_is_recorded_once(stack: Stack) -> None:
    """DC-09 Annex C: 9995, 9996, 9995 (repeated), 9997 → three events."""
    sent = {seq: frame("pan-repeat", "SIA-DCS", seq, f"#ACCT|Nri1/BA{seq - 9900:03d}")
            for seq in (9995, 9996, 9997)}
    before = stack.hub.metric("hub_signals_total", source="sia", result="duplicate")
    for seq in (9995, 9996, 9995, 9997):
        [reply] = exchange(stack.hub.sia_port, sent[seq])
        assert codec.parse(reply).seq == str(seq)  # the repeat is acknowledged too
    for zone in ("95", "96", "97"):
        new_alarm(stack.consumer, "pan-repeat", zone)
    assert wait(lambda: stack.hub.metric("hub_signals_total", source="sia", result="duplicate") == before + 1,
                5)
    assert stack.signals("pan-repeat") == [("BA", "95"), ("BA", "96"), ("BA", "97")]


def test_unknown_code_is_acknowledged_and_kept_as_unknown(stack: Stack) -> None:
    [reply] = exchange(stack.hub.sia_port, frame("pan-clear", "SIA-DCS", 20, "#ACCT|Nri1/QQ061"))
    assert codec.parse(reply).token == "ACK"  # never DUH: panels loop on it
    alarm = new_alarm(stack.consumer, "pan-clear", "61")
    assert alarm["category"] == "unknown"


def test_unknown_account_is_a_sighting_and_gets_no_reply_by_default(stack: Stack) -> None:
    stranger = codec.build("SIA-DCS", 1, "FEED", "#FEED|Nri1/BA001", line="1")
    assert exchange(stack.hub.sia_port, stranger, timeout=2.0) == []
    assert wait(lambda: any(u["device_key"] == "FEED" and u["source"] == "sia"
                            for u in stack.hub.api.get("/api/v1/unregistered").json()["items"]), 10)


def test_null_is_a_heartbeat_and_coordinates_and_links_fill_in_the_alarm(stack: Stack) -> None:
    [reply] = exchange(stack.hub.sia_port, frame("pan-gps", "NULL", 30))
    assert codec.parse(reply).token == "ACK"
    assert wait(lambda: stack.hub.api.get("/api/v1/devices/pan-gps").json().get("online") is True, 10)
    link = "http://127.0.0.1:9/verify/clip-1.mp4"
    extended = [("X", "E118.7969"), ("Y", "N32.0603"), ("S", "南京银行 鼓楼支行"), ("L", "金库"), ("V", link)]
    sent = frame("pan-gps", "SIA-DCS", 31, "#ACCT|Nri1/HA001", extended=extended)
    [reply] = exchange(stack.hub.sia_port, sent)
    assert codec.parse(reply).token == "ACK"
    alarm = new_alarm(stack.consumer, "pan-gps", "1")
    assert alarm["category"] == "duress"
    assert (alarm["site"]["lat"], alarm["site"]["lon"]) == (32.0603, 118.7969)
    assert {"kind": "link", "url": link} in alarm["evidence"]


def test_gbk_text_is_counted_in_bytes_and_read(stack: Stack) -> None:
    sent = frame("pan-clear", "SIA-DCS", 40, "#ACCT|Nri1/WA071", extended=[("S", "鼓楼区 中山路 1 号")],
                 encoding="gbk")
    assert "鼓楼".encode("gbk") in sent
    [reply] = exchange(stack.hub.sia_port, sent)
    assert codec.parse(reply).token == "ACK"
    assert new_alarm(stack.consumer, "pan-clear", "71")["category"] == "water"


def test_a_slow_client_is_cut_off_and_the_receiver_keeps_serving(stack: Stack) -> None:
    with socket.create_connection(("127.0.0.1", stack.hub.sia_port), timeout=10) as slow:
        slow.sendall(b'\n1234')  # a frame begun and never finished
        started = time.monotonic()
        assert slow.recv(100) == b""  # closed by the receiver
        assert time.monotonic() - started < 5
    [reply] = exchange(stack.hub.sia_port, frame("pan-clear", "NULL", 50))
    assert codec.parse(reply).token == "ACK"


def test_garbage_is_kept_and_a_connection_that_sends_only_garbage_is_closed(stack: Stack) -> None:
    with socket.create_connection(("127.0.0.1", stack.hub.sia_port), timeout=10) as sock:
        sock.sendall(b"\nnot a frame\r" * 10)
        assert sock.recv(100) == b""  # max_rejected 5
    assert wait(lambda: stack.hub.metric("hub_sia_frames_total", transport="tcp", outcome="malformed") >= 5,
                5)
    [reply] = exchange(stack.hub.sia_port, frame("pan-clear", "NULL", 51))
    assert codec.parse(reply).token == "ACK"


def test_the_receiver_reports_to_prometheus(stack: Stack) -> None:
    text = stack.hub.api.get("/metrics").text
    for name in ("hub_sia_frames_total", "hub_sia_reply_seconds_bucket", "hub_sia_connections"):
        assert name in text
    assert stack.hub.metric("hub_sia_frames_total", transport="tcp", outcome="ack") > 0


def test_any_message_restarts_the_accounts_supervision_and_silence_is_a_comm_fault(stack: Stack) -> None:
    stack.hub.post("/api/v1/devices", {"id": "pan-super", "site_id": "site-pan-clear", "protocol": "sia",
                                       "account": "5E5E", "supervision_s": 10})
    panel_frame = lambda token, seq, data="": codec.build(token, seq, "5E5E", data)  # noqa: E731
    assert codec.parse(exchange(stack.hub.sia_port, panel_frame("NULL", 1))[0]).token == "ACK"
    time.sleep(7)
    [reply] = exchange(stack.hub.sia_port, panel_frame("SIA-DCS", 2, "#5E5E|Nri1/OP001"))  # not a NULL
    assert codec.parse(reply).token == "ACK"
    time.sleep(7)  # 14 s after the NULL, 7 after the event: within the interval (10 s + 1 s grace)
    assert not any(m.data and m.data["source"]["id"] == "pan-super" for m in stack.consumer.messages())
    def fault(messages: list[Received]) -> bool:  # 11 s after the event
        return any(m.data and m.data["source"]["id"] == "pan-super" and m.data["category"] == "comm_fault"
                   for m in messages)

    assert stack.consumer.wait_for(fault, 15)

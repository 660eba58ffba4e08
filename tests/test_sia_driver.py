"""The SIA decoder and reply policy (drivers/sia_dc09/driver.py), without sockets: what each frame
becomes and what the panel hears back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from drivers.base import Inbound
from drivers.sia_dc09 import Settings, SiaDc09, codec
from drivers.sia_dc09.driver import answer, parse
from hub.errors import Rejected, Unregistered
from hub.model import Category, Device, Heartbeat, Qualifier, Signal
from hub.registry import Registry

NOW = datetime(2026, 11, 30, 2, 0, 0, tzinfo=UTC)
KEY = bytes(range(16))
PANEL = Device(id="panel-1", site_id="site-1", protocol="sia", account="AB12", topic=None, supervision_s=90,
               test_mode=False)
REGISTRY = Registry.build([], [], [PANEL])


def inbound(raw: bytes, key: bytes | None = None, at: datetime = NOW) -> Inbound:
    return Inbound(topic="sia/tcp/127.0.0.1:5000", payload=raw, received_at=at,
                   parsed=parse(raw, lambda _account: key))


def decode(raw: bytes, key: bytes | None = None, at: datetime = NOW) -> tuple[Signal | Heartbeat, ...]:
    decoded = SiaDc09(Settings()).decode(inbound(raw, key, at), REGISTRY)
    assert decoded.device_id == "panel-1"
    return decoded.items


def test_null_is_a_heartbeat() -> None:
    [beat] = decode(codec.build("NULL", 1, "AB12"))
    assert isinstance(beat, Heartbeat) and beat.device_id == "panel-1"


def test_every_event_of_a_block_is_a_signal_with_its_code_zone_and_times() -> None:
    raw = codec.build("SIA-DCS", 7, "ab12", "#AB12|Nri2/BA003/FH004", timestamp=NOW - timedelta(seconds=5))
    first, second = decode(raw)
    assert isinstance(first, Signal) and isinstance(second, Signal)
    assert (first.category, first.qualifier, first.zone, first.partition, first.code) == \
        (Category.BURGLARY, Qualifier.NEW, "3", "2", "BA")
    assert (second.category, second.qualifier, second.zone) == (Category.FIRE, Qualifier.RESTORE, "4")
    assert first.device_time == NOW - timedelta(seconds=5) and first.received_at == NOW
    assert first.msg_id != second.msg_id and first.raw == raw


def test_contact_id_and_an_unknown_token_or_unreadable_block_are_kept() -> None:
    [cid] = decode(codec.build("ADM-CID", 1, "AB12", "#AB12|1121 01 004"))
    assert isinstance(cid, Signal) and (cid.category, cid.code, cid.zone) == (Category.DURESS, "121", "4")
    [odd] = decode(codec.build("SIA-TXT", 2, "AB12", "hello"))
    assert isinstance(odd, Signal)
    assert (odd.category, odd.code, odd.text) == (Category.UNKNOWN, "SIA-TXT", "hello")
    [garbled] = decode(codec.build("SIA-DCS", 3, "AB12", "#AB12|N??"))
    assert isinstance(garbled, Signal) and (garbled.category, garbled.code) == (Category.UNKNOWN, "?")


def test_extended_blocks_give_place_coordinates_link_text_and_event_time() -> None:
    extended = [("X", "E118.7969"), ("Y", "S32.06"), ("S", "鼓楼支行"), ("R", "金库"), ("I", "门磁"),
                ("V", "https://cloud.example/v/1"), ("H", "01:59:00,11-30-2026")]
    [signal] = decode(codec.build("SIA-DCS", 4, "AB12", "#AB12|NBA001", extended=extended))
    assert isinstance(signal, Signal)
    assert (signal.lat, signal.lon) == (-32.06, 118.7969)
    assert signal.text == "门磁 — 鼓楼支行 / 金库"
    assert [(e.kind, e.path) for e in signal.evidence] == [("link", "https://cloud.example/v/1")]
    assert signal.device_time == datetime(2026, 11, 30, 1, 59, tzinfo=UTC)


@pytest.mark.parametrize(("x", "y"), [("E200", "N10"), ("junk", "N10"), ("E10", "N91")])
def test_coordinates_out_of_range_or_unreadable_are_left_out(x: str, y: str) -> None:
    [signal] = decode(codec.build("SIA-DCS", 5, "AB12", "#AB12|NBA001", extended=[("X", x), ("Y", y)]))
    assert isinstance(signal, Signal) and (signal.lat is None or signal.lon is None)


def test_a_link_that_is_not_http_is_not_evidence() -> None:
    [signal] = decode(codec.build("SIA-DCS", 6, "AB12", "#AB12|NBA001", extended=[("V", "file:///etc/passwd")]))
    assert isinstance(signal, Signal) and signal.evidence == ()


def test_a_repeat_has_the_same_message_id_a_new_message_does_not() -> None:
    def msg_id(seq: int, data: str, at: datetime = NOW, stamp: datetime | None = None) -> str | None:
        [signal] = decode(codec.build("SIA-DCS", seq, "AB12", data, timestamp=stamp), at=at)
        assert isinstance(signal, Signal)
        return signal.msg_id

    first = msg_id(9995, "#AB12|NBA001", stamp=NOW)
    later = NOW + timedelta(seconds=30)
    assert msg_id(9995, "#AB12|NBA001", at=later, stamp=later) == first  # a new timestamp, after a NAK
    assert msg_id(9996, "#AB12|NBA001") != first  # another number: another message
    assert msg_id(9995, "#AB12|NBA002") != first  # the number came round again with other content
    assert msg_id(9995, "#AB12|NBA001", at=NOW + timedelta(days=3)) != first  # …or days later


def test_an_unknown_account_is_unregistered_and_a_reply_token_is_rejected() -> None:
    with pytest.raises(Unregistered) as caught:
        decode(codec.build("SIA-DCS", 1, "FFFF", "#FFFF|NBA001"))
    assert caught.value.device_key == "FFFF"
    with pytest.raises(Rejected) as refused:
        decode(codec.build("ACK", 1, "AB12"))
    assert (refused.value.reason, refused.value.device_id) == ("unexpected_token", "panel-1")


def test_an_encrypted_frame_outside_the_clock_window_is_rejected_but_heard() -> None:
    raw = codec.build("SIA-DCS", 1, "AB12", "#AB12|NBA001", key=KEY, timestamp=NOW - timedelta(seconds=41))
    with pytest.raises(Rejected) as caught:
        decode(raw, KEY)
    assert (caught.value.reason, caught.value.device_id) == ("clock", "panel-1")
    inside = codec.build("SIA-DCS", 2, "AB12", "#AB12|NBA001", key=KEY, timestamp=NOW + timedelta(seconds=19))
    assert len(decode(inside, KEY)) == 1


def test_a_broken_frame_is_rejected_with_its_reason_and_the_device_when_known() -> None:
    good = codec.build("SIA-DCS", 1, "AB12", "#AB12|NBA001")
    with pytest.raises(Rejected) as caught:
        decode(good[:1] + b"0000" + good[5:])
    assert (caught.value.reason, caught.value.device_id) == ("bad_crc", "panel-1")


def test_encrypted_from_an_unknown_account_is_an_unregistered_sighting() -> None:
    raw = codec.build("SIA-DCS", 1, "FEED", "#FEED|NBA001", key=KEY, timestamp=NOW)
    with pytest.raises(Unregistered):
        SiaDc09(Settings()).decode(inbound(raw, None), REGISTRY)


@pytest.mark.parametrize(("policy", "reply"), [("silent", None), ("nak", "NAK"), ("ack", "ACK")])
def test_the_reply_to_an_unknown_account_is_the_configured_one(policy: str, reply: str | None) -> None:
    frame = codec.parse(codec.build("SIA-DCS", 1, "FEED", "#FEED|NBA001"))
    got = answer(frame, known=False, key=None, now=NOW, settings=Settings(unknown_account=policy))
    assert (codec.parse(got).token if got else None) == reply


def test_replies_ack_nak_and_silence() -> None:
    settings = Settings()
    clear = codec.parse(codec.build("SIA-DCS", 3, "AB12", "#AB12|NQQ001", receiver="5", line="2"))
    ack = codec.parse(answer(clear, known=True, key=None, now=NOW, settings=settings) or b"")
    assert (ack.token, ack.seq, ack.receiver, ack.line, ack.account) == ("ACK", "0003", "5", "2", "AB12")
    stale = codec.parse(codec.build("NULL", 4, "AB12", key=KEY, timestamp=NOW - timedelta(minutes=2)),
                        lambda _a: KEY)
    nak = codec.parse(answer(stale, known=True, key=KEY, now=NOW, settings=settings) or b"")
    assert (nak.token, nak.timestamp) == ("NAK", NOW)
    fresh = codec.parse(codec.build("NULL", 5, "AB12", key=KEY, timestamp=NOW), lambda _a: KEY)
    sealed = answer(fresh, known=True, key=KEY, now=NOW, settings=settings) or b""
    assert b'"*ACK"' in sealed and codec.parse(sealed, lambda _a: KEY).seq == "0005"
    broken = parse(b"\n0000" + codec.build("NULL", 6, "AB12")[5:], lambda _a: None)
    assert answer(broken, known=True, key=None, now=NOW, settings=settings) is None
    reply_token = codec.parse(codec.build("ACK", 7, "AB12"))
    assert answer(reply_token, known=True, key=None, now=NOW, settings=settings) is None

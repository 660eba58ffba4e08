"""SIA DC-09 frames (drivers.sia_dc09.codec): CRC, length, layout, encryption, replies, stream splitting.

Anchors that do not come from the codec itself: the CRC-16/ARC check value, the two real frames of
ALARMS.md, a real encrypted NULL, encryption done here with `cryptography` directly, and pysiaalarm
(an independent implementation) reading what we build and writing replies we read.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pysiaalarm.account import SIAAccount
from pysiaalarm.event import NAKEvent, SIAEvent
from pysiaalarm.utils.enums import ResponseType

from drivers.sia_dc09.codec import (
    MAX_FRAME,
    PAD_CHARS,
    Frame,
    FrameError,
    Splitter,
    ack,
    build,
    crc16_arc,
    duh,
    in_window,
    nak,
    parse,
    parse_key,
)

NULL_REAL = b'\n12CE0026"NULL"0000L0#CCC[]_02:48:01,03-10-2026\r'
CID_REAL = b'\n9EC40027"ADM-CID"0001L0#1002[#1002|1602 00 001]\r'
# A real encrypted NULL quoted in pysiaalarm's tests (its CRC and length check out), key "AAAAAAAAAAAAAAAA".
NULL_ENCRYPTED_REAL = (b'76D80055"*NULL"0000R0L0#AAAB['
                       b"B4BC8B40D0E6D959D6BEA78E88CC0B2155741A3C44FBB96D476A3E557CAD64D9")
WHEN = datetime(2026, 3, 10, 2, 48, 1, tzinfo=UTC)
KEYS = {"aes128": b"0123456789ABCDEF", "aes192": b"0123456789ABCDEFGHIJKLMN",
        "aes256": b"0123456789ABCDEF0123456789abcdef"}
KEY = KEYS["aes128"]


def reason(raw: bytes, key: bytes | None = None) -> str:
    with pytest.raises(FrameError) as caught:
        parse(raw, lambda _account: key)
    return caught.value.reason


def framed(body: bytes) -> bytes:
    """A frame around `body` with the right CRC and length (for bodies the codec would not build)."""
    return b"\n%04X%04X%s\r" % (crc16_arc(body), len(body), body)


def encrypted(head: str, rest: bytes, key: bytes) -> bytes:
    """`head` (up to and with `[`), then `rest` left-padded with `0` and encrypted here, independently of
    the codec."""
    clear = b"0" * (16 - len(rest) % 16) + rest
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    secret = encryptor.update(clear) + encryptor.finalize()
    return framed(head.encode() + secret.hex().upper().encode())


def decrypt_tail(frame: bytes, key: bytes) -> bytes:
    """The clear text of an encrypted frame, decrypted here, independently of the codec."""
    hex_text = frame[frame.index(b"[") + 1:-1]
    decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).decryptor()
    return decryptor.update(bytes.fromhex(hex_text.decode())) + decryptor.finalize()


# -- CRC and length ----------------------------------------------------------------------------------------


def test_crc16_arc_check_value() -> None:
    assert crc16_arc(b"123456789") == 0xBB3D  # the catalogued check value of CRC-16/ARC
    assert crc16_arc(b"") == 0


def test_real_frames_have_the_crc_and_length_they_declare() -> None:
    assert crc16_arc(NULL_REAL[9:-1]) == 0x12CE and len(NULL_REAL[9:-1]) == 0x26
    assert crc16_arc(CID_REAL[9:-1]) == 0x9EC4 and len(CID_REAL[9:-1]) == 0x27


def test_real_null_parses_exactly() -> None:
    assert parse(NULL_REAL) == Frame(token="NULL", encrypted=False, seq="0000", receiver=None, line="0",
                                     account="CCC", data="", extended=(), timestamp=WHEN, binary_crc=False,
                                     charset="ascii", length=0x26)


def test_real_adm_cid_parses_exactly() -> None:
    assert parse(CID_REAL) == Frame(token="ADM-CID", encrypted=False, seq="0001", receiver=None, line="0",
                                    account="1002", data="#1002|1602 00 001", extended=(), timestamp=None,
                                    binary_crc=False, charset="ascii", length=0x27)


def test_build_reproduces_the_real_frames_byte_for_byte() -> None:
    assert build("NULL", 0, "CCC", timestamp=WHEN) == NULL_REAL
    assert build("ADM-CID", 1, "1002", "#1002|1602 00 001") == CID_REAL


def test_real_encrypted_null_decrypts() -> None:
    frame = parse(NULL_ENCRYPTED_REAL, lambda account: b"AAAAAAAAAAAAAAAA" if account == "AAAB" else None)
    assert (frame.token, frame.encrypted, frame.seq, frame.receiver, frame.line, frame.account,
            frame.data) == ("NULL", True, "0000", "0", "0", "AAAB", "")
    assert frame.timestamp == datetime(2020, 7, 5, 18, 24, 52, tzinfo=UTC)


@pytest.mark.parametrize("raw", [NULL_REAL, CID_REAL])
def test_every_single_byte_change_in_the_body_is_a_bad_crc(raw: bytes) -> None:
    for index in range(10, len(raw) - 1):  # from after the `"` that the layout is found by
        changed = bytearray(raw)
        changed[index] ^= 0x01
        assert reason(bytes(changed)) == "bad_crc", index


def test_a_wrong_crc_field_is_a_bad_crc() -> None:
    assert reason(NULL_REAL.replace(b"12CE", b"12CF")) == "bad_crc"


def test_a_wrong_length_is_a_bad_length() -> None:
    assert reason(NULL_REAL.replace(b"0026", b"0025")) == "bad_length"
    assert reason(NULL_REAL.replace(b"0026", b"0027")) == "bad_length"
    # a body one byte longer than declared, with a CRC that covers it
    body = NULL_REAL[9:-1] + b"0"
    assert reason(b"\n%04X0026%s\r" % (crc16_arc(body), body)) == "bad_length"


def test_lower_case_hex_and_a_missing_lf_or_cr_are_accepted() -> None:
    assert parse(NULL_REAL.replace(b"12CE", b"12ce")).account == "CCC"
    assert parse(NULL_REAL[1:]) == parse(NULL_REAL[:-1]) == parse(NULL_REAL[1:-1]) == parse(NULL_REAL)


def test_oversized() -> None:
    assert reason(b"\n" + b"A" * MAX_FRAME + b"\r") == "oversized"
    with pytest.raises(ValueError, match="more than"):
        build("SIA-DCS", 1, "1234", "#1234|Nri1/BA003", extended=[("I", "x" * MAX_FRAME)])


# -- layout --------------------------------------------------------------------------------------------------


def test_receiver_and_missing_line() -> None:
    frame = parse(framed(b'"SIA-DCS"0042R1A#1234[#1234|Nri1/BA003]'))
    assert (frame.receiver, frame.line, frame.seq) == ("1A", "0", "0042")


def test_receiver_after_line_is_accepted() -> None:
    """pysiaalarm writes its NAK as `"NAK"0000L0R0A0[]…`."""
    frame = parse(framed(b'"NAK"0000L0R0A0[]_02:48:01,03-10-2026'))
    assert (frame.token, frame.receiver, frame.line, frame.account, frame.timestamp) == \
        ("NAK", "0", "0", "0", WHEN)


def test_unknown_tokens_are_kept_for_the_receiver_to_judge() -> None:
    assert parse(framed(b'"SIA-DCS-X"0001L0#1234[]')).token == "SIA-DCS-X"


@pytest.mark.parametrize("body", [b'"SIA DCS"0001L0#1234[]', b'""0001L0#1234[]', b'"*"0001L0#1234[]',
                                  b'"SIA-DCS!"0001L0#1234[]'])
def test_bad_tokens(body: bytes) -> None:
    assert reason(framed(body)) == "bad_token"


@pytest.mark.parametrize("account", [b"12", b"12G4", b"12345678901234567", b"", b"12 4"])
def test_bad_accounts(account: bytes) -> None:
    assert reason(framed(b'"SIA-DCS"0001L0#' + account + b"[#1234|Nri1/BA003]")) == "bad_account"


def test_short_accounts_only_in_replies() -> None:
    assert parse(framed(b'"ACK"0001L0#1[]')).account == "1"
    assert reason(framed(b'"SIA-DCS"0001L0A0[#1234|Nri1/BA003]')) == "bad_account"  # `A` marker: NAK only


def test_account_only_in_the_data_block() -> None:
    """Some panels leave `#ACCT` out of the header (pysiaalarm's case from one of them)."""
    frame = parse(framed(b'"SIA-DCS"4738R0001L0001[#006969|Nri04/OP001NM]'))
    assert (frame.account, frame.receiver, frame.line) == ("006969", "0001", "0001")
    assert reason(framed(b'"SIA-DCS"4738L0[Nri04/OP001]')) == "bad_account"


@pytest.mark.parametrize("body", [
    b'"SIA-DCS"001L0#1234[]',  # 3-digit sequence number
    b'"SIA-DCS"00G1L0#1234[]',  # not even hex
    b'"SIA-DCS"0001L0#1234',  # no data block
    b'"SIA-DCS"0001L0#1234[#1234|Nri1/BA003',  # unclosed
    b'"SIA-DCS"0001L0#1234[]x',  # junk after the blocks
    b'"SIA-DCS"0001L0#1234[][]',  # empty extended block
    b'"SIA-DCS"0001L0#1234[][x1]',  # extended block without an upper-case letter
    b'"SIA-DCS"0001L0#1234[]_24:00:00,03-10-2026',  # no such time
    b'"SIA-DCS"0001L0#1234[]_02:48:01,2026-03-10',  # wrong time layout
    b'"SIA-DCS"0001L0#1234[]_02:48:01,02-30-2026',  # no such day
    b'"SIA-DCS"0001L0#1234[#1234|\tBA003]',  # control character
    b'"SIA-DCS"0001R1R2L0#1234[]',  # two receivers
    b'"SIA-DCS"0001L0#1234[\xff\xfe]',  # neither UTF-8 nor GBK
    b"no quote at all",
])
def test_malformed(body: bytes) -> None:
    assert reason(framed(body)) == "malformed"


def test_text_before_the_crc_is_malformed() -> None:
    assert reason(b"hello\r") == "malformed"
    assert reason(b"") == "malformed"


# -- build and parse round trips -----------------------------------------------------------------------------

EXTENDED = [("X", "E118.78"), ("Y", "N32.05"), ("S", "Bank of Nanjing"), ("L", "lobby"), ("R", "vault"),
            ("O", "building 2"), ("V", "http://127.0.0.1:9/clip/42"), ("H", "02:47:59,03-10-2026"),
            ("I", "door forced")]


@pytest.mark.parametrize("key_name", [None, *KEYS])
@pytest.mark.parametrize("binary_crc", [False, True])
def test_round_trip(key_name: str | None, binary_crc: bool) -> None:
    key = KEYS[key_name] if key_name else None
    raw = build("SIA-DCS", 42, "12AB", "#12AB|Nri1/BA003", receiver="7", line="2", extended=EXTENDED,
                timestamp=WHEN, key=key, binary_crc=binary_crc)
    frame = parse(raw, lambda account: key if account == "12AB" else None)
    header = 7 if binary_crc else 9  # LF, CRC, length
    assert frame == Frame(token="SIA-DCS", encrypted=key is not None, seq="0042", receiver="7", line="2",
                          account="12AB", data="#12AB|Nri1/BA003", extended=tuple(EXTENDED), timestamp=WHEN,
                          binary_crc=binary_crc, charset="ascii", length=len(raw) - header - 1)
    assert frame.extra("V") == "http://127.0.0.1:9/clip/42" and frame.extra("Z") is None


@pytest.mark.parametrize(("encoding", "charset"), [("utf-8", "utf-8"), ("gbk", "gbk")])
@pytest.mark.parametrize("key", [None, KEY])
def test_chinese_site_names_count_as_bytes(encoding: str, charset: str, key: bytes | None) -> None:
    site = "南京银行 鼓楼支行"
    raw = build("SIA-DCS", 7, "1234", "#1234|Nri1/BA003", extended=[("S", site)], timestamp=WHEN, key=key,
                encoding=encoding)
    frame = parse(raw, lambda _account: key)
    assert (frame.extra("S"), frame.charset) == (site, charset)
    if key is None:
        assert frame.length == len(raw) - 10 == len(f'"SIA-DCS"0007L0#1234[#1234|Nri1/BA003][S{site}]'
                                                     f"_02:48:01,03-10-2026".encode(encoding))
        assert site.encode(encoding) in raw


def test_encrypted_layout_is_clear_header_then_hex_of_pad_bar_data() -> None:
    """`#ACCT[` in clear; the hex decrypts to `<pad>|<data>]<ext>_<time>`, the pad from PAD_CHARS."""
    raw = build("SIA-DCS", 3, "1234", "#1234|Nri1/BA003", extended=[("X", "1")], timestamp=WHEN, key=KEY)
    assert raw.startswith(b'\n') and b'"*SIA-DCS"0003L0#1234[' in raw
    clear = decrypt_tail(raw, KEY)
    assert len(clear) % 16 == 0
    pad, _, rest = clear.partition(b"|")
    assert rest == b"#1234|Nri1/BA003][X1]_02:48:01,03-10-2026"
    assert 1 <= len(pad) <= 16 and set(pad.decode()) <= set(PAD_CHARS)
    null = decrypt_tail(build("NULL", 4, "1234", timestamp=WHEN, key=KEY), KEY)
    assert null.endswith(b"]_02:48:01,03-10-2026") and b"|" not in null


def test_encrypted_frames_made_elsewhere_parse() -> None:
    """Encrypted here with `cryptography`: the standard `pad|data` and a `pad[data` variant."""
    cases = {b"|Nri1/BA003]_02:48:01,03-10-2026": "Nri1/BA003",
             b"[#1234|Nri1/BA003]_02:48:01,03-10-2026": "#1234|Nri1/BA003"}
    for rest, data in cases.items():
        frame = parse(encrypted('"*SIA-DCS"0009L0#1234[', rest, KEY), lambda _account: KEY)
        assert (frame.data, frame.timestamp) == (data, WHEN)


def test_encrypted_without_key_or_with_a_wrong_one() -> None:
    raw = build("SIA-DCS", 3, "1234", "#1234|Nri1/BA003", timestamp=WHEN, key=KEY)
    assert reason(raw, None) == "no_key"
    assert reason(raw, b"short") == "no_key"
    with pytest.raises(FrameError) as caught:
        parse(raw, lambda _account: b"FEDCBA9876543210")
    assert caught.value.reason == "bad_decrypt"
    assert "FEDCBA" not in str(caught.value) and "0123456789ABCDEF" not in str(caught.value)


def test_wrong_keys_are_bad_decrypt_not_anything_else() -> None:
    raw = build("SIA-DCS", 3, "1234", "#1234|Nri1/BA003", timestamp=WHEN, key=KEY)
    reasons = {reason(raw, bytes([n]) * 16) for n in range(200)}
    assert reasons == {"bad_decrypt"}


def test_decrypted_text_must_look_like_text() -> None:
    """A pad that is not ASCII or control characters after it: noise from a wrong key, not a message."""
    rest = b"|Nri1/BA003]_02:48:01,03-10-2026"
    assert parse(encrypted('"*SIA-DCS"0009L0#1234[', rest, KEY), lambda _account: KEY).data == "Nri1/BA003"
    not_ascii = encrypted('"*SIA-DCS"0009L0#1234[', b"\xe9" * 16 + rest, KEY)
    assert reason(not_ascii, KEY) == "bad_decrypt"
    control = encrypted('"*SIA-DCS"0009L0#1234[', rest.replace(b"BA003", b"BA\x01003"), KEY)
    assert reason(control, KEY) == "bad_decrypt"
    head = '"*SIA-DCS"0009L0#1234['
    assert reason(encrypted(head, b"\xff\xfe]_02:48:01,03-10-2026", KEY), KEY) == "bad_decrypt"
    assert reason(encrypted(head, b"Nri1/BA003", KEY), KEY) == "bad_decrypt"  # no separator


def test_encrypted_needs_a_timestamp_and_whole_blocks() -> None:
    assert reason(encrypted('"*SIA-DCS"0009L0#1234[', b"|Nri1/BA003]", KEY), KEY) == "malformed"
    raw = build("NULL", 1, "1234", timestamp=WHEN, key=KEY)
    assert reason(framed(raw[9:-3]), KEY) == "bad_decrypt"  # one byte short of whole AES blocks
    assert reason(framed(raw[9:-1] + b"Z"), KEY) == "malformed"  # not hex


def test_build_refuses_fields_that_would_not_parse() -> None:
    bads: list[dict[str, Any]] = [
        dict(token="SIA DCS"), dict(account="12G"), dict(account=""), dict(data="a]b"), dict(data="a\rb"),
        dict(extended=[("x", "1")]), dict(extended=[("XY", "1")]), dict(extended=[("S", "a[b")]),
        dict(seq=10000), dict(seq="12"), dict(receiver="1234567"), dict(receiver=""), dict(line="G"),
        dict(timestamp=datetime(2026, 3, 10)),
    ]
    for bad in bads:
        fields: dict[str, Any] = {"token": "SIA-DCS", "seq": 1, "account": "1234", "data": "", **bad}
        with pytest.raises(ValueError):
            build(**fields)


def test_build_encrypted_defaults_to_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    frame = parse(build("NULL", 1, "1234", key=KEY), lambda _account: KEY)
    assert frame.timestamp is not None and before <= frame.timestamp <= datetime.now(UTC)


# -- replies -------------------------------------------------------------------------------------------------


def test_ack_echoes_seq_receiver_line_and_account() -> None:
    frame = parse(build("SIA-DCS", 42, "12AB", "#12AB|Nri1/BA003", receiver="5F", line="3"))
    body = b'"ACK"0042R5FL3#12AB[]'
    assert ack(frame) == b"\n%04X%04X%s\r" % (crc16_arc(body), len(body), body)
    assert parse(ack(frame)).token == "ACK"
    no_receiver = parse(build("NULL", 9, "ABC"))
    assert ack(no_receiver)[9:-1] == b'"ACK"0009L0#ABC[]'


def test_encrypted_ack_is_encrypted_with_the_key() -> None:
    frame = parse(build("SIA-DCS", 42, "12AB", "#12AB|Nri1/BA003", receiver="5F", line="3", key=KEY),
                  lambda _account: KEY)
    reply = ack(frame, KEY, WHEN)
    assert reply[9:].startswith(b'"*ACK"0042R5FL3#12AB[')
    assert decrypt_tail(reply, KEY).endswith(b"]_02:48:01,03-10-2026")
    echo = parse(reply, lambda _account: KEY)
    assert (echo.token, echo.encrypted, echo.seq, echo.receiver, echo.line, echo.account, echo.timestamp) == \
        ("ACK", True, "0042", "5F", "3", "12AB", WHEN)
    with pytest.raises(ValueError, match="key"):
        ack(frame)


def test_nak_carries_the_receivers_time_in_clear() -> None:
    assert nak(WHEN) == framed(b'"NAK"0000R0L0A0[]_02:48:01,03-10-2026')
    assert nak(WHEN + timedelta(hours=8, microseconds=5)) == nak(WHEN + timedelta(hours=8))
    frame = parse(nak(WHEN))
    assert (frame.token, frame.seq, frame.account, frame.timestamp, frame.encrypted) == \
        ("NAK", "0000", "0", WHEN, False)


def test_duh_echoes_in_clear() -> None:
    frame = parse(build("SIA-DCS", 5, "1234", "#1234|Nri1/ZZ003", receiver="1", key=KEY), lambda _a: KEY)
    assert duh(frame) == framed(b'"DUH"0005R1L0#1234[]')


def test_time_window_is_20_s_ahead_and_40_s_behind() -> None:
    now = WHEN
    assert in_window(now + timedelta(seconds=20), now) and not in_window(now + timedelta(seconds=21), now)
    assert in_window(now - timedelta(seconds=40), now) and not in_window(now - timedelta(seconds=41), now)
    assert in_window(now + timedelta(seconds=50), now, ahead_s=60.0)
    assert not in_window(now - timedelta(seconds=30), now, behind_s=10.0)


def test_parse_key() -> None:
    assert parse_key("0123456789ABCDEF") == b"0123456789ABCDEF"
    assert parse_key("0123456789ABCDEFGHIJKLMN") == b"0123456789ABCDEFGHIJKLMN"
    assert parse_key("00112233445566778899aabbccddeeff") == bytes(range(0, 256, 17))
    assert parse_key("AB" * 24) == b"\xab" * 24
    assert parse_key("0f" * 32) == b"\x0f" * 32
    assert parse_key("this key is thirty-two chars!!!!") == b"this key is thirty-two chars!!!!"
    for bad in ["", "short", "0123456789ABCDE", "0123456789ABCDEF0", "é" * 16, "0123456789ABCDE\n",
                "G" * 48, "0" * 63]:
        with pytest.raises(ValueError):
            parse_key(bad)


def test_frame_error_says_its_reason_and_detail() -> None:
    error = FrameError("bad_crc", "CRC 0001 sent, 0002 computed")
    assert (error.reason, error.detail, str(error)) == ("bad_crc", "CRC 0001 sent, 0002 computed",
                                                        "CRC 0001 sent, 0002 computed")
    with pytest.raises(ValueError):
        FrameError("whatever", "")


# -- pysiaalarm, an independent implementation ---------------------------------------------------------------


def pysia(raw: bytes, account: str, key: bytes | None) -> SIAEvent:
    accounts = {account: SIAAccount(account, key.decode() if key else None)}
    return SIAEvent.from_line(raw[1:-1].decode(), accounts)


@pytest.mark.parametrize("key_name", [None, *KEYS])
def test_pysiaalarm_reads_our_sia_dcs(key_name: str | None) -> None:
    key = KEYS[key_name] if key_name else None
    now = datetime.now(UTC).replace(microsecond=0)
    raw = build("SIA-DCS", 4321, "12AB", "#12AB|Nri2/BA007", receiver="0", line="1", timestamp=now, key=key)
    event = pysia(raw, "12AB", key)
    assert event.valid_message  # its CRC of our bytes agrees
    # pysiaalarm calls `ri` the zone and keeps the address after the code as `message`.
    assert (event.code, event.ri, event.message, event.account, event.sequence, event.timestamp) == \
        ("BA", "2", "007", "12AB", "4321", now)
    assert event.response == ResponseType.ACK


@pytest.mark.parametrize("key_name", [None, *KEYS])
def test_pysiaalarm_reads_our_adm_cid(key_name: str | None) -> None:
    key = KEYS[key_name] if key_name else None
    now = datetime.now(UTC).replace(microsecond=0)
    raw = build("ADM-CID", 17, "1002", "#1002|3130 01 003", receiver="0", timestamp=now, key=key)
    event = pysia(raw, "1002", key)
    assert event.valid_message
    assert (event.event_qualifier, event.event_type, event.partition, event.ri, event.code, event.sequence,
            event.timestamp) == ("3", "130", "01", "003", "BH", "0017", now)


@pytest.mark.parametrize("key_name", [None, *KEYS])
def test_pysiaalarm_reads_our_null(key_name: str | None) -> None:
    key = KEYS[key_name] if key_name else None
    now = datetime.now(UTC).replace(microsecond=0)
    event = pysia(build("NULL", 5, "ABC", receiver="0", timestamp=now, key=key), "ABC", key)
    assert event.valid_message and (event.code, event.sequence, event.timestamp) == ("RP", "0005", now)


@pytest.mark.parametrize("key_name", [None, *KEYS])
def test_we_read_pysiaalarms_acks(key_name: str | None) -> None:
    key = KEYS[key_name] if key_name else None
    raw = build("SIA-DCS", 77, "12AB", "#12AB|Nri1/BA003", receiver="3", line="2", key=key,
                timestamp=datetime.now(UTC))
    reply = parse(pysia(raw, "12AB", key).create_response(), lambda _account: key)
    assert (reply.token, reply.encrypted, reply.seq, reply.receiver, reply.line, reply.account) == \
        ("ACK", key is not None, "0077", "3", "2", "12AB")
    if key is not None:
        assert reply.timestamp is not None and abs(reply.timestamp - datetime.now(UTC)) < timedelta(seconds=5)


def test_we_read_pysiaalarms_duh_and_naks() -> None:
    unknown = build("SIA-DCS", 78, "12AB", "#12AB|Nri1/ZX003", receiver="0", timestamp=datetime.now(UTC))
    assert parse(pysia(unknown, "12AB", None).create_response()).token == "DUH"
    stale = build("SIA-DCS", 79, "12AB", "#12AB|Nri1/BA003", receiver="0", line="0", key=KEY,
                  timestamp=datetime.now(UTC) - timedelta(minutes=5))
    answer = parse(pysia(stale, "12AB", KEY).create_response())
    assert (answer.token, answer.seq, answer.account) == ("NAK", "0000", "0")
    assert answer.timestamp is not None and abs(answer.timestamp - datetime.now(UTC)) < timedelta(seconds=5)
    assert parse(NAKEvent().create_response()).token == "NAK"  # its `L0R0A0` order


# -- Splitter ------------------------------------------------------------------------------------------------


def binary_frame(position: int, value: int) -> bytes:
    """A binary-CRC frame whose CRC byte at `position` (1 or 2) is `value` (LF or CR)."""
    return next(raw for seq in range(10000)
                if (raw := build("NULL", seq, "1234", binary_crc=True))[position] == value)


BINARY = [binary_frame(1, 0x0A), binary_frame(2, 0x0D), binary_frame(1, 0x0D), binary_frame(2, 0x0A)]
STREAM_FRAMES = [NULL_REAL, BINARY[0], CID_REAL, BINARY[1], BINARY[2], BINARY[3],
                 build("SIA-DCS", 9, "1234", "#1234|Nri1/BA003", key=KEY)]
STREAM = b"".join(STREAM_FRAMES)


def test_binary_crc_frames_with_lf_and_cr_in_the_crc_parse() -> None:
    assert len({raw[1:3] for raw in BINARY}) == 4
    for raw in BINARY:
        frame = parse(raw)
        assert frame.binary_crc and frame.account == "1234"
        assert parse(raw[1:]).seq == frame.seq  # without its LF too


def test_several_frames_in_one_read() -> None:
    splitter = Splitter()
    assert splitter.feed(STREAM) == STREAM_FRAMES
    assert splitter.buffered() == 0


def test_a_stream_cut_at_every_byte() -> None:
    for cut in range(len(STREAM) + 1):
        splitter = Splitter()
        assert splitter.feed(STREAM[:cut]) + splitter.feed(STREAM[cut:]) == STREAM_FRAMES, cut


def test_a_stream_fed_byte_by_byte() -> None:
    splitter = Splitter()
    chunks = [chunk for index in range(len(STREAM)) for chunk in splitter.feed(STREAM[index:index + 1])]
    assert chunks == STREAM_FRAMES


def test_garbage_comes_back_as_chunks_and_blanks_are_dropped() -> None:
    splitter = Splitter()
    data = b"hello" + NULL_REAL + b"\x00\x00 \t" + b"junk\r" + CID_REAL + b"\r\n"
    assert splitter.feed(data) == [b"hello", NULL_REAL, b"junk\r", CID_REAL]
    assert splitter.buffered() == 1  # the LF: perhaps the start of a frame
    assert splitter.feed(b"trailing") == [] and splitter.buffered() == 9
    assert splitter.feed(b"\n") == [b"\ntrailing"] and splitter.buffered() == 1
    assert splitter.feed(b"\r \x00\n\r") == []
    assert splitter.buffered() == 2  # LF CR: perhaps a frame whose binary CRC starts with 0x0D


def test_frames_ended_by_cr_lf_or_sent_without_lf() -> None:
    splitter = Splitter()
    assert splitter.feed(NULL_REAL[1:] + b"\n" + CID_REAL[1:] + b"\n") == [NULL_REAL[1:], CID_REAL]


def test_a_truncated_frame_is_given_back_and_the_next_one_found() -> None:
    splitter = Splitter()
    assert splitter.feed(NULL_REAL[:20] + CID_REAL) == [NULL_REAL[:20], CID_REAL]
    assert reason(NULL_REAL[:20]) == "bad_crc"


def test_a_wrong_declared_length_ends_at_the_cr() -> None:
    wrong = NULL_REAL.replace(b"0026", b"0030")
    splitter = Splitter()
    assert splitter.feed(wrong) == [wrong]  # the CR ends the buffer: no waiting for bytes that never come
    assert splitter.feed(NULL_REAL.replace(b"0026", b"0010") + CID_REAL) == \
        [NULL_REAL.replace(b"0026", b"0010"), CID_REAL]


@pytest.mark.parametrize("binary_crc", [False, True])
def test_a_cr_inside_the_body_does_not_end_a_frame_whose_length_goes_past_it(binary_crc: bool) -> None:
    body = b'"SIA-DCS"0001L0#1234[#1234|Nri1/BA003^a\rb^]'
    crc = crc16_arc(body)
    head = crc.to_bytes(2, "big") if binary_crc else b"%04X" % crc
    frame = b"\n" + head + b"%04X" % len(body) + body + b"\r"
    splitter = Splitter()
    assert splitter.feed(frame + CID_REAL) == [frame, CID_REAL]
    cut = frame.index(b"\rb^") + 2
    assert splitter.feed(frame[:cut]) == [] and splitter.feed(frame[cut:]) == [frame]  # waits past the CR
    assert reason(frame) == "malformed"  # a control character in the text


def test_oversized_without_cr_resyncs_at_the_next_lf() -> None:
    splitter = Splitter()
    chunks = splitter.feed(NULL_REAL[:27] + b"A" * 3000)
    assert [len(chunk) for chunk in chunks] == [MAX_FRAME + 1, MAX_FRAME]  # and 978 bytes wait for an end
    assert reason(chunks[0]) == "oversized"
    assert splitter.buffered() < MAX_FRAME
    assert splitter.feed(NULL_REAL)[-1] == NULL_REAL
    assert splitter.buffered() == 0


def test_a_small_max_frame() -> None:
    splitter = Splitter(max_frame=32)
    assert splitter.feed(CID_REAL) == [CID_REAL[:33], CID_REAL[33:]]


# -- properties ----------------------------------------------------------------------------------------------

VALID = [NULL_REAL, CID_REAL, STREAM_FRAMES[1], build("SIA-DCS", 9, "1234", "#1234|Nri1/BA003", key=KEY,
                                                      extended=[("S", "南京")])]


def parse_all(chunks: list[bytes]) -> None:
    for chunk in chunks:
        assert len(chunk) <= MAX_FRAME + 1
        try:
            parse(chunk, lambda _account: KEY)
        except FrameError as exc:
            assert exc.reason in {"bad_crc", "bad_length", "malformed", "bad_token", "bad_account",
                                  "no_key", "bad_decrypt", "oversized"}


@settings(max_examples=300, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=1500), max_size=6))
def test_random_bytes_only_ever_raise_frame_error(reads: list[bytes]) -> None:
    started = time.monotonic()
    splitter = Splitter()
    for data in reads:
        parse_all(splitter.feed(data))
        assert splitter.buffered() <= MAX_FRAME + 1
        parse_all([data])
    assert time.monotonic() - started < 1.0


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(raw)))
        action = draw(st.sampled_from(["flip", "insert", "delete"]))
        byte = draw(st.sampled_from([0x0A, 0x0D, 0x22, 0x5B, 0x5D, 0x7C, 0x00, 0xFF, 0x30, 0x41]))
        if action == "insert":
            raw.insert(where, byte)
        elif where < len(raw):
            if action == "flip":
                raw[where] = byte
            else:
                del raw[where]
    return bytes(raw)


@settings(max_examples=500, database=None)
@given(st.lists(mutated(), min_size=1, max_size=4))
def test_mutated_frames_only_ever_raise_frame_error(frames: list[bytes]) -> None:
    splitter = Splitter()
    parse_all(splitter.feed(b"".join(frames)))
    parse_all(frames)


TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="[]"), max_size=40)


@settings(max_examples=200, database=None)
@given(data=TEXT, extended=st.lists(st.tuples(st.sampled_from("XYSLROVHI"), TEXT), max_size=3),
       seq=st.integers(0, 9999), key=st.sampled_from([None, *KEYS.values()]), binary_crc=st.booleans(),
       encoding=st.sampled_from(["utf-8", "gbk"]))
def test_anything_built_parses_back(data: str, extended: list[tuple[str, str]], seq: int, key: bytes | None,
                                    binary_crc: bool, encoding: str) -> None:
    try:
        raw = build("SIA-DCS", seq, "ABC123", data, extended=extended, timestamp=WHEN, key=key,
                    binary_crc=binary_crc, encoding=encoding)
    except UnicodeEncodeError:
        return  # not every character has a GBK form
    text = data + "".join(value for _, value in extended)
    assume(encoding == "utf-8" or not _is_utf8(text.encode("gbk")))  # GBK that reads as UTF-8 is UTF-8
    frame = parse(raw, lambda _account: key)
    assert (frame.data, frame.extended, frame.seq, frame.timestamp) == \
        (data, tuple(extended), f"{seq:04d}", WHEN)
    assert Splitter().feed(raw) == [raw]


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_a_hex_sequence_number_is_read_and_echoed() -> None:
    """DC-09 says 4 decimal digits; the dc09_spt library sends its tenth message as `000A`. Refused, such a
    panel would repeat it forever, and nothing after it would get through."""
    frame = parse(framed(b'"SIA-DCS"000AL0#1234[#1234|NBA10]'))
    assert frame.seq == "000A"
    assert parse(ack(frame)).seq == "000A"

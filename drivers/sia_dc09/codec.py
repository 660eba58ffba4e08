"""SIA DC-09 frames: parse, build, reply to, and cut a TCP stream into them. Pure: no sockets, and no
clock unless one is asked for.

    <LF> CRC 0LLL "TOKEN" SEQ [Rrcvr] Lline #ACCT [data] [Xext]… [_HH:MM:SS,MM-DD-YYYY] <CR>

CRC (CRC-16/ARC, 4 hex characters or 2 raw bytes) and 0LLL (3 hex digits) both cover the raw bytes
from the first `"` to the byte before CR (ALARMS.md): the body is checked as bytes before it is
decoded, so UTF-8 or GBK site names count by their bytes.

Encryption (`"*TOKEN"`): `#ACCT[` stays in clear and the rest is the hex of AES-CBC (all-zero IV)
over `<pad>|<data>][Xext]…_<timestamp>`, or `<pad>][Xext]…_<timestamp>` when the data block is empty
(NULL, ACK). The pad is 1–16 ASCII characters other than `|`, `[`, `]` that make the clear text a multiple
of 16 bytes; it stands where a clear data block repeats `#ACCT`. This is the layout of the two
independent implementations we could read (pysiaalarm, which reads Ajax hubs, and the dc09_spt panel
library) and of a real encrypted NULL quoted in pysiaalarm's tests, so it is what deployed panels and
receivers speak. A decrypted text whose pad ends with `[` instead of `|` is accepted as well.
"""

from __future__ import annotations

import functools
import re
import secrets
import string
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# Bytes, LF and CR included: far above any real frame, and a bound on what a peer can make us hold.
MAX_FRAME = 1024
REASONS = frozenset({"bad_crc", "bad_length", "malformed", "bad_token", "bad_account", "no_key",
                     "bad_decrypt", "oversized"})
# Replies carry the panel's account back, and a NAK carries `A0` instead of `#ACCT` (ALARMS.md).
REPLY_TOKENS = frozenset({"ACK", "NAK", "DUH", "RSP"})
# Pad of an encrypted message: letters and digits only. The standard only forbids `|`, `[`, `]` (they end
# the pad); this set also keeps out `#`, `^`, `/`, `_` and control characters, which some receivers read.
PAD_CHARS = string.ascii_letters + string.digits
# A random byte → one of 32 pad characters (256 is a multiple of 32: no bias).
_PAD_TABLE = bytes(PAD_CHARS.encode("ascii")[byte % 32] for byte in range(256))

_LF, _CR, _QUOTE = 0x0A, 0x0D, 0x22
_BLANK = b"\x00 \t\r\x0b\x0c"  # what may sit between frames and is dropped without a word
_ALL_HEX = re.compile(r"[0-9a-fA-F]*")
_ZERO_IV = bytes(16)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,19}\Z")
# R and L are lazy so that `L0A0[` (a NAK) reads as line 0 and reply account 0; pysiaalarm writes `L0R0`
# in its NAKs, hence R before or after L.
_HEAD = re.compile(
    r'"(?P<star>\*?)(?P<token>[^"]*)"(?P<seq>[0-9A-Fa-f]{4})'
    r"(?:R(?P<r1>[0-9A-Fa-f]{1,6}?))?(?:L(?P<line>[0-9A-Fa-f]{1,6}?))?(?:R(?P<r2>[0-9A-Fa-f]{1,6}?))?"
    r"(?:#(?P<account>[^\[]*)|A(?P<reply_account>[0-9A-Fa-f]{1,16})|)\["
)
_BLOCKS = re.compile(r"(?P<data>[^\[\]]*)\](?P<ext>(?:\[[^\[\]]*\])*)(?:_(?P<time>[^\[\]]*))?\Z")
_EXT = re.compile(r"\[([^\[\]]*)\]")
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2}),([0-9]{2})-([0-9]{2})-([0-9]{4})\Z")
_DATA_ACCOUNT = re.compile(r"#([0-9A-Fa-f]{3,16})\|")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def _crc_pairs() -> list[int]:
    """The table for two bytes at a time (a reflected CRC takes them little-endian): half the steps of
    the interpreter's loop, which is most of a frame's CRC (computed for every frame and every reply)."""
    pairs = []
    for value in range(65536):
        crc = (value >> 8) ^ _CRC_TABLE[value & 0xFF]
        pairs.append((crc >> 8) ^ _CRC_TABLE[crc & 0xFF])
    return pairs


_CRC_PAIRS = _crc_pairs() if sys.byteorder == "little" else None


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC: polynomial 0x8005 reflected (0xA001), initial value 0, no final XOR."""
    crc = 0
    tail = data
    if _CRC_PAIRS is not None:
        even = len(data) & ~1
        for pair in memoryview(data)[:even].cast("H"):
            crc = _CRC_PAIRS[crc ^ pair]
        tail = data[even:]
    for byte in tail:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


class FrameError(Exception):
    """A frame that cannot be accepted. `reason` is one of REASONS (a dead-letter reason and metric label);
    `detail` is for people and never contains key material."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown frame error reason {reason!r}")
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One DC-09 frame as it was sent, decrypted when it was encrypted.

    `data` is the first block without its brackets (`#1002|1602 00 001`; in an encrypted frame what
    follows the pad); `extended` the further `[X…]` blocks in order; `timestamp` is UTC; `charset` says
    how the text was decoded; `length` is the byte count the frame declared.
    """

    token: str
    encrypted: bool
    seq: str
    receiver: str | None
    line: str
    account: str
    data: str
    extended: tuple[tuple[str, str], ...]
    timestamp: datetime | None
    binary_crc: bool
    charset: str
    length: int

    def extra(self, letter: str) -> str | None:
        """The value of the first extended block `[<letter>…]`, or None."""
        return next((value for key, value in self.extended if key == letter), None)


def parse(raw: bytes, key_for: Callable[[str], bytes | None] = lambda _account: None) -> Frame:
    """One frame, with or without its LF and CR. `key_for(account)` gives the AES key of an encrypted one.

    Raises FrameError; the checks run in the order a receiver needs: size, CRC, length, then layout.
    """
    if len(raw) > MAX_FRAME:
        raise FrameError("oversized", f"{len(raw)} bytes, more than {MAX_FRAME}")
    crc, length, binary_crc, body = _envelope(raw)
    computed = crc16_arc(body)
    if computed != crc:
        raise FrameError("bad_crc", f"CRC {crc:04X} sent, {computed:04X} computed")
    if len(body) != length:
        raise FrameError("bad_length", f"length {length} declared, body is {len(body)} bytes")
    text, charset = _decode(body, "malformed")
    if _CONTROL.search(text):
        raise FrameError("malformed", "control character inside the frame")
    head = _HEAD.match(text)
    if head is None:
        raise FrameError("malformed", f"header is not '\"TOKEN\"SEQ[Rr]Ll#ACCT[': {text[:48]!r}")
    token, encrypted = _token(head)
    receiver = _receiver(head)
    rest = text[head.end():]
    if encrypted:
        account = _account(head, token, "")
        rest, charset = _decrypt(rest, _key(key_for, account))
        data, extended, stamp = _blocks(rest, True)
    else:
        data, extended, stamp = _blocks(rest, False)
        account = _account(head, token, data)
    return Frame(token=token, encrypted=encrypted, seq=head["seq"], receiver=receiver,
                 line=head["line"] or "0", account=account, data=data, extended=extended, timestamp=stamp,
                 binary_crc=binary_crc, charset=charset, length=length)


def _envelope(raw: bytes) -> tuple[int, int, bool, bytes]:
    """CRC, declared length, binary-CRC flag and body (from the first `"` on) of one frame."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    # Without its LF, a frame whose binary CRC starts with 0x0A looks as if it had one: try both.
    for start in (1, 0) if raw.startswith(b"\n") else (0,):
        found = _prefix(raw[start:])
        if found is not None:
            return found
    raise FrameError("malformed", "no CRC and length before the first '\"'")


def _prefix(raw: bytes) -> tuple[int, int, bool, bytes] | None:
    if len(raw) > 8 and raw[8] == _QUOTE and _is_hex(raw[:8]):
        return int(raw[:4], 16), int(raw[4:8], 16), False, raw[8:]
    if len(raw) > 6 and raw[6] == _QUOTE and _is_hex(raw[2:6]):  # Lupusec, Jablotron over UDP
        return int.from_bytes(raw[:2], "big"), int(raw[2:6], 16), True, raw[6:]
    return None


def _is_hex(value: bytes | bytearray | str) -> bool:
    text = value if isinstance(value, str) else value.decode("latin-1")
    return _ALL_HEX.fullmatch(text) is not None


def _decode(data: bytes, reason: str) -> tuple[str, str]:
    """UTF-8 first (Hikvision AX PRO site names), then GBK (panels made for China)."""
    for charset in ("ascii", "utf-8", "gbk"):
        try:
            return data.decode(charset), charset
        except UnicodeDecodeError:
            continue
    raise FrameError(reason, "text is neither UTF-8 nor GBK")


def _token(head: re.Match[str]) -> tuple[str, bool]:
    token = head["token"]
    if not _TOKEN.match(token):
        raise FrameError("bad_token", f"token {token[:24]!r} is not letters, digits and '-'")
    return token, bool(head["star"])


def _receiver(head: re.Match[str]) -> str | None:
    if head["r1"] is not None and head["r2"] is not None:
        raise FrameError("malformed", "two receiver fields")
    return head["r1"] if head["r1"] is not None else head["r2"]


def _account(head: re.Match[str], token: str, data: str) -> str:
    """The header's account: 3–16 hex digits, or 1–16 in a reply (`"NAK"0000R0L0A0`, whose `A0` marker is
    allowed in replies only). Some panels put it only in the data block (`[#006969|…]`): take it there."""
    reply = token in REPLY_TOKENS
    if head["reply_account"] is not None:
        if not reply:
            raise FrameError("bad_account", f"'A' account marker in a {token} message")
        return str(head["reply_account"])
    account = head["account"]
    if account is None:
        found = _DATA_ACCOUNT.match(data)
        if found is None:
            raise FrameError("bad_account", "no '#ACCT' in the header or the data block")
        return found[1]
    if not (1 if reply else 3) <= len(account) <= 16 or not _is_hex(account):
        raise FrameError("bad_account", f"account {account[:24]!r} is not 3–16 hex digits")
    return str(account)


def _key(key_for: Callable[[str], bytes | None], account: str) -> bytes:
    key = key_for(account)
    if key is None:
        raise FrameError("no_key", f"encrypted message from account {account}, which has no key")
    if len(key) not in (16, 24, 32):
        raise FrameError("no_key", f"the key of account {account} is {len(key)} bytes, not 16, 24 or 32")
    return key


@functools.lru_cache(maxsize=4096)
def _cipher(key: bytes) -> Cipher[modes.CBC]:
    """One per key, kept (a busy receiver decrypts and encrypts for the same accounts again and again)."""
    if len(key) not in (16, 24, 32):
        raise ValueError(f"an AES key is 16, 24 or 32 bytes, not {len(key)}")
    return Cipher(algorithms.AES(key), modes.CBC(_ZERO_IV))


def _decrypt(hex_text: str, key: bytes) -> tuple[str, str]:
    """The clear text after the pad (from the `]` when the data block is empty), and its charset."""
    if len(hex_text) % 2 or not _is_hex(hex_text):
        raise FrameError("malformed", "the encrypted part is not hex")
    secret = bytes.fromhex(hex_text)
    if not secret or len(secret) % 16:
        raise FrameError("bad_decrypt", f"{len(secret)} encrypted bytes, not a whole number of AES blocks")
    decryptor = _cipher(key).decryptor()
    return _unpad(decryptor.update(secret) + decryptor.finalize())


def _unpad(clear: bytes) -> tuple[str, str]:
    # With a wrong key the "clear" text is noise: it then lacks the pad separator, or has non-ASCII pad
    # bytes, or is not text (16 random bytes almost never pass all three).
    cut = next((i for i, byte in enumerate(clear) if byte in b"|[]"), None)
    if cut is None or not clear[:cut].isascii():
        raise FrameError("bad_decrypt", "no pad and separator after decryption (wrong key?)")
    text, charset = _decode(clear[cut if clear[cut] == ord("]") else cut + 1:], "bad_decrypt")
    if _CONTROL.search(text):
        raise FrameError("bad_decrypt", "control characters after decryption (wrong key?)")
    return text, charset


def _blocks(rest: str, encrypted: bool) -> tuple[str, tuple[tuple[str, str], ...], datetime | None]:
    """`data]` + `[Xext]`… + optional `_timestamp`, required when the message was encrypted."""
    match = _BLOCKS.match(rest)
    if match is None:
        # Decrypted text that does not follow the layout is most likely noise from a wrong key.
        reason = "bad_decrypt" if encrypted else "malformed"
        raise FrameError(reason, "data is not '[…]' blocks followed by an optional '_time'")
    extended = tuple(_extended(block) for block in _EXT.findall(match["ext"]))
    stamp = _timestamp(match["time"]) if match["time"] is not None else None
    if encrypted and stamp is None:
        raise FrameError("malformed", "encrypted message without its timestamp")
    return match["data"], extended, stamp


def _extended(block: str) -> tuple[str, str]:
    if not block or not "A" <= block[0] <= "Z":
        raise FrameError("malformed", f"extended block {block[:24]!r} does not start with a letter A–Z")
    return block[0], block[1:]


def _timestamp(text: str) -> datetime:
    match = _TIME.match(text)
    if match is None:
        raise FrameError("malformed", f"timestamp {text[:24]!r} is not HH:MM:SS,MM-DD-YYYY")
    hour, minute, second, month, day, year = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError as exc:
        raise FrameError("malformed", f"timestamp {text!r}: {exc}") from exc


def build(token: str, seq: int | str, account: str, data: str = "", *, receiver: str | None = None,
          line: str = "0", extended: Sequence[tuple[str, str]] = (), timestamp: datetime | None = None,
          key: bytes | None = None, binary_crc: bool = False, encoding: str = "utf-8") -> bytes:
    """A complete frame, LF…CR. With a key it is encrypted and carries a timestamp (default: now).

    Raises ValueError for fields that would make a frame parse() rejects.
    """
    _check_fields(token, account, receiver, line, data, extended)
    if key is not None and timestamp is None:
        timestamp = datetime.now(UTC)
    tail = "".join(f"[{letter}{value}]" for letter, value in extended) + _stamp(timestamp)
    head = f'"{"*" if key else ""}{token}"{_seq_text(seq)}'
    head += (f"R{receiver}" if receiver is not None else "") + f"L{line}#{account}["
    if key is None:
        rest = f"{data}]{tail}".encode(encoding)
    else:
        rest = _encrypt(((f"|{data}" if data else "") + f"]{tail}").encode(encoding), key)
    return _frame(head.encode("ascii") + rest, binary_crc)


def _check_fields(token: str, account: str, receiver: str | None, line: str, data: str,
                  extended: Sequence[tuple[str, str]]) -> None:
    if not _TOKEN.match(token):
        raise ValueError(f"token {token!r} is not letters, digits and '-'")
    if not 1 <= len(account) <= 16 or not _is_hex(account):
        raise ValueError(f"account {account!r} is not 1–16 hex digits")
    for name, field in (("receiver", receiver), ("line", line)):
        if field is not None and (not 1 <= len(field) <= 6 or not _is_hex(field)):
            raise ValueError(f"{name} {field!r} is not 1–6 hex digits")
    for letter, value in extended:
        if len(letter) != 1 or not "A" <= letter <= "Z":
            raise ValueError(f"extended block letter {letter!r} is not one of A–Z")
        _check_text(value)
    _check_text(data)


def _check_text(value: str) -> None:
    if "[" in value or "]" in value or _CONTROL.search(value):
        raise ValueError(f"{value[:40]!r} contains '[', ']' or a control character")


def _seq_text(seq: int | str) -> str:
    """4 decimal digits; a string of 4 hex digits too, to echo what a panel sent (the dc09_spt library
    numbers its messages in hex: `000A`; refusing them would leave such a panel repeating forever)."""
    text = f"{seq:04d}" if isinstance(seq, int) else seq
    if len(text) != 4 or not _is_hex(text) or not (isinstance(seq, str) or text.isdigit()):
        raise ValueError(f"sequence number {seq!r} is not 4 digits")
    return text


def _stamp(timestamp: datetime | None) -> str:
    if timestamp is None:
        return ""
    if timestamp.tzinfo is None:
        raise ValueError("the timestamp must be timezone-aware")
    return _stamp_of(int(timestamp.timestamp()))


@functools.lru_cache(maxsize=8)
def _stamp_of(second: int) -> str:
    """Written once a second (every encrypted reply of that second carries it)."""
    return datetime.fromtimestamp(second, UTC).strftime("_%H:%M:%S,%m-%d-%Y")


def _encrypt(clear: bytes, key: bytes) -> bytes:
    pad = secrets.token_bytes(16 - len(clear) % 16).translate(_PAD_TABLE)
    encryptor = _cipher(key).encryptor()
    return (encryptor.update(pad + clear) + encryptor.finalize()).hex().upper().encode("ascii")


def _frame(body: bytes, binary_crc: bool) -> bytes:
    crc = crc16_arc(body)
    frame = b"\n" + (crc.to_bytes(2, "big") if binary_crc else b"%04X" % crc) + b"%04X" % len(body) + body
    if len(frame) + 1 > MAX_FRAME:
        raise ValueError(f"the frame would be {len(frame) + 1} bytes, more than {MAX_FRAME}")
    return frame + b"\r"


def ack(frame: Frame, key: bytes | None = None, now: datetime | None = None) -> bytes:
    """`"ACK"SEQ[Rr]Ll#ACCT[]` echoing the frame; `"*ACK"` encrypted with `key` (and timestamped with
    `now`, default the current time) when the frame was encrypted."""
    if not frame.encrypted:
        return build("ACK", frame.seq, frame.account, receiver=frame.receiver, line=frame.line)
    if key is None:
        raise ValueError("the ACK to an encrypted message is encrypted: the account's key is needed")
    return build("ACK", frame.seq, frame.account, receiver=frame.receiver, line=frame.line,
                 timestamp=now or datetime.now(UTC), key=key)


def nak(now: datetime) -> bytes:
    """`"NAK"0000R0L0A0[]_HH:MM:SS,MM-DD-YYYY`: the receiver's clock, never encrypted (the panel may not
    share the receiver's idea of the time, and resends with a fresh timestamp)."""
    return _frame(f'"NAK"0000R0L0A0[]{_stamp(now)}'.encode("ascii"), False)


def duh(frame: Frame) -> bytes:
    """`"DUH"` echoing the frame, in clear: received correctly, cannot be processed."""
    return build("DUH", frame.seq, frame.account, receiver=frame.receiver, line=frame.line)


def in_window(stamp: datetime, now: datetime, ahead_s: float = 20.0, behind_s: float = 40.0) -> bool:
    """Whether an encrypted message's timestamp is within +ahead_s / -behind_s of the receiver's clock;
    outside it the receiver answers NAK (a replayed message is stale)."""
    return now - timedelta(seconds=behind_s) <= stamp <= now + timedelta(seconds=ahead_s)


def parse_key(text: str) -> bytes:
    """An AES key as 16/24/32 ASCII characters or 32/48/64 hex digits (CONTRACT: a device's `key`).

    32 characters fit both forms: when all 32 are hex digits they are read as hex (AES-128), so an
    AES-256 key made of 32 ASCII hex digits (as some panels show it) must be given as 64 hex digits.
    """
    if len(text) in (32, 48, 64) and _is_hex(text):
        return bytes.fromhex(text)
    if len(text) in (16, 24, 32) and text.isascii() and text.isprintable():
        return text.encode("ascii")
    raise ValueError(f"an AES key is 16, 24 or 32 ASCII characters or 32, 48 or 64 hex digits, "
                     f"not {len(text)} characters of that kind")


class Splitter:
    """Cuts a TCP byte stream into frames (LF … CR) and everything else, in arrival order.

    Bytes that are not a frame come back as chunks of their own (parse() rejects them and the caller
    keeps them); only blanks and NULs between frames are dropped. A binary CRC is two raw bytes that may
    be 0x0A or 0x0D, so a frame ends at its declared length when a CR is there, and at the first CR
    after the header otherwise. Every chunk is at most max_frame + 1 bytes.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()

    def buffered(self) -> int:
        """Bytes held, waiting for the rest of a frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        chunks: list[bytes] = []
        while True:
            self._skip_blanks()
            size = self._next_size()
            if size is None:
                return chunks
            chunk = bytes(self._buffer[:size])
            del self._buffer[:size]
            if chunk.strip(_BLANK + b"\n"):
                chunks.append(chunk)

    def _skip_blanks(self) -> None:
        blanks = len(self._buffer) - len(self._buffer.lstrip(_BLANK))
        del self._buffer[:blanks]

    def _next_size(self) -> int | None:
        """Size of the next chunk at the start of the buffer, or None until more bytes arrive."""
        if not self._buffer:
            return None
        if self._buffer[0] != _LF:
            return self._garbage_size()
        return self._frame_size()

    def _garbage_size(self) -> int | None:
        # Up to a CR (a frame sent without its LF then comes out whole) or to the next LF (a frame start).
        stop = _find_end(self._buffer, 0, self.max_frame)
        if stop is None:
            return self.max_frame if len(self._buffer) >= self.max_frame else None
        return stop + 1 if self._buffer[stop] == _CR else stop

    def _frame_size(self) -> int | None:
        buffer, limit = self._buffer, self.max_frame
        body_start, length = _layout(buffer)
        if body_start == _MORE:
            return None
        end = body_start + length  # where the CR must be if the declared length is right
        if body_start != _UNKNOWN and end < limit and len(buffer) > end and buffer[end] == _CR:
            return end + 1
        stop = _find_end(buffer, max(body_start, 1), limit)
        if stop is None:
            return limit + 1 if len(buffer) > limit else None
        if buffer[stop] == _LF:  # a frame cut short: give it back as it is, resync at the next LF
            return stop
        # A CR before the declared end that is followed by more than the next frame may be inside the body.
        waiting = body_start != _UNKNOWN and len(buffer) <= end < limit
        if waiting and stop + 1 < len(buffer) and buffer[stop + 1] != _LF:
            return None
        return stop + 1


_MORE = -1  # too few bytes after the LF to tell the layout
_UNKNOWN = 0  # the bytes after the LF fit neither layout


def _layout(buffer: bytearray) -> tuple[int, int]:
    """(index of the body's `"`, declared length) of the frame whose LF is buffer[0]; or _MORE/_UNKNOWN."""
    size = len(buffer)
    text = _is_hex(buffer[1:9]) and (size < 10 or buffer[9] == _QUOTE)
    binary = _is_hex(buffer[3:7]) and (size < 8 or buffer[7] == _QUOTE)
    if text and size >= 10:
        return 9, int(buffer[5:9], 16)
    if binary and size >= 8:
        return 7, int(buffer[3:7], 16)
    return (_MORE if text or binary else _UNKNOWN), 0


def _find_end(buffer: bytearray, start: int, limit: int) -> int | None:
    """Index of the first CR or LF in buffer[start:limit]."""
    window = buffer[start:limit]
    found = [i for i in (window.find(b"\r"), window.find(b"\n")) if i >= 0]
    return start + min(found) if found else None

"""The data blocks of DC-09 messages: SIA DC-03 events (`SIA-DCS`) and Contact ID events (`ADM-CID`).

A well-formed code that is not in the table is kept as `Category.UNKNOWN`: stored and shown, never
dropped, and never a reason to refuse the message (a DUH to an unknown code put an Ajax hub into a
reconnect loop, home-assistant/core #160310).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from drivers.sia_dc09.codec import FrameError
from hub import contact_id
from hub.errors import Rejected
from hub.model import Category, Qualifier


@dataclass(frozen=True, slots=True, kw_only=True)
class SiaEvent:
    """One event of a data block. `code` is the SIA code ("BA") or the Contact ID code ("130"); `zone` the
    event's address (zone, or user for open/close, as in Contact ID); `user` the `id` modifier."""

    code: str
    category: Category
    qualifier: Qualifier
    zone: str
    partition: str
    user: str
    text: str


_C, _N, _R = Category, Qualifier.NEW, Qualifier.RESTORE

# SIA DC-03 two-letter codes, from the standard's public code list. The second letter follows a pattern
# in most families: A alarm, H alarm restore, R restoral (alarm or trouble cleared), B bypass, U unbypass,
# T trouble, J trouble restore, C cancel. Codes left out (e.g. BS/FS supervisory, TS/TE communicator
# test start/end, UA untyped zone, RR power up) come out as UNKNOWN rather than as a guess.
CODES: dict[str, tuple[Category, Qualifier]] = {
    # Burglary. BV is a burglary verified by the panel's own rules (a second zone): still a burglary.
    "BA": (_C.BURGLARY, _N), "BH": (_C.BURGLARY, _R), "BR": (_C.BURGLARY, _R), "BV": (_C.BURGLARY, _N),
    "BB": (_C.BYPASS, _N), "BU": (_C.BYPASS, _R), "BT": (_C.TROUBLE, _N), "BJ": (_C.TROUBLE, _R),
    "BC": (_C.CANCEL, _N), "BX": (_C.TEST, _N),  # BX: a burglary zone tripped during a walk test
    # Fire; heat (K) and sprinkler flow (S) are fire conditions, as Contact ID 114 and 113 are.
    "FA": (_C.FIRE, _N), "FH": (_C.FIRE, _R), "FR": (_C.FIRE, _R), "FB": (_C.BYPASS, _N),
    "FU": (_C.BYPASS, _R), "FT": (_C.TROUBLE, _N), "FJ": (_C.TROUBLE, _R), "FC": (_C.CANCEL, _N),
    "KA": (_C.FIRE, _N), "KH": (_C.FIRE, _R), "KR": (_C.FIRE, _R),
    "SA": (_C.FIRE, _N), "SH": (_C.FIRE, _R),
    # Panic; Q "emergency" is a person's manual call for help, which the hub handles as a panic.
    "PA": (_C.PANIC, _N), "PH": (_C.PANIC, _R), "PR": (_C.PANIC, _R), "PB": (_C.BYPASS, _N),
    "PU": (_C.BYPASS, _R), "QA": (_C.PANIC, _N), "QH": (_C.PANIC, _R),
    # Hold-up: the silent alarm of a user under duress (Contact ID 121).
    "HA": (_C.DURESS, _N), "HH": (_C.DURESS, _R), "HR": (_C.DURESS, _R),
    "MA": (_C.MEDICAL, _N), "MH": (_C.MEDICAL, _R), "MR": (_C.MEDICAL, _R),
    # Tamper: the enclosure (TA), an expansion module (ES), the RF receiver (XS), a keypad locked out
    # after too many wrong codes (JA).
    "TA": (_C.TAMPER, _N), "TR": (_C.TAMPER, _R), "TB": (_C.BYPASS, _N), "TU": (_C.BYPASS, _R),
    "ES": (_C.TAMPER, _N), "EJ": (_C.TAMPER, _R), "XS": (_C.TAMPER, _N), "JA": (_C.TAMPER, _N),
    "GA": (_C.GAS, _N), "GH": (_C.GAS, _R), "GR": (_C.GAS, _R),
    "GT": (_C.TROUBLE, _N), "GJ": (_C.TROUBLE, _R),
    "WA": (_C.WATER, _N), "WH": (_C.WATER, _R), "WR": (_C.WATER, _R),
    # Freeze: a low temperature at the premises (Contact ID 159).
    "ZA": (_C.TEMPERATURE, _N), "ZH": (_C.TEMPERATURE, _R), "ZR": (_C.TEMPERATURE, _R),
    # Power and batteries: AC mains, the panel's own battery (YT, YM missing), a wireless device's (XT).
    "AT": (_C.AC_LOSS, _N), "AR": (_C.AC_LOSS, _R),
    "YT": (_C.LOW_BATTERY, _N), "YR": (_C.LOW_BATTERY, _R), "YM": (_C.LOW_BATTERY, _N),
    "XT": (_C.LOW_BATTERY, _N), "XR": (_C.LOW_BATTERY, _R),
    # Communication: YC is the transmitter's failure to reach the receiver (sent once it gets through
    # again, or over another path), YK its restoral; YS a communication trouble; LT/LR the phone line
    # (Contact ID 351); XL a wireless device whose signal is too weak or lost.
    "YC": (_C.COMM_FAULT, _N), "YK": (_C.COMM_FAULT, _R), "YS": (_C.COMM_FAULT, _N),
    "LT": (_C.COMM_FAULT, _N), "LR": (_C.COMM_FAULT, _R), "XL": (_C.COMM_FAULT, _N),
    # Other troubles: power supply, service required/completed, bell or siren, expansion module, RF jamming.
    "YP": (_C.TROUBLE, _N), "YQ": (_C.TROUBLE, _R), "YX": (_C.TROUBLE, _N), "YZ": (_C.TROUBLE, _R),
    "YA": (_C.TROUBLE, _N), "YH": (_C.TROUBLE, _R), "ET": (_C.TROUBLE, _N), "ER": (_C.TROUBLE, _R),
    "XQ": (_C.TROUBLE, _N), "XH": (_C.TROUBLE, _R),
    # Open (disarm) and close (arm): by user, automatic (OA/CA), keyswitch (OS/CS), disarm from alarm
    # (OR), partial arm or disarm of an area (CG/OG), perimeter armed (NL), armed with zones not ready (CF).
    # As in Contact ID, an opening and a closing are two categories, each a new event.
    "OP": (_C.OPEN, _N), "OA": (_C.OPEN, _N), "OS": (_C.OPEN, _N), "OR": (_C.OPEN, _N), "OG": (_C.OPEN, _N),
    "CL": (_C.CLOSE, _N), "CA": (_C.CLOSE, _N), "CS": (_C.CLOSE, _N), "CG": (_C.CLOSE, _N),
    "CF": (_C.CLOSE, _N), "NL": (_C.CLOSE, _N),
    "OC": (_C.CANCEL, _N),  # a user cancelled an alarm report
    # Tests: automatic (periodic), manual, unspecified, and a test sent while something is abnormal.
    "RP": (_C.TEST, _N), "RX": (_C.TEST, _N), "TX": (_C.TEST, _N), "RY": (_C.TEST, _N),
}

# One item of a DC-03 block: a `/` separator, a `^text^`, a lowercase modifier with its number (`ri1`,
# `id12`, `ti10:30`), or an event: two upper-case letters and an optional number.
_ITEM = re.compile(r"(?P<sep>/)|\^(?P<text>[^\^]*)\^|(?P<mod>[a-z]{2})(?P<value>[0-9:]*)"
                   r"|(?P<code>[A-Z]{2})(?P<address>[0-9]*)")
_PREFIX = re.compile(r"(?:#?[0-9A-Fa-f]{3,16})?\|")  # `#ACCT|` (or `|` alone) before the events
# `N` flags new events, but is also the first letter of codes such as NL (perimeter armed): followed by
# exactly one upper-case letter, it is such a code.
_N_CODE = re.compile(r"N[A-Z](?![A-Z])")


def parse_dcs(data: str) -> list[SiaEvent]:
    """The events of a SIA-DCS data block `#ACCT|N[ri<area>/][id<user>/]<CC><zone>[^text^]…`, e.g.
    `#1234|Nri1/BA003/BA004` or `Nri1/BA003/ri2/FA001`. `ri` and `id` hold for the events after them."""
    prefix = _PREFIX.match(data)
    body = data[prefix.end():] if prefix else data
    body, _bar, ascii_text = body.partition("|A")  # an ASCII block after the events (DC-03 `|A…`)
    if body.startswith("N") and not _N_CODE.match(body):
        body = body[1:]
    events = _events(body, data)
    if ascii_text.strip() and not events[-1].text:
        events[-1] = replace(events[-1], text=ascii_text.strip())
    return events


def _events(body: str, data: str) -> list[SiaEvent]:
    events: list[SiaEvent] = []
    partition = user = waiting = ""  # waiting: a text before any event (a user's name after `id4`)
    position = 0
    while position < len(body):
        item = _ITEM.match(body, position)
        if item is None:
            raise FrameError("malformed", f"SIA-DCS block {data[:60]!r}: unexpected {body[position:][:12]!r}")
        position = item.end()
        if item["text"] is not None:
            if events:
                events[-1] = replace(events[-1], text=item["text"].strip())
            else:
                waiting = item["text"].strip()
        elif item["mod"] == "ri":
            partition = _number(item["value"])
        elif item["mod"] == "id":
            user = _number(item["value"])
        elif item["code"] is not None:
            event = _event(item["code"], _number(item["address"]), partition, user)
            events.append(replace(event, text=waiting))
            waiting = ""
    if not events:
        raise FrameError("malformed", f"SIA-DCS block {data[:60]!r} has no event code")
    return events


def _event(code: str, zone: str, partition: str, user: str) -> SiaEvent:
    category, qualifier = CODES.get(code, (Category.UNKNOWN, Qualifier.NEW))
    return SiaEvent(code=code, category=category, qualifier=qualifier, zone=zone, partition=partition,
                    user=user, text="")


def _number(digits: str) -> str:
    """`003` → `3`, like Contact ID zones; a value that is not a plain number (`10:30`) as it is."""
    return str(int(digits)) if digits.isdigit() else digits


def parse_cid(data: str) -> SiaEvent:
    """An ADM-CID data block `#ACCT|QXYZ GG CCC` (the account prefix optional), e.g. `#1002|1602 00 001`."""
    prefix = _PREFIX.match(data)
    try:
        event = contact_id.parse(data[prefix.end():] if prefix else data)
    except Rejected as exc:
        raise FrameError("malformed", f"ADM-CID block {data[:60]!r}: {exc.detail}") from exc
    return SiaEvent(code=f"{event.code:03d}", category=event.category, qualifier=event.qualifier,
                    zone=event.zone, partition=event.partition, user="", text="")

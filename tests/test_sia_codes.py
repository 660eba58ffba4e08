"""The data blocks of DC-09 messages (drivers.sia_dc09.codes): SIA DC-03 events and Contact ID events."""

from __future__ import annotations

import pytest

from drivers.sia_dc09.codec import FrameError
from drivers.sia_dc09.codes import CODES, SiaEvent, parse_cid, parse_dcs
from hub import contact_id
from hub.model import Category, Qualifier

C, NEW, RESTORE = Category, Qualifier.NEW, Qualifier.RESTORE

# The key codes of ALARMS.md and what each must mean.
ALARMS_MD: dict[str, tuple[Category, Qualifier]] = {
    "BA": (C.BURGLARY, NEW), "BH": (C.BURGLARY, RESTORE), "BV": (C.BURGLARY, NEW),
    "BB": (C.BYPASS, NEW), "BU": (C.BYPASS, RESTORE),
    "FA": (C.FIRE, NEW), "FH": (C.FIRE, RESTORE), "KA": (C.FIRE, NEW), "KH": (C.FIRE, RESTORE),
    "PA": (C.PANIC, NEW), "PH": (C.PANIC, RESTORE), "HA": (C.DURESS, NEW), "HH": (C.DURESS, RESTORE),
    "MA": (C.MEDICAL, NEW), "MH": (C.MEDICAL, RESTORE), "TA": (C.TAMPER, NEW), "TR": (C.TAMPER, RESTORE),
    "GA": (C.GAS, NEW), "GH": (C.GAS, RESTORE), "WA": (C.WATER, NEW), "WH": (C.WATER, RESTORE),
    "AT": (C.AC_LOSS, NEW), "AR": (C.AC_LOSS, RESTORE), "YT": (C.LOW_BATTERY, NEW),
    "YR": (C.LOW_BATTERY, RESTORE), "XT": (C.LOW_BATTERY, NEW), "XR": (C.LOW_BATTERY, RESTORE),
    "YC": (C.COMM_FAULT, NEW), "YK": (C.COMM_FAULT, RESTORE),
    "OP": (C.OPEN, NEW), "CL": (C.CLOSE, NEW), "RP": (C.TEST, NEW), "RX": (C.TEST, NEW),
}


def event(code: str, zone: str = "3", partition: str = "1", user: str = "", text: str = "") -> SiaEvent:
    category, qualifier = CODES.get(code, (Category.UNKNOWN, Qualifier.NEW))
    return SiaEvent(code=code, category=category, qualifier=qualifier, zone=zone, partition=partition,
                    user=user, text=text)


@pytest.mark.parametrize(("code", "meaning"), sorted(ALARMS_MD.items()))
def test_alarms_md_codes(code: str, meaning: tuple[Category, Qualifier]) -> None:
    assert CODES[code] == meaning
    [parsed] = parse_dcs(f"#1234|Nri1/{code}003")
    assert (parsed.code, parsed.category, parsed.qualifier, parsed.zone, parsed.partition) == \
        (code, *meaning, "3", "1")


def test_the_table_is_well_formed() -> None:
    assert all(len(code) == 2 and code.isascii() and code.isupper() for code in CODES)
    assert all(isinstance(category, Category) and isinstance(qualifier, Qualifier)
               for category, qualifier in CODES.values())
    # Open and close are categories of their own, never a "restore" of each other (as in Contact ID).
    assert {CODES[code][1] for code in CODES if CODES[code][0] in (C.OPEN, C.CLOSE)} == {NEW}


def test_restores_pair_with_their_alarm() -> None:
    for alarm, restore in [("BA", "BH"), ("FA", "FH"), ("PA", "PH"), ("HA", "HH"), ("MA", "MH"), ("GA", "GH"),
                           ("WA", "WH"), ("KA", "KH"), ("ZA", "ZH"), ("TA", "TR"), ("AT", "AR"), ("YT", "YR"),
                           ("XT", "XR"), ("YC", "YK"), ("BB", "BU"), ("BT", "BJ")]:
        assert CODES[alarm] == (CODES[restore][0], NEW) and CODES[restore][1] == RESTORE, alarm


def test_several_events_in_one_block_share_area_until_it_changes() -> None:
    assert parse_dcs("#1234|Nri1/BA003/BA004") == [event("BA", "3"), event("BA", "4")]
    assert parse_dcs("Nri1/BA003/ri2/FA001") == [event("BA", "3", "1"), event("FA", "1", "2")]


def test_user_time_and_other_modifiers() -> None:
    assert parse_dcs("#1234|Nti10:30/id12/ri3/OP2") == [event("OP", "2", "3", user="12")]
    assert parse_dcs("#1234|Nid12/CL5/id13/CL6") == [event("CL", "5", "", "12"), event("CL", "6", "", "13")]
    assert parse_dcs("#1234|Npi4/ri1/BA003") == [event("BA")]  # `pi` and any other modifier: skipped


def test_numbers_lose_their_leading_zeros_like_contact_id() -> None:
    assert parse_dcs("#006969|Nri04/id0012/OP001") == [event("OP", "1", "4", "12")]
    assert parse_dcs("Nri00/BA0000") == [event("BA", "0", "0")]


def test_text_belongs_to_the_event_before_it() -> None:
    assert parse_dcs("#123456|Nri1CL0^VX FRONTE ^") == [event("CL", "0", text="VX FRONTE")]
    assert parse_dcs("Nri1/BA003^前门^/BA004") == [event("BA", text="前门"), event("BA", "4")]


def test_prefix_variants() -> None:
    expected = [event("WA", "0")]
    for data in ["#AAA|Nri1/WA000", "AAA|Nri1/WA000", "|Nri1/WA000", "Nri1/WA000", "ri1/WA000"]:
        assert parse_dcs(data) == expected, data


def test_events_without_zone_or_area() -> None:
    assert parse_dcs("#1234|NRP") == [event("RP", "", "")]
    assert parse_dcs("NL001") == [event("NL", "1", "")]  # NL is a code (perimeter armed), not N + L…
    assert parse_dcs("NNL") == [event("NL", "", "")]


def test_unknown_codes_are_kept() -> None:
    [unknown] = parse_dcs("#1234|Nri1/ZX003")
    assert unknown == SiaEvent(code="ZX", category=Category.UNKNOWN, qualifier=Qualifier.NEW, zone="3",
                               partition="1", user="", text="")
    assert [e.code for e in parse_dcs("Nri1/BA003/QQ9")] == ["BA", "QQ"]


def test_text_before_the_event_and_an_ascii_block_after_it_are_the_events_text() -> None:
    """`id4^Li^BA22`: the user's name before the event; `BA21|Aback door`: DC-03's ASCII block (both as the
    dc09_spt library sends them)."""
    [named] = parse_dcs("#7001|Nid4^Li^BA22")
    assert (named.code, named.zone, named.user, named.text) == ("BA", "22", "4", "Li")
    [described] = parse_dcs("#7001|NBA21|Aback door")
    assert (described.code, described.zone, described.category, described.text) == \
        ("BA", "21", C.BURGLARY, "back door")
    assert [e.text for e in parse_dcs("Nri1/BA003^own^/BA004|Ablock")] == ["own", "block"]


@pytest.mark.parametrize("data", ["", "#1234|", "#1234|N", "#1234|Nri1/", "#1234|Nri1/BA 003", "#1234|Nri1/B",
                                  "^text^", "#1234|Nri1/ba003x", "#1234|Nri1/BA003^unterminated",
                                  "#1234|Nri1/BA003|", "hello world"])
def test_nonsense_is_malformed(data: str) -> None:
    with pytest.raises(FrameError) as caught:
        parse_dcs(data)
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize(("data", "expected"), [
    ("#1002|1130 01 003", ("130", C.BURGLARY, NEW, "3", "1")),
    ("#1002|3130 01 003", ("130", C.BURGLARY, RESTORE, "3", "1")),
    ("#1002|1401 02 005", ("401", C.OPEN, NEW, "5", "2")),
    ("#1002|3401 02 005", ("401", C.CLOSE, NEW, "5", "2")),
    ("#1002|1602 00 001", ("602", C.TEST, NEW, "1", "0")),
    ("#1002|6301 00 000", ("301", C.AC_LOSS, Qualifier.STATUS, "0", "0")),
    ("#1002|1999 01 001", ("999", C.UNKNOWN, NEW, "1", "1")),
    ("1110 01 004", ("110", C.FIRE, NEW, "4", "1")),
    ("|112101101", ("121", C.DURESS, NEW, "101", "1")),
])
def test_contact_id_blocks(data: str, expected: tuple[str, Category, Qualifier, str, str]) -> None:
    parsed = parse_cid(data)
    assert (parsed.code, parsed.category, parsed.qualifier, parsed.zone, parsed.partition) == expected
    assert (parsed.user, parsed.text) == ("", "")


def test_contact_id_reuses_the_hub_table() -> None:
    for code, category in contact_id.CODES.items():
        assert parse_cid(f"#1234|1{code:03d} 01 001").category == category


@pytest.mark.parametrize("data", ["", "#1002|", "#1002|2130 01 003", "#1002|1130 01", "#1002|113A 01 003",
                                  "#1002|Nri1/BA003"])
def test_contact_id_nonsense_is_malformed(data: str) -> None:
    with pytest.raises(FrameError) as caught:
        parse_cid(data)
    assert caught.value.reason == "malformed"

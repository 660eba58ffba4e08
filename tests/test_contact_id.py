"""Ademco Contact ID (SIA DC-05) strings: `Q XYZ GG CCC` → code, qualifier, category, partition, zone.

The expected categories are the DC-05 list of ALARMS.md (not the wrong tables some hobby receivers
ship: 101 is a personal emergency, not fire).
"""

from __future__ import annotations

import pytest

from hub.contact_id import ContactIdEvent, parse
from hub.errors import Rejected
from hub.model import Category, Qualifier

C = Category

# The DC-05 codes of ALARMS.md and what each must mean.
DC05: dict[int, Category] = {
    100: C.MEDICAL, 101: C.MEDICAL,
    110: C.FIRE, 111: C.FIRE, 114: C.FIRE,
    120: C.PANIC, 122: C.PANIC, 123: C.PANIC,
    121: C.DURESS,
    130: C.BURGLARY, 131: C.BURGLARY, 132: C.BURGLARY, 133: C.BURGLARY, 134: C.BURGLARY,
    137: C.TAMPER, 144: C.TAMPER,
    151: C.GAS, 154: C.WATER, 162: C.GAS,
    158: C.TEMPERATURE, 159: C.TEMPERATURE,
    300: C.TROUBLE,
    301: C.AC_LOSS,
    302: C.LOW_BATTERY, 384: C.LOW_BATTERY,
    350: C.COMM_FAULT, 354: C.COMM_FAULT,
    381: C.COMM_FAULT,
    383: C.TAMPER,
    406: C.CANCEL,
    570: C.BYPASS,
    601: C.TEST, 602: C.TEST,
}
OPEN_CLOSE = [401, 403, 407]


@pytest.mark.parametrize(("code", "category"), sorted(DC05.items()))
def test_dc05_codes_map_to_their_category(code: int, category: Category) -> None:
    event = parse(f"1{code:03d} 01 003")
    assert event == ContactIdEvent(code=code, qualifier=Qualifier.NEW, category=category, partition="1",
                                   zone="3")


@pytest.mark.parametrize(("code", "category"), [(130, C.BURGLARY), (110, C.FIRE), (301, C.AC_LOSS),
                                                (137, C.TAMPER)])
def test_qualifier_3_is_a_restore_and_6_a_status(code: int, category: Category) -> None:
    restore = parse(f"3{code:03d} 02 012")
    assert (restore.category, restore.qualifier, restore.partition, restore.zone) == \
        (category, Qualifier.RESTORE, "2", "12")
    status = parse(f"6{code:03d} 00 000")
    assert (status.category, status.qualifier, status.partition, status.zone) == \
        (category, Qualifier.STATUS, "0", "0")


@pytest.mark.parametrize("code", OPEN_CLOSE)
def test_open_and_close_follow_the_qualifier(code: int) -> None:
    """On 4xx codes qualifier 1 is an opening (disarm) and 3 a closing (arm), not a new/restore pair."""
    opening = parse(f"1{code:03d} 01 005")
    closing = parse(f"3{code:03d} 01 005")
    assert (opening.category, opening.qualifier) == (Category.OPEN, Qualifier.NEW)
    assert (closing.category, closing.qualifier) == (Category.CLOSE, Qualifier.NEW)
    assert (opening.code, closing.code) == (code, code)
    assert closing.zone == "5"  # the user number for open/close


def test_cancel_is_not_an_opening() -> None:
    assert parse("1406 01 002").category is Category.CANCEL
    assert parse("3406 01 002").category is Category.CANCEL


@pytest.mark.parametrize("text", ["1130 01 003", "113001003", "1130 01003", "113001 003", " 1130 01 003 ",
                                  "1130 01 003\n"])
def test_spaces_are_optional(text: str) -> None:
    assert parse(text) == ContactIdEvent(code=130, qualifier=Qualifier.NEW, category=Category.BURGLARY,
                                         partition="1", zone="3")


def test_partition_and_zone_lose_their_leading_zeros() -> None:
    event = parse("1130 99 999")
    assert (event.partition, event.zone) == ("99", "999")
    event = parse("1130 00 000")
    assert (event.partition, event.zone) == ("0", "0")


@pytest.mark.parametrize("code", [999, 0, 200, 555, 698])
def test_a_well_formed_unknown_code_is_kept_as_unknown(code: int) -> None:
    event = parse(f"1{code:03d} 01 001")
    assert (event.code, event.category, event.qualifier) == (code, Category.UNKNOWN, Qualifier.NEW)


@pytest.mark.parametrize("text", [
    "",                 # nothing
    "1130",             # too short
    "1130 01",          # no zone
    "1130 01 03",       # zone of two digits
    "113 01 003",       # code of two digits
    "1130 1 003",       # group of one digit
    "1130 01 0034",     # too long
    "11300 01 003",     # code of four digits
    "1A30 01 003",      # letters
    "1130 0B 003",
    "abcd ef ghi",
    "1130-01-003",      # wrong separators
    "1130  01 003",     # two spaces
    "1130\t01\t003",
    "１１３０ ０１ ００３",  # full-width digits are not ASCII digits
    "١١٣٠ ٠١ ٠٠٣",      # nor are Arabic-Indic ones
    "18 1130 01 003",   # the message type belongs to the DC-05 frame, not here
])
def test_malformed_strings_are_rejected(text: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse(text)
    assert caught.value.reason == "bad_contact_id"


@pytest.mark.parametrize("qualifier", ["0", "2", "4", "5", "7", "8", "9"])
def test_qualifiers_other_than_1_3_6_are_rejected(qualifier: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse(f"{qualifier}130 01 003")
    assert caught.value.reason == "bad_contact_id"
    assert qualifier in caught.value.detail


def test_the_rejection_detail_is_bounded() -> None:
    with pytest.raises(Rejected) as caught:
        parse("9" * 10_000)
    assert caught.value.reason == "bad_contact_id"
    assert len(caught.value.detail) < 100

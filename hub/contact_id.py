"""Ademco Contact ID (SIA DC-05): the event codes and the `Q XYZ GG CCC` string of CONTRACT.md.

Code meanings follow the DC-05 list (see ALARMS.md; some hobby receivers ship wrong tables, e.g. 101 as
fire). A well-formed code that is not in the table maps to `Category.UNKNOWN`: it is stored and shown,
never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.errors import Rejected
from hub.model import Category, Qualifier

_C = Category
CODES: dict[int, Category] = {
    100: _C.MEDICAL, 101: _C.MEDICAL, 102: _C.MEDICAL,
    110: _C.FIRE, 111: _C.FIRE, 112: _C.FIRE, 113: _C.FIRE, 114: _C.FIRE, 115: _C.FIRE, 116: _C.FIRE,
    117: _C.FIRE, 118: _C.FIRE,
    120: _C.PANIC, 122: _C.PANIC, 123: _C.PANIC, 124: _C.DURESS, 125: _C.DURESS,
    121: _C.DURESS,
    130: _C.BURGLARY, 131: _C.BURGLARY, 132: _C.BURGLARY, 133: _C.BURGLARY, 134: _C.BURGLARY,
    135: _C.BURGLARY, 136: _C.BURGLARY, 137: _C.TAMPER, 138: _C.BURGLARY, 139: _C.BURGLARY,
    144: _C.TAMPER, 145: _C.TAMPER,
    150: _C.TROUBLE, 151: _C.GAS, 152: _C.TEMPERATURE, 154: _C.WATER, 158: _C.TEMPERATURE,
    159: _C.TEMPERATURE, 162: _C.GAS,
    300: _C.TROUBLE, 301: _C.AC_LOSS, 302: _C.LOW_BATTERY, 305: _C.TROUBLE, 309: _C.LOW_BATTERY,
    311: _C.LOW_BATTERY, 321: _C.TROUBLE, 333: _C.TROUBLE,
    350: _C.COMM_FAULT, 351: _C.COMM_FAULT, 352: _C.COMM_FAULT, 353: _C.COMM_FAULT, 354: _C.COMM_FAULT,
    380: _C.TROUBLE, 381: _C.COMM_FAULT, 383: _C.TAMPER, 384: _C.LOW_BATTERY,
    400: _C.OPEN, 401: _C.OPEN, 402: _C.OPEN, 403: _C.OPEN, 407: _C.OPEN, 408: _C.OPEN, 409: _C.OPEN,
    406: _C.CANCEL,
    570: _C.BYPASS, 571: _C.BYPASS, 572: _C.BYPASS, 573: _C.BYPASS, 574: _C.BYPASS,
    601: _C.TEST, 602: _C.TEST, 603: _C.TEST, 604: _C.TEST, 607: _C.TEST,
}

# Qualifier digit: 1 new event or opening, 3 restore or closing, 6 condition still present.
_QUALIFIERS = {"1": Qualifier.NEW, "3": Qualifier.RESTORE, "6": Qualifier.STATUS}
_PATTERN = re.compile(r"^([0-9])([0-9]{3}) ?([0-9]{2}) ?([0-9]{3})$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactIdEvent:
    code: int
    qualifier: Qualifier
    category: Category
    partition: str
    zone: str


def category_of(code: int, qualifier: Qualifier) -> Category:
    """Category of a code; for open/close codes the qualifier decides (3 on a 4xx code is a closing)."""
    category = CODES.get(code, Category.UNKNOWN)
    if category is Category.OPEN and qualifier is Qualifier.RESTORE:
        return Category.CLOSE
    return category


def parse(text: str) -> ContactIdEvent:
    """Parse `"Q XYZ GG CCC"` (spaces optional), e.g. `"1130 01 003"`: new burglary, partition 1, zone 3."""
    match = _PATTERN.match(text.strip())
    if match is None:
        raise Rejected("bad_contact_id", f"expected 'QXYZ GG CCC' digits, got {text[:40]!r}")
    q, code_s, group, zone = match.groups()
    qualifier = _QUALIFIERS.get(q)
    if qualifier is None:
        raise Rejected("bad_contact_id", f"qualifier must be 1, 3 or 6, got {q}")
    code = int(code_s)
    category = category_of(code, qualifier)
    # Open/close carry the qualifier in the category itself: a closing is not a "restore" of an opening.
    if category in (Category.OPEN, Category.CLOSE):
        qualifier = Qualifier.NEW
    return ContactIdEvent(code=code, qualifier=qualifier, category=category,
                          partition=str(int(group)), zone=str(int(zone)))

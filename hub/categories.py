"""How urgent each category is, which agency takes it, and which categories are never merged away.

Priority 1 is the most urgent. Categories without a priority are logged signals, never alarms
(open/close, bypass, test reports: receiving-center practice logs every signal, queues only actionable
ones).
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.model import Category


@dataclass(frozen=True, slots=True, kw_only=True)
class CategoryInfo:
    priority: int | None
    agency: str = "110"
    life_safety: bool = False

    @property
    def is_alarm(self) -> bool:
        return self.priority is not None


_LOG_ONLY = CategoryInfo(priority=None)

TABLE: dict[Category, CategoryInfo] = {
    Category.PANIC: CategoryInfo(priority=1, life_safety=True),
    Category.DURESS: CategoryInfo(priority=1, life_safety=True),
    Category.FIRE: CategoryInfo(priority=1, agency="119", life_safety=True),
    Category.MEDICAL: CategoryInfo(priority=1, agency="120", life_safety=True),
    Category.BURGLARY: CategoryInfo(priority=2),
    # A gas leak is a fire-brigade matter in Chinese practice (119) and can kill: above tamper and water.
    Category.GAS: CategoryInfo(priority=2, agency="119", life_safety=True),
    Category.TAMPER: CategoryInfo(priority=3),
    Category.WATER: CategoryInfo(priority=3),
    Category.VIDEO_MOTION: CategoryInfo(priority=3),
    Category.VIDEO_LOSS: CategoryInfo(priority=3),
    # An unknown code is still something a panel thought worth sending: a person should look at it.
    Category.UNKNOWN: CategoryInfo(priority=3),
    Category.TEMPERATURE: CategoryInfo(priority=3),
    Category.AC_LOSS: CategoryInfo(priority=4),
    Category.LOW_BATTERY: CategoryInfo(priority=4),
    Category.COMM_FAULT: CategoryInfo(priority=4),
    Category.TROUBLE: CategoryInfo(priority=4),
    Category.OPEN: _LOG_ONLY,
    Category.CLOSE: _LOG_ONLY,
    Category.BYPASS: _LOG_ONLY,
    Category.TEST: _LOG_ONLY,
    Category.CANCEL: _LOG_ONLY,
}


def info(category: Category) -> CategoryInfo:
    return TABLE[category]

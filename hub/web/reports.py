"""Daily figures (三个一通报): how many alarms a day brought and how they were handled, per category and
per center, as JSON or as a CSV file for Excel.

The day is a calendar day in the centers' time zone (config `timezone`): [date 00:00, date+1 00:00)
local, turned into UTC bounds for the queries, since every time is stored in UTC. Each figure counts
alarms, not rows, and is counted on the day its event happened:

- `received`: alarms received (`alarms.received_at`) in the day;
- `acknowledged`, `dispatched`, `escalated`: alarms with an `acknowledged`, `dispatched`, `escalated`
  history change in the day (an alarm escalated twice in the day counts once);
- `closed.real|false|test`: alarms closed in the day, by resolution (the close's history detail, else
  the alarm's `resolution` column);
- `ack_seconds`: for the alarms acknowledged in the day, acknowledgement time minus `received_at`:
  count, median and 95th percentile.

Alarms of devices and cameras in test mode (`alarms.test`) are left out of every figure: no center
ever gets them. An alarm counts for its own center (that of its site), even when it was escalated to
another; a center's report covers it and every center below it (`centers.parent_id`).

Percentiles interpolate linearly between the closest ranks (Hyndman & Fan type 7: the default of
numpy.percentile, Excel's PERCENTILE.INC and PostgreSQL's percentile_cont): for n sorted values v,
P(q) = v[k] + (v[k+1] - v[k]) * f with (n - 1) * q = k + f. The median is P(0.5) (the mean of the
two middle values for an even n); p95 is P(0.95). Rounded to milliseconds; null when nothing was
acknowledged.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Connection, and_, case, distinct, func, select

from hub.model import Change
from hub.store import schema as t
from hub.web.deps import ANY_ROLE, Ctx, allow

DayQuery = Annotated[str | None, Query(alias="date", pattern=r"^\d{4}-\d{2}-\d{2}$",
                                       description="YYYY-MM-DD in the centers' time zone; default today")]
CenterQuery = Annotated[str | None, Query(max_length=64, description="This center and every center below "
                                                                     "it; default all centers")]
FormatQuery = Annotated[Literal["json", "csv"], Query(alias="format", description="csv: a file for Excel")]

_RESOLUTIONS = ("real", "false", "test")
_COUNTED = (Change.ACKNOWLEDGED.value, Change.DISPATCHED.value, Change.ESCALATED.value, Change.CLOSED.value)
CSV_COLUMNS = ("date", "section", "key", "name", "received", "acknowledged", "dispatched", "escalated",
               "closed_real", "closed_false", "closed_test", "ack_count", "ack_median_s", "ack_p95_s")


# -- the answer ------------------------------------------------------------------------------------

class ClosedCounts(BaseModel):
    real: int
    false: int
    test: int


class AckSeconds(BaseModel):
    count: int
    median: float | None
    p95: float | None


class Figures(BaseModel):
    received: int
    acknowledged: int
    dispatched: int
    escalated: int
    closed: ClosedCounts
    ack_seconds: AckSeconds


class CategoryFigures(Figures):
    category: str


class CenterFigures(Figures):
    center_id: str
    name: str | None  # null for a center id that alarms carry but the centers table no longer has


class DailyReport(BaseModel):
    date: str
    timezone: str
    center_id: str | None
    totals: Figures
    by_category: list[CategoryFigures]
    by_center: list[CenterFigures]


# -- the route -------------------------------------------------------------------------------------

def router() -> APIRouter:
    api = APIRouter(tags=["reports"], dependencies=[Depends(allow(*ANY_ROLE))])

    @api.get("/api/v1/reports/daily", response_model=DailyReport,
             responses={200: {"content": {"text/csv": {}}}, 404: {"description": "Unknown center"}})
    def daily(ctx: Ctx, day: DayQuery = None, center_id: CenterQuery = None,
              fmt: FormatQuery = "json") -> DailyReport | Response:
        """The figures of one day (see docs/operations.md, "Daily figures"): totals, by category and by
        center, lists sorted by `received` (most first), then by key. `format=csv` downloads them."""
        zone = ZoneInfo(ctx.timezone)
        wanted = _parse_day(day) if day is not None else datetime.now(zone).date()
        start, end = day_bounds(wanted, zone)
        with ctx.db.connect() as conn:
            report = build(conn, wanted, start, end, ctx.timezone, center_id)
        if fmt == "csv":
            name = f"daily-{_filename_part(center_id or 'all')}-{wanted.isoformat()}.csv"
            return Response(to_csv(report).encode("utf-8"), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f"attachment; filename={name}"})
        return report

    del daily
    return api


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RequestValidationError([{"loc": ("query", "date"), "msg": "not a calendar date (YYYY-MM-DD)",
                                       "type": "value_error"}]) from None


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[day 00:00, next day 00:00) local, in UTC (a day with a DST change has 23 or 25 hours)."""
    try:
        start = datetime.combine(day, time(), zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
    except OverflowError:  # the first or last representable days
        raise RequestValidationError([{"loc": ("query", "date"), "msg": "date out of range",
                                       "type": "value_error"}]) from None
    return start, end


def _filename_part(value: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "_" for ch in value)


# -- the figures -----------------------------------------------------------------------------------

def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (type 7) of already sorted values; None if empty."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(slots=True)
class _Tally:
    received: int = 0
    acknowledged: int = 0
    dispatched: int = 0
    escalated: int = 0
    real: int = 0
    false: int = 0
    test: int = 0
    ack_seconds: list[float] = field(default_factory=list)

    def add(self, counts: dict[str, int]) -> None:
        for key, value in counts.items():
            setattr(self, key, getattr(self, key) + value)

    def figures(self) -> dict[str, Any]:
        ordered = sorted(self.ack_seconds)
        median, p95 = percentile(ordered, 0.5), percentile(ordered, 0.95)
        return {"received": self.received, "acknowledged": self.acknowledged, "dispatched": self.dispatched,
                "escalated": self.escalated,
                "closed": {"real": self.real, "false": self.false, "test": self.test},
                "ack_seconds": {"count": len(ordered),
                                "median": None if median is None else round(median, 3),
                                "p95": None if p95 is None else round(p95, 3)}}


def build(conn: Connection, day: date, start: datetime, end: datetime, timezone: str,
          center_id: str | None) -> DailyReport:
    """The report of [start, end) for `center_id` and the centers below it (all centers if None).
    Three grouped queries (received; history changes; acknowledgement times, one row per alarm
    acknowledged), whatever the number of alarms."""
    a, h, c = t.alarms.c, t.history_table.c, t.centers.c
    names: dict[str, str | None]
    if center_id is None:
        in_scope: ColumnElement[bool] | None = None
        names = {r.id: r.name for r in conn.execute(select(c.id, c.name))}
    else:
        if conn.execute(select(c.id).where(c.id == center_id)).first() is None:
            raise HTTPException(404, f"no center {center_id!r}")
        tree = select(c.id).where(c.id == center_id).cte("scope", recursive=True)
        child = t.centers.alias("child")
        # UNION, not UNION ALL: a loop in parent_id would otherwise never end.
        tree = tree.union(select(child.c.id).where(child.c.parent_id == tree.c.id))
        in_scope = a.center_id.in_(select(tree.c.id))
        names = {r.id: r.name for r in conn.execute(select(c.id, c.name).where(c.id.in_(select(tree.c.id))))}

    def scoped(*conditions: ColumnElement[bool]) -> list[ColumnElement[bool]]:
        return [*conditions, a.test.is_(False), *([] if in_scope is None else [in_scope])]

    received = (select(a.center_id, a.category, func.count().label("received"))
                .where(*scoped(a.received_at >= start, a.received_at < end))
                .group_by(a.center_id, a.category))

    resolution = func.coalesce(h.detail["resolution"].as_string(), a.resolution)

    def alarms_with(condition: ColumnElement[bool], label: str) -> Any:
        return func.count(distinct(case((condition, h.alarm_id)))).label(label)

    changes = (select(a.center_id, a.category,
                      alarms_with(h.change == Change.ACKNOWLEDGED.value, "acknowledged"),
                      alarms_with(h.change == Change.DISPATCHED.value, "dispatched"),
                      alarms_with(h.change == Change.ESCALATED.value, "escalated"),
                      *(alarms_with(and_(h.change == Change.CLOSED.value, resolution == r), r)
                        for r in _RESOLUTIONS))
               .select_from(t.history_table.join(t.alarms, t.alarms.c.id == h.alarm_id))
               .where(*scoped(h.at >= start, h.at < end, h.change.in_(_COUNTED)))
               .group_by(a.center_id, a.category))

    acknowledged = (select(a.center_id, a.category, a.received_at, func.min(h.at).label("at"))
                    .select_from(t.history_table.join(t.alarms, t.alarms.c.id == h.alarm_id))
                    .where(*scoped(h.at >= start, h.at < end, h.change == Change.ACKNOWLEDGED.value))
                    .group_by(h.alarm_id, a.center_id, a.category, a.received_at))

    totals = _Tally()
    by_category: dict[str, _Tally] = {}
    by_center: dict[str, _Tally] = {key: _Tally() for key in names}

    def tallies(row: Any) -> Iterable[_Tally]:
        return (totals, by_category.setdefault(row.category, _Tally()),
                by_center.setdefault(row.center_id, _Tally()))

    for row in conn.execute(received):
        for tally in tallies(row):
            tally.received += row.received
    for row in conn.execute(changes):
        counts = {k: getattr(row, k) for k in ("acknowledged", "dispatched", "escalated", *_RESOLUTIONS)}
        for tally in tallies(row):
            tally.add(counts)
    for row in conn.execute(acknowledged):
        seconds = (row.at - row.received_at).total_seconds()  # MIN() keeps the column's type: aware UTC
        for tally in tallies(row):
            tally.ack_seconds.append(seconds)

    def order(item: tuple[str, _Tally]) -> tuple[int, str]:
        return (-item[1].received, item[0])

    return DailyReport(
        date=day.isoformat(), timezone=timezone, center_id=center_id,
        totals=Figures(**totals.figures()),
        by_category=[CategoryFigures(category=key, **tally.figures())
                     for key, tally in sorted(by_category.items(), key=order)],
        by_center=[CenterFigures(center_id=key, name=names.get(key), **tally.figures())
                   for key, tally in sorted(by_center.items(), key=order)])


# -- CSV -------------------------------------------------------------------------------------------

def to_csv(report: DailyReport) -> str:
    """One row for the totals, one per category, one per center (`section`), under one header row;
    starts with a byte order mark so that Excel reads it as UTF-8 (Chinese names) on any Windows."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    total_name = next((c.name for c in report.by_center if c.center_id == report.center_id), None)
    rows: list[tuple[str, str, str | None, Figures]] = [
        ("total", report.center_id or "", total_name, report.totals),
        *(("category", f.category, None, f) for f in report.by_category),
        *(("center", f.center_id, f.name, f) for f in report.by_center)]
    for section, key, name, f in rows:
        writer.writerow([report.date, section, key, name or "", f.received, f.acknowledged, f.dispatched,
                         f.escalated, f.closed.real, f.closed.false, f.closed.test, f.ack_seconds.count,
                         _number(f.ack_seconds.median), _number(f.ack_seconds.p95)])
    return out.getvalue()


def _number(value: float | None) -> str:
    """Seconds as Excel reads them: `90`, `183.5`, never an exponent; empty for none."""
    return "" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")

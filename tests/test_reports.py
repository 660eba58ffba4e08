"""Daily figures (`GET /api/v1/reports/daily`): the local calendar day, exact counts, medians and p95,
a center's report covering the centers below it, the CSV file, and the errors.

The alarms and their history are written straight into a real database (SQLite and PostgreSQL), the
way the engine writes them (Store.write: the bulk driver path, history details as encoded JSON), at
known times around the day's boundaries in Asia/Shanghai; the API is the real application
(create_app) on a WebContext over that database. One test runs the hub as a process with another
time zone in its configuration.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, insert, update

from hub.message import encode
from hub.secrets import Vault
from hub.store import schema as t
from hub.store.db import migrate, open_engine
from hub.store.store import Store
from hub.web.app import create_app
from hub.web.auth import Role, issue
from hub.web.deps import WebContext
from hub.web.reports import CSV_COLUMNS, day_bounds, percentile
from hub.writes import Writes
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.servers import Mosquitto, free_port

SHANGHAI = ZoneInfo("Asia/Shanghai")
D = date(2026, 3, 10)
URL = "/api/v1/reports/daily"

CITY, XW, CP, GL, OTHER = "110-city", "station-xw", "community-xw-1", "station-gl", "110-other"
CENTERS = [  # (id, name, kind, parent): the city's 110 over two stations, one with a community point
    (CITY, "市110指挥中心", "110", None),
    (XW, "玄武派出所", "station", CITY),
    (CP, "玄武社区一", "community", XW),
    (GL, "鼓楼派出所", "station", CITY),
    (OTHER, "县110指挥中心", "110", None),
]
NAMES = {cid: name for cid, name, _, _ in CENTERS}


def local(day_offset: int, hh: int, mm: int, ss: int = 0, zone: ZoneInfo = SHANGHAI) -> datetime:
    """A wall-clock time in `zone` on D + day_offset, as the aware UTC datetime the store keeps."""
    return datetime.combine(D + timedelta(days=day_offset), time(hh, mm, ss), zone).astimezone(UTC)


# -- the data ----------------------------------------------------------------------------------------

@dataclass
class Alarm:
    id: str
    center: str
    category: str
    received: datetime
    events: list[tuple[str, datetime, dict[str, Any] | None]]  # (change, at, detail) after `new`
    test: bool = False
    resolution: str | None = None  # the alarms table's column (set by a close)


def close(resolution: str | None, note: str = "") -> dict[str, Any]:
    return {"resolution": resolution, "note": note} if resolution else {"note": note}


ALARMS = [
    # received at 00:00:00 local on D (16:00 UTC on D-1): in D. Acked 30 s later, dispatched, closed real.
    Alarm("a01", XW, "burglary", local(0, 0, 0, 0), [
        ("acknowledged", local(0, 0, 0, 30), None), ("dispatched", local(0, 0, 5), {"unit": "巡逻1组"}),
        ("closed", local(0, 1, 0), close("real", "抓获"))], resolution="real"),
    # received at 23:59:59 local on D-1: not in D's `received`, but its handling (90 s later) is in D
    Alarm("a02", XW, "burglary", local(-1, 23, 59, 59), [
        ("acknowledged", local(0, 0, 1, 29), None), ("dispatched", local(0, 0, 3), {"unit": "巡逻2组"}),
        ("closed", local(0, 0, 30), close("false"))], resolution="false"),
    # 07:59 local on D is 23:59 UTC on D-1. Escalated twice (counts once), acked at the city after 200 s,
    # closed false with the resolution only in the history detail (column NULL)
    Alarm("a03", CP, "fire", local(0, 7, 59), [
        ("escalated", local(0, 8, 1), {"from": CP, "to": XW}),
        ("escalated", local(0, 8, 2), {"from": XW, "to": CITY}),
        ("acknowledged", local(0, 8, 2, 20), None), ("closed", local(0, 9, 0), close("false", "误报"))]),
    # the last second of D; its acknowledgement (11 s later) falls on D+1
    Alarm("a04", GL, "panic", local(0, 23, 59, 59), [("acknowledged", local(1, 0, 0, 10), None)]),
    # another 110 center's alarm, acked in 10 s, closed test with the resolution only in the column
    Alarm("a05", OTHER, "burglary", local(0, 12, 0), [
        ("acknowledged", local(0, 12, 0, 10), None), ("closed", local(0, 12, 30), None)], resolution="test"),
    # a device in test mode: in no figure at all
    Alarm("a06", XW, "burglary", local(0, 10, 0), [
        ("acknowledged", local(0, 10, 0, 5), None), ("dispatched", local(0, 10, 1), {"unit": "x"}),
        ("escalated", local(0, 10, 2), {"from": XW, "to": CITY}),
        ("closed", local(0, 10, 10), close("test"))], test=True, resolution="test"),
    # the first second of D+1
    Alarm("a07", XW, "burglary", local(1, 0, 0, 0), []),
    # the 110 center's own alarm: acked after 60 s, dispatched, still open
    Alarm("a08", CITY, "medical", local(0, 10, 0), [
        ("acknowledged", local(0, 10, 1), None), ("dispatched", local(0, 10, 5), {"unit": "120"})]),
    # D-1 20:00 local (12:00 UTC on D-1), escalated on D-1 too
    Alarm("a09", GL, "burglary", local(-1, 20, 0),
          [("escalated", local(-1, 20, 2), {"from": GL, "to": CITY})]),
    # 02:00 local on D+1 is 18:00 UTC on D: a UTC calendar day would wrongly count it in D
    Alarm("a10", XW, "fire", local(1, 2, 0), []),
    # escalated and never acknowledged
    Alarm("a11", XW, "burglary", local(0, 15, 0), [("escalated", local(0, 15, 2), {"from": XW, "to": CITY})]),
]


def seed_centers(db: Engine, centers: list[tuple[str, str, str, str | None]] = CENTERS) -> None:
    now = datetime.now(UTC)
    with db.begin() as conn:
        for cid, name, kind, parent in centers:
            conn.execute(insert(t.centers).values(id=cid, name=name, kind=kind, parent_id=parent,
                                                  ack_deadline_s=120, created_at=now, updated_at=now))


def seed_alarms(db: Engine, alarms: list[Alarm]) -> None:
    """Rows as the engine writes them: the alarm's latest state, a `new` history row, then each change."""
    writes = Writes()
    for alarm in alarms:
        state, closed_at = "new", None
        writes.history.append(_history(alarm.id, 1, "new", "new", alarm.received, None))
        for seq, (change, at, detail) in enumerate(alarm.events, start=2):
            state = change  # each change names the state it leads to
            closed_at = at if change == "closed" else closed_at
            writes.history.append(_history(alarm.id, seq, change, state, at, detail))
        writes.put_alarm({
            "id": alarm.id, "seq": len(alarm.events) + 1, "state": state, "category": alarm.category,
            "priority": 2, "agency": "police", "verified": False, "test": alarm.test, "restored": False,
            "site_id": f"site-{alarm.id}", "center_id": alarm.center, "source_kind": "device",
            "source_id": f"panel-{alarm.id}", "zone": "1", "signals": 1, "raised_at": alarm.received,
            "received_at": alarm.received, "updated_at": alarm.received, "closed_at": closed_at,
            "resolution": alarm.resolution, "message": encode({"alarm_id": alarm.id}),
            "escalated_to": None, "deadline_at": None, "acknowledged_at": None, "dispatched_at": None,
            "unit": None}, is_new=True)
    Store(db).write(writes)


def _history(alarm_id: str, seq: int, change: str, state: str, at: datetime,
             detail: dict[str, Any] | None) -> dict[str, Any]:
    return {"alarm_id": alarm_id, "seq": seq, "change": change, "state": state, "at": at,
            "actor": "hub" if change in ("new", "escalated") else "desk-1",
            "detail": encode(detail) if detail is not None else None, "message": None}


def fig(received: int, acknowledged: int, dispatched: int, escalated: int, real: int, false: int, test: int,
        ack_count: int, median: float | None, p95: float | None) -> dict[str, Any]:
    return {"received": received, "acknowledged": acknowledged, "dispatched": dispatched,
            "escalated": escalated, "closed": {"real": real, "false": false, "test": test},
            "ack_seconds": {"count": ack_count, "median": median, "p95": p95}}


ZERO = fig(0, 0, 0, 0, 0, 0, 0, 0, None, None)


def center(cid: str, figures: dict[str, Any]) -> dict[str, Any]:
    return {"center_id": cid, "name": NAMES[cid], **figures}


def category(name: str, figures: dict[str, Any]) -> dict[str, Any]:
    return {"category": name, **figures}


# -- the application over a real database -----------------------------------------------------------

@dataclass
class Api:
    db: Engine
    client: httpx.Client
    token: str

    def get(self, token: str | None = None, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return self.client.get(URL, params=params, headers=headers)

    def report(self, **params: str) -> dict[str, Any]:
        response = self.get(**params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        body: dict[str, Any] = response.json()
        return body


def _unused(*_args: Any) -> Any:
    raise AssertionError("reports must only read the database")


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    db = open_engine(database_url)
    migrate(db)
    seed_centers(db)
    seed_alarms(db, ALARMS)
    ctx = WebContext(db=db, vault=Vault.open(tmp_path), refresh=lambda _k, _i: Future(), health=_unused,
                     writing=_unused, act=_unused, timezone="Asia/Shanghai")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, name="reports-api", daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            _wait_serving(client, thread)
            yield Api(db, client, issue(db, "viewer-1", Role.VIEWER))
    finally:
        server.should_exit = True
        thread.join(10)
        db.dispose()


def _wait_serving(client: httpx.Client, thread: threading.Thread, timeout: float = 15.0) -> None:
    deadline = datetime.now(UTC) + timedelta(seconds=timeout)
    while datetime.now(UTC) < deadline:
        assert thread.is_alive(), "the API server thread ended"
        try:
            client.get("/openapi.json")
            return
        except httpx.TransportError:
            threading.Event().wait(0.05)
    raise TimeoutError("the API server did not start")


# -- the figures -------------------------------------------------------------------------------------

def test_all_centers_on_the_local_day_exact_figures(api: Api) -> None:
    """In D: a01 (00:00:00 local, 16:00 UTC the day before), a03, a04 (23:59:59), a05, a08, a11; not a02
    (23:59:59 the day before), a07 (00:00 the next day), a10 (UTC date D, local D+1), nor test-mode a06.
    Acknowledgements in D took 30, 90, 200, 10 and 60 s: median 60, p95 90 + 0.8 × 110 = 178."""
    report = api.report(date="2026-03-10")
    assert report["date"] == "2026-03-10"
    assert report["timezone"] == "Asia/Shanghai"
    assert report["center_id"] is None
    assert report["totals"] == fig(6, 5, 3, 2, 1, 2, 1, 5, 60.0, 178.0)
    assert report["by_category"] == [
        category("burglary", fig(3, 3, 2, 1, 1, 1, 1, 3, 30.0, 84.0)),
        category("fire", fig(1, 1, 0, 1, 0, 1, 0, 1, 200.0, 200.0)),
        category("medical", fig(1, 1, 1, 0, 0, 0, 0, 1, 60.0, 60.0)),
        category("panic", fig(1, 0, 0, 0, 0, 0, 0, 0, None, None)),
    ]
    assert report["by_center"] == [
        center(XW, fig(2, 2, 2, 1, 1, 1, 0, 2, 60.0, 87.0)),
        center(CITY, fig(1, 1, 1, 0, 0, 0, 0, 1, 60.0, 60.0)),
        center(OTHER, fig(1, 1, 0, 0, 0, 0, 1, 1, 10.0, 10.0)),
        center(CP, fig(1, 1, 0, 1, 0, 1, 0, 1, 200.0, 200.0)),
        center(GL, fig(1, 0, 0, 0, 0, 0, 0, 0, None, None)),
    ]


def test_the_neighbouring_days_get_what_d_left_out(api: Api) -> None:
    before = api.report(date="2026-03-09")  # a02 at 23:59:59 and a09 (escalated that evening)
    assert before["totals"] == fig(2, 0, 0, 1, 0, 0, 0, 0, None, None)
    assert before["by_category"] == [category("burglary", fig(2, 0, 0, 1, 0, 0, 0, 0, None, None))]
    assert before["by_center"] == [center(GL, fig(1, 0, 0, 1, 0, 0, 0, 0, None, None)),
                                   center(XW, fig(1, 0, 0, 0, 0, 0, 0, 0, None, None)),
                                   center(CITY, ZERO), center(OTHER, ZERO), center(CP, ZERO)]

    after = api.report(date="2026-03-11")  # a07 at 00:00:00, a10 at 02:00; a04 acknowledged 00:00:10
    assert after["totals"] == fig(2, 1, 0, 0, 0, 0, 0, 1, 11.0, 11.0)
    assert after["by_category"] == [category("burglary", fig(1, 0, 0, 0, 0, 0, 0, 0, None, None)),
                                    category("fire", fig(1, 0, 0, 0, 0, 0, 0, 0, None, None)),
                                    category("panic", fig(0, 1, 0, 0, 0, 0, 0, 1, 11.0, 11.0))]
    assert [(c["center_id"], c["received"], c["acknowledged"]) for c in after["by_center"]] == \
        [(XW, 2, 0), (CITY, 0, 0), (OTHER, 0, 0), (CP, 0, 0), (GL, 0, 1)]


def test_a_center_covers_every_center_below_it(api: Api) -> None:
    city = api.report(date="2026-03-10", center_id=CITY)  # not 110-other's a05
    assert city["center_id"] == CITY
    # acks 30, 90, 200, 60: median (60 + 90) / 2, p95 90 + 0.85 × 110
    assert city["totals"] == fig(5, 4, 3, 2, 1, 2, 0, 4, 75.0, 183.5)
    assert city["by_category"] == [
        category("burglary", fig(2, 2, 2, 1, 1, 1, 0, 2, 60.0, 87.0)),
        category("fire", fig(1, 1, 0, 1, 0, 1, 0, 1, 200.0, 200.0)),
        category("medical", fig(1, 1, 1, 0, 0, 0, 0, 1, 60.0, 60.0)),
        category("panic", fig(1, 0, 0, 0, 0, 0, 0, 0, None, None)),
    ]
    assert [c["center_id"] for c in city["by_center"]] == [XW, CITY, CP, GL]

    station = api.report(date="2026-03-10", center_id=XW)  # the station and its community point
    assert station["totals"] == fig(3, 3, 2, 2, 1, 2, 0, 3, 90.0, 189.0)
    assert station["by_category"] == [category("burglary", fig(2, 2, 2, 1, 1, 1, 0, 2, 60.0, 87.0)),
                                      category("fire", fig(1, 1, 0, 1, 0, 1, 0, 1, 200.0, 200.0))]
    assert station["by_center"] == [center(XW, fig(2, 2, 2, 1, 1, 1, 0, 2, 60.0, 87.0)),
                                     center(CP, fig(1, 1, 0, 1, 0, 1, 0, 1, 200.0, 200.0))]

    leaf = api.report(date="2026-03-10", center_id=CP)
    assert leaf["totals"] == fig(1, 1, 0, 1, 0, 1, 0, 1, 200.0, 200.0)
    assert [c["center_id"] for c in leaf["by_center"]] == [CP]

    other = api.report(date="2026-03-10", center_id=OTHER)
    assert other["totals"] == fig(1, 1, 0, 0, 0, 0, 1, 1, 10.0, 10.0)
    assert other["by_category"] == [category("burglary", fig(1, 1, 0, 0, 0, 0, 1, 1, 10.0, 10.0))]


def test_a_loop_in_the_center_tree_still_ends(api: Api) -> None:
    with api.db.begin() as conn:  # the API would refuse it; a hand-edited database might not
        conn.execute(update(t.centers).where(t.centers.c.id == CITY).values(parent_id=CP))
    report = api.report(date="2026-03-10", center_id=XW)
    assert [c["center_id"] for c in report["by_center"]] == [XW, CITY, CP, GL]
    assert report["totals"]["received"] == 5


def test_an_empty_day_is_zeros_and_nulls(api: Api) -> None:
    report = api.report(date="2026-01-01", center_id=CITY)
    assert report == {"date": "2026-01-01", "timezone": "Asia/Shanghai", "center_id": CITY, "totals": ZERO,
                      "by_category": [], "by_center": [center(c, ZERO) for c in (CITY, CP, GL, XW)]}


def test_the_date_defaults_to_today_in_the_centers_zone(api: Api) -> None:
    today = datetime.now(SHANGHAI).date()
    seed_alarms(api.db, [Alarm("now1", GL, "gas", datetime.now(UTC), [])])
    report = api.report()
    if report["date"] == today.isoformat():  # else midnight passed in between: nothing more to check
        assert report["totals"]["received"] == 1
        assert report["by_category"] == [category("gas", fig(1, 0, 0, 0, 0, 0, 0, 0, None, None))]
    else:
        assert report["date"] == (today + timedelta(days=1)).isoformat()


# -- CSV -------------------------------------------------------------------------------------------

def test_csv_download_with_bom_header_and_rows(api: Api) -> None:
    response = api.get(date="2026-03-10", center_id=XW, format="csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == "attachment; filename=daily-station-xw-2026-03-10.csv"
    assert response.content.startswith(b"\xef\xbb\xbf")
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert CSV_COLUMNS == ("date", "section", "key", "name", "received", "acknowledged", "dispatched",
                           "escalated", "closed_real", "closed_false", "closed_test", "ack_count",
                           "ack_median_s", "ack_p95_s")
    assert text == "\r\n".join([
        ",".join(CSV_COLUMNS),
        "2026-03-10,total,station-xw,玄武派出所,3,3,2,2,1,2,0,3,90,189",
        "2026-03-10,category,burglary,,2,2,2,1,1,1,0,2,60,87",
        "2026-03-10,category,fire,,1,1,0,1,0,1,0,1,200,200",
        "2026-03-10,center,station-xw,玄武派出所,2,2,2,1,1,1,0,2,60,87",
        "2026-03-10,center,community-xw-1,玄武社区一,1,1,0,1,0,1,0,1,200,200",
    ]) + "\r\n"


def test_csv_of_all_centers_has_fractions_and_empty_cells(api: Api) -> None:
    response = api.get(date="2026-03-10", center_id=CITY, format="csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1] == ["2026-03-10", "total", CITY, NAMES[CITY], "5", "4", "3", "2", "1", "2", "0", "4", "75",
                       "183.5"]
    assert rows[-1] == ["2026-03-10", "center", GL, NAMES[GL], "1", "0", "0", "0", "0", "0", "0", "0", "", ""]
    assert len(rows) == 1 + 1 + 4 + 4

    everything = api.get(date="2026-03-10", format="csv")
    assert everything.headers["content-disposition"] == "attachment; filename=daily-all-2026-03-10.csv"
    rows = list(csv.reader(io.StringIO(everything.content.decode("utf-8-sig"))))
    assert rows[1] == ["2026-03-10", "total", "", "", "6", "5", "3", "2", "1", "2", "1", "5", "60", "178"]
    assert [r[2] for r in rows if r[1] == "center"] == [XW, CITY, OTHER, CP, GL]


# -- errors and roles --------------------------------------------------------------------------------

def test_unknown_center_is_404_and_bad_input_422(api: Api) -> None:
    for params in ({"center_id": "nowhere"}, {"center_id": "nowhere", "format": "csv"}):
        response = api.get(date="2026-03-10", **params)
        assert response.status_code == 404, response.text
        assert "nowhere" in response.json()["detail"]
    for bad in ("2026-02-30", "2026-13-01", "2026-3-10", "20260310", "today", "2026-03-10T00:00",
                "9999-12-31", "0001-01-01"):
        response = api.get(date=bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["detail"][0]["loc"] == ["query", "date"], bad
    for params in ({"format": "xlsx"}, {"center_id": "x" * 65}):
        response = api.get(date="2026-03-10", **params)
        assert response.status_code == 422, (params, response.text)


def test_any_role_may_read_and_a_token_is_needed(api: Api) -> None:
    for role in Role:
        token = issue(api.db, f"{role.value}-reader", role)
        response = api.get(token, date="2026-03-10", center_id=CP)
        assert response.status_code == 200, (role, response.text)
        assert response.json()["totals"]["received"] == 1
    assert api.client.get(URL, params={"date": "2026-03-10"}).status_code == 401
    assert api.get("ph_not-a-real-token", date="2026-03-10").status_code == 401
    assert api.client.get(URL, params={"date": "2026-03-10", "format": "csv"}).status_code == 401


# -- definitions --------------------------------------------------------------------------------------

def test_percentiles_interpolate_linearly() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.5) == 7.0 and percentile([7.0], 0.95) == 7.0
    assert percentile([10.0, 20.0], 0.5) == 15.0
    assert percentile([10.0, 30.0, 60.0, 90.0, 200.0], 0.5) == 60.0
    assert percentile([10.0, 30.0, 60.0, 90.0, 200.0], 0.95) == pytest.approx(178.0)
    assert percentile([float(v) for v in range(1, 101)], 0.95) == pytest.approx(95.05)


def test_a_day_is_local_midnight_to_midnight_even_across_daylight_saving() -> None:
    assert day_bounds(D, SHANGHAI) == (datetime(2026, 3, 9, 16, tzinfo=UTC),
                                       datetime(2026, 3, 10, 16, tzinfo=UTC))
    berlin = ZoneInfo("Europe/Berlin")  # clocks go forward on 29 March 2026: a 23-hour day
    start, end = day_bounds(date(2026, 3, 29), berlin)
    assert (start, end - start) == (datetime(2026, 3, 28, 23, tzinfo=UTC), timedelta(hours=23))


# -- the hub as a process: the route is served and the configured time zone is the one used --------

@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_hub_uses_its_configured_time_zone(tmp_path: Path, database_url: str, site_broker: Mosquitto,
                                               cc_broker: Mosquitto) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    hub = HubProcess(tmp_path / "hub", database_url=database_url, mqtt_url=site_broker.url,
                     cc_mqtt_url=cc_broker.url, config={"timezone": "Asia/Tokyo"})
    hub.start()
    try:
        hub.post("/api/v1/centers", {"id": CITY, "name": NAMES[CITY], "kind": "110"})
        db = open_engine(database_url)
        try:  # 00:30 on D in Tokyo is 23:30 on D-1 in Shanghai, and 00:30 on D+1 is 23:30 on D
            seed_alarms(db, [Alarm("tk1", CITY, "fire", local(0, 0, 30, zone=tokyo), []),
                             Alarm("tk2", CITY, "burglary", local(1, 0, 30, zone=tokyo), [])])
        finally:
            db.dispose()
        response = hub.api.get(URL, params={"date": "2026-03-10"})
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["timezone"] == "Asia/Tokyo"
        assert [c["category"] for c in report["by_category"]] == ["fire"]
        assert report["by_center"] == [center(CITY, fig(1, 0, 0, 0, 0, 0, 0, 0, None, None))]
        download = hub.api.get(URL, params={"date": "2026-03-10", "center_id": CITY, "format": "csv"})
        assert download.status_code == 200
        assert download.headers["content-disposition"] == "attachment; filename=daily-110-city-2026-03-10.csv"
        assert httpx.get(f"{hub.base_url}{URL}").status_code == 401
        assert hub.api.get(URL, params={"center_id": "nowhere"}).status_code == 404
    finally:
        hub.close()

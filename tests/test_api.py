"""The HTTP API (CONTRACT.md, "HTTP") against the real hub process.

Most tests run on SQLite only (the API code is the same on both backends); the CRUD round trip and
the database-specific robustness checks also run on PostgreSQL.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from hub.store import schema as t
from simulators.consumer import Consumer
from simulators.fleet import Fleet
from tests.fixtures.hubproc import ADMIN_TOKEN, HubProcess
from tests.fixtures.servers import Mosquitto

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

CENTER = {"id": "110-city", "name": "Nanjing 110", "kind": "110"}
SITE = {"id": "shop-17", "name": "Shop 17", "kind": "shop", "address": "17 Zhongshan Rd", "lat": 32.05,
        "lon": 118.78, "door_plate": "No. 17", "pole": "P-17", "center_id": "110-city"}
DEVICE = {"id": "panel-7", "site_id": "shop-17", "protocol": "mqtt", "supervision_s": 60, "test_mode": False}
BASES: dict[str, dict[str, Any]] = {"centers": CENTER, "sites": SITE, "devices": DEVICE}
RESOURCE_PATHS = ["/api/v1/centers", "/api/v1/sites", "/api/v1/devices"]
LIST_PATHS = [*RESOURCE_PATHS, "/api/v1/alarms", "/api/v1/dead-letters", "/api/v1/unregistered"]


# -- helpers -----------------------------------------------------------------------------------------

def issue_token(hub: HubProcess, role: str, name: str | None = None) -> str:
    response = hub.api.post("/api/v1/tokens", json={"role": role, "name": name or f"{role}-test"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["role"] == role and body["name"] == (name or f"{role}-test")
    token: str = body["token"]
    return token


@contextmanager
def client(hub: HubProcess, token: str | None = None) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    with httpx.Client(base_url=hub.base_url, timeout=30, headers=headers) as c:
        yield c


@contextmanager
def as_role(hub: HubProcess, role: str) -> Iterator[httpx.Client]:
    with client(hub, issue_token(hub, role)) as c:
        yield c


def error_fields(response: httpx.Response) -> set[str]:
    """The field names named in a 422's `detail[*].loc` (without the leading "body"/"query")."""
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail, detail
    return {str(part) for err in detail for part in err["loc"][1:]}


def keys_anywhere(value: Any) -> set[str]:
    """Every key of every object nested in a JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_anywhere(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_anywhere(v)}
    return set()


def setup_site(hub: HubProcess) -> None:
    hub.post("/api/v1/centers", CENTER)
    hub.post("/api/v1/sites", SITE)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


# -- open endpoints and tokens ------------------------------------------------------------------------

@SQLITE
def test_public_endpoints_and_bearer_tokens(hub: HubProcess, database_url: str) -> None:
    """/healthz, /metrics and the docs are open; /api/v1/... needs a token that an admin issued."""
    with client(hub) as anonymous:
        health = anonymous.get("/healthz")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert health.json()["database"] is True

        metrics = anonymous.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "# TYPE hub_signals_total counter" in metrics.text
        assert "# TYPE hub_outbox_depth gauge" in metrics.text

        docs = anonymous.get("/docs")
        assert docs.status_code == 200
        assert "text/html" in docs.headers["content-type"] and "swagger" in docs.text.lower()

        spec = anonymous.get("/openapi.json")
        assert spec.status_code == 200
        paths = spec.json()["paths"]
        for path in [*LIST_PATHS, "/api/v1/tokens", "/api/v1/centers/{item_id}", "/api/v1/alarms/{alarm_id}"]:
            assert path in paths, path
        assert set(paths["/api/v1/devices/{item_id}"]) == {"get", "patch", "delete"}

    with client(hub) as anonymous, client(hub, "ph_not-a-real-token") as stranger:
        for path in LIST_PATHS:
            for c in (anonymous, stranger):
                response = c.get(path)
                assert response.status_code == 401, (path, response.text)
                assert response.headers["www-authenticate"] == "Bearer"
        assert anonymous.post("/api/v1/centers", json=CENTER).status_code == 401
        assert stranger.post("/api/v1/tokens", json={"role": "admin", "name": "x"}).status_code == 401
        assert anonymous.get("/api/v1/alarms", headers={"Authorization": "Basic YWRtaW46YWRtaW4="}
                             ).status_code == 401
        assert anonymous.get("/api/v1/alarms", headers={"Authorization": "Bearer"}).status_code == 401
        assert anonymous.get("/api/v1/alarms", headers={"Authorization": f"bearer {ADMIN_TOKEN}x"}
                             ).status_code == 401
    # Nothing was created by the refused requests.
    assert hub.api.get("/api/v1/centers").json() == {"items": [], "next": None}

    first = issue_token(hub, "viewer", "wall screen")
    second = issue_token(hub, "viewer", "wall screen")
    assert first != second and len(first) >= 32
    for token in (first, second):
        with client(hub, token) as c:
            assert c.get("/api/v1/centers").status_code == 200
    bad = hub.api.post("/api/v1/tokens", json={"role": "superuser", "name": "x"})
    assert "role" in error_fields(bad)
    assert "name" in error_fields(hub.api.post("/api/v1/tokens", json={"role": "viewer"}))
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            stored = [r.digest for r in conn.execute(select(t.tokens.c.digest))]
    finally:
        engine.dispose()
    assert len(stored) == 3  # the bootstrap admin and the two above
    assert first not in stored and second not in stored


# -- roles ---------------------------------------------------------------------------------------------

@SQLITE
def test_each_role_gets_what_it_may_and_403_otherwise(hub: HubProcess) -> None:
    setup_site(hub)
    with as_role(hub, "operator") as op:
        assert op.get("/api/v1/alarms").status_code == 200
        for path in ["/api/v1/devices", "/api/v1/centers", "/api/v1/sites", "/api/v1/dead-letters",
                     "/api/v1/unregistered"]:
            assert op.get(path).status_code == 403, path
        assert op.get("/api/v1/centers/110-city").status_code == 403
        assert op.post("/api/v1/devices", json=DEVICE).status_code == 403
        assert op.post("/api/v1/centers", json={**CENTER, "id": "other"}).status_code == 403
        assert op.post("/api/v1/tokens", json={"role": "admin", "name": "me"}).status_code == 403
    assert hub.api.get("/api/v1/devices").json()["items"] == [], "the operator created nothing"
    assert hub.api.get("/api/v1/centers/other").status_code == 404

    hub.post("/api/v1/devices", DEVICE)
    with as_role(hub, "viewer") as viewer:
        listed = viewer.get("/api/v1/devices")
        assert listed.status_code == 200 and [d["id"] for d in listed.json()["items"]] == ["panel-7"]
        assert viewer.get("/api/v1/devices/panel-7").status_code == 200
        assert viewer.get("/api/v1/sites/shop-17").status_code == 200
        assert viewer.get("/api/v1/alarms").status_code == 200
        assert viewer.post("/api/v1/devices", json={**DEVICE, "id": "panel-8"}).status_code == 403
        assert viewer.patch("/api/v1/devices/panel-7", json={"test_mode": True}).status_code == 403
        assert viewer.delete("/api/v1/devices/panel-7").status_code == 403
        assert viewer.post("/api/v1/tokens", json={"role": "viewer", "name": "me"}).status_code == 403
    assert hub.api.get("/api/v1/devices/panel-7").json()["test_mode"] is False
    assert hub.api.get("/api/v1/devices/panel-8").status_code == 404

    with as_role(hub, "technician") as tech:
        assert tech.post("/api/v1/centers", json={**CENTER, "id": "c-tech"}).status_code == 201
        site = {**SITE, "id": "s-tech", "center_id": "c-tech"}
        assert tech.post("/api/v1/sites", json=site).status_code == 201
        device = {**DEVICE, "id": "d-tech", "site_id": "s-tech"}
        assert tech.post("/api/v1/devices", json=device).status_code == 201
        assert tech.patch("/api/v1/devices/d-tech", json={"supervision_s": 120}).status_code == 200
        assert tech.get("/api/v1/dead-letters").status_code == 200
        assert tech.get("/api/v1/unregistered").status_code == 200
        assert tech.post("/api/v1/tokens", json={"role": "admin", "name": "escalate"}).status_code == 403
        assert tech.post("/api/v1/tokens", json={"role": "technician", "name": "x"}).status_code == 403
        assert tech.delete("/api/v1/devices/d-tech").status_code == 204


# -- CRUD ------------------------------------------------------------------------------------------------

def test_crud_round_trip(hub: HubProcess) -> None:
    """Both backends: create, duplicate, read, list, partial update, referential delete rules."""
    api = hub.api
    created = api.post("/api/v1/centers", json=CENTER)
    assert created.status_code == 201
    assert created.json() == {**CENTER, "parent_id": None, "ack_deadline_s": 120}
    assert api.post("/api/v1/centers", json={**CENTER, "name": "again"}).status_code == 409
    child = {"id": "station-gulou", "name": "Gulou", "kind": "station", "parent_id": "110-city",
             "ack_deadline_s": 60}
    assert api.post("/api/v1/centers", json=child).json() == child
    assert api.get("/api/v1/centers/110-city").json() == created.json()
    assert api.get("/api/v1/centers/no-such-center").status_code == 404
    assert [c["id"] for c in api.get("/api/v1/centers").json()["items"]] == ["110-city", "station-gulou"]

    patched = api.patch("/api/v1/centers/110-city", json={"name": "Nanjing City 110"})
    assert patched.status_code == 200
    assert patched.json() == {**created.json(), "name": "Nanjing City 110"}
    assert api.get("/api/v1/centers/110-city").json()["name"] == "Nanjing City 110"

    site = api.post("/api/v1/sites", json={"id": "shop-1", "name": "Shop 1", "center_id": "110-city"})
    assert site.status_code == 201
    assert site.json() == {"id": "shop-1", "name": "Shop 1", "kind": "shop", "address": "", "lat": None,
                           "lon": None, "door_plate": "", "pole": "", "center_id": "110-city"}
    assert api.post("/api/v1/sites", json={"id": "shop-1", "name": "Shop 1"}).status_code == 409
    moved = api.patch("/api/v1/sites/shop-1", json={"lat": 32.05, "lon": 118.78})
    assert moved.json() == {**site.json(), "lat": 32.05, "lon": 118.78}

    device = api.post("/api/v1/devices", json={"id": "panel-1", "site_id": "shop-1"})
    assert device.status_code == 201
    assert device.json() == {"id": "panel-1", "site_id": "shop-1", "protocol": "mqtt", "account": None,
                             "has_key": False, "topic": None, "supervision_s": None, "test_mode": False,
                             "online": None, "last_seen_at": None, "uptime_24h": None, "uptime_7d": None}
    assert api.post("/api/v1/devices", json={"id": "panel-1", "site_id": "shop-1"}).status_code == 409
    tested = api.patch("/api/v1/devices/panel-1", json={"test_mode": True})
    assert tested.json() == {**device.json(), "test_mode": True}
    assert api.get("/api/v1/devices/panel-1").json() == tested.json()

    # A center or site still in use cannot go.
    assert api.delete("/api/v1/centers/110-city").status_code == 409   # site and child center
    assert api.delete("/api/v1/sites/shop-1").status_code == 409       # device
    assert api.get("/api/v1/sites/shop-1").status_code == 200

    assert api.delete("/api/v1/devices/panel-1").status_code == 204
    assert api.get("/api/v1/devices/panel-1").status_code == 404
    assert api.delete("/api/v1/devices/panel-1").status_code == 404
    assert api.patch("/api/v1/devices/panel-1", json={"test_mode": False}).status_code == 404
    assert api.delete("/api/v1/sites/shop-1").status_code == 204
    assert api.delete("/api/v1/centers/110-city").status_code == 409   # still the parent of the station
    assert api.delete("/api/v1/centers/station-gulou").status_code == 204
    assert api.delete("/api/v1/centers/110-city").status_code == 204
    for path in RESOURCE_PATHS:
        assert api.get(path).json() == {"items": [], "next": None}


@SQLITE
def test_patch_is_validated_as_the_whole_object(hub: HubProcess) -> None:
    api = hub.api
    setup_site(hub)
    hub.post("/api/v1/devices", DEVICE)
    def snapshot() -> list[Any]:
        return [api.get(f"/api/v1/{kind}/{body['id']}").json() for kind, body in BASES.items()]

    before = snapshot()

    # Non-nullable fields set to null.
    assert error_fields(api.patch("/api/v1/centers/110-city", json={"name": None})) == {"name"}
    assert error_fields(api.patch("/api/v1/centers/110-city", json={"kind": None})) == {"kind"}
    assert error_fields(api.patch("/api/v1/centers/110-city", json={"ack_deadline_s": None})) == \
        {"ack_deadline_s"}
    assert error_fields(api.patch("/api/v1/sites/shop-17", json={"address": None})) == {"address"}
    assert error_fields(api.patch("/api/v1/sites/shop-17", json={"name": None})) == {"name"}
    assert error_fields(api.patch("/api/v1/devices/panel-7", json={"site_id": None})) == {"site_id"}
    assert error_fields(api.patch("/api/v1/devices/panel-7", json={"test_mode": None})) == {"test_mode"}
    # Valid alone, invalid together with what is stored.
    assert api.patch("/api/v1/devices/panel-7", json={"protocol": "zigbee2mqtt"}).status_code == 422
    assert api.patch("/api/v1/devices/panel-7", json={"protocol": "sia"}).status_code == 422
    assert error_fields(api.patch("/api/v1/centers/110-city", json={"parent_id": "110-city"})) == \
        {"parent_id"}
    assert error_fields(api.patch("/api/v1/sites/shop-17", json={"center_id": "nowhere"})) == {"center_id"}
    assert error_fields(api.patch("/api/v1/devices/panel-7", json={"site_id": "nowhere"})) == {"site_id"}
    # No renaming, no unknown fields, no out-of-range values.
    assert error_fields(api.patch("/api/v1/sites/shop-17", json={"id": "shop-18"})) == {"id"}
    assert error_fields(api.patch("/api/v1/sites/shop-17", json={"colour": "red"})) == {"colour"}
    assert error_fields(api.patch("/api/v1/sites/shop-17", json={"lat": 90.5})) == {"lat"}
    assert snapshot() == before, "a refused PATCH changes nothing"

    # Nullable fields may be cleared.
    assert api.patch("/api/v1/sites/shop-17", json={"lat": None, "lon": None}).json()["lat"] is None
    assert api.patch("/api/v1/sites/shop-17", json={"center_id": None}).json()["center_id"] is None
    assert api.patch("/api/v1/devices/panel-7", json={"supervision_s": None}).json()["supervision_s"] is None
    # Making a device a zigbee2mqtt one works when the topic comes along.
    z = api.patch("/api/v1/devices/panel-7", json={"protocol": "zigbee2mqtt", "topic": "zigbee2mqtt/door"})
    assert z.status_code == 200
    assert (z.json()["protocol"], z.json()["topic"]) == ("zigbee2mqtt", "zigbee2mqtt/door")
    assert api.patch("/api/v1/devices/panel-7", json={"topic": None}).status_code == 422


@SQLITE
def test_invalid_fields_are_422_naming_the_field(hub: HubProcess) -> None:
    api = hub.api
    setup_site(hub)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("/api/v1/centers", {**CENTER, "id": "has space"}, "id"),
        ("/api/v1/centers", {**CENTER, "id": "-leading-dash"}, "id"),
        ("/api/v1/centers", {**CENTER, "id": "x" * 65}, "id"),
        ("/api/v1/centers", {**CENTER, "id": "中心"}, "id"),
        ("/api/v1/centers", {**CENTER, "id": "c/1"}, "id"),
        ("/api/v1/centers", {**CENTER, "id": "c2", "kind": "police"}, "kind"),
        ("/api/v1/centers", {**CENTER, "id": "c2", "ack_deadline_s": 5}, "ack_deadline_s"),
        ("/api/v1/centers", {**CENTER, "id": "c2", "parent_id": "unknown-center"}, "parent_id"),
        ("/api/v1/centers", {"id": "c2", "kind": "110"}, "name"),
        ("/api/v1/sites", {**SITE, "id": "s2", "center_id": "unknown-center"}, "center_id"),
        ("/api/v1/sites", {**SITE, "id": "s2", "lat": 90.01}, "lat"),
        ("/api/v1/sites", {**SITE, "id": "s2", "lat": -91}, "lat"),
        ("/api/v1/sites", {**SITE, "id": "s2", "lon": 180.5}, "lon"),
        ("/api/v1/sites", {**SITE, "id": "s2", "lat": "north"}, "lat"),
        ("/api/v1/sites", {**SITE, "id": "bad id!"}, "id"),
        ("/api/v1/devices", {**DEVICE, "site_id": "unknown-site"}, "site_id"),
        ("/api/v1/devices", {**DEVICE, "protocol": "modbus"}, "protocol"),
        ("/api/v1/devices", {**DEVICE, "protocol": "sia", "account": "12G4"}, "account"),
        ("/api/v1/devices", {**DEVICE, "protocol": "sia", "account": "12"}, "account"),
        ("/api/v1/devices", {**DEVICE, "supervision_s": 1}, "supervision_s"),
        ("/api/v1/devices", {**DEVICE, "protocol": "zigbee2mqtt", "topic": "zigbee2mqtt/#"}, "topic"),
        ("/api/v1/devices", {**DEVICE, "test_mode": "maybe"}, "test_mode"),
    ]
    bad_keys = ["0123456789abcde", "0123456789abcdef0", "x" * 20, "k" * 33, "0123456789abcdef0123456789abcde",
                "密钥密钥密钥密钥密钥密钥密钥密钥", "\x01" * 16]
    cases += [("/api/v1/devices", {**DEVICE, "protocol": "sia", "account": "1234", "key": key}, "key")
              for key in bad_keys]
    for path, body, field in cases:
        response = api.post(path, json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in error_fields(response), (body, response.json())
    for path in RESOURCE_PATHS[1:]:
        assert [x["id"] for x in api.get(path).json()["items"]] == ([] if path.endswith("devices")
                                                                     else ["shop-17"])


@SQLITE
def test_protocol_fields_are_422_naming_the_missing_field(hub: HubProcess) -> None:
    setup_site(hub)
    zigbee = hub.api.post("/api/v1/devices", json={**DEVICE, "protocol": "zigbee2mqtt"})
    assert "topic" in error_fields(zigbee)
    sia = hub.api.post("/api/v1/devices", json={**DEVICE, "protocol": "sia"})
    assert "account" in error_fields(sia)


@SQLITE
def test_aes_keys_are_accepted_in_every_form_and_never_returned(hub: HubProcess) -> None:
    setup_site(hub)
    keys = {"k-ascii16": "0123456789abcdef", "k-hex32": "00112233445566778899AABBCCDDEEFF",
            "k-ascii24": "abcdefghijklmnopqrstuvwx", "k-ascii32": "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
            "k-hex48": "00112233445566778899aabbccddeeff0011223344556677", "k-hex64": "ab" * 32}
    for i, (device, key) in enumerate(keys.items()):
        body = {"id": device, "site_id": "shop-17", "protocol": "sia", "account": f"10{i:02d}", "key": key}
        response = hub.api.post("/api/v1/devices", json=body)
        assert response.status_code == 201, response.text
        assert response.json()["has_key"] is True
        assert not keys_anywhere(response.json()) & {"key", "key_enc"}
        assert key not in response.text
    plain = hub.post("/api/v1/devices", {"id": "no-key", "site_id": "shop-17", "protocol": "sia",
                                         "account": "2000"})
    assert plain["has_key"] is False
    patched = hub.api.patch("/api/v1/devices/no-key", json={"key": "fedcba9876543210"})
    assert patched.status_code == 200 and patched.json()["has_key"] is True
    assert "fedcba9876543210" not in patched.text
    untouched = hub.api.patch("/api/v1/devices/k-ascii16", json={"test_mode": True})
    assert untouched.json()["has_key"] is True, "a PATCH without a key keeps the stored key"
    listing = hub.api.get("/api/v1/devices")
    assert len(listing.json()["items"]) == len(keys) + 1
    assert all(item["has_key"] is True for item in listing.json()["items"])
    assert not keys_anywhere(listing.json()) & {"key", "key_enc"}
    for device, key in [*keys.items(), ("no-key", "fedcba9876543210")]:
        single = hub.api.get(f"/api/v1/devices/{device}")
        assert key not in single.text and not keys_anywhere(single.json()) & {"key", "key_enc"}
        assert key not in listing.text


@SQLITE
def test_topics_and_accounts_belong_to_one_device(hub: HubProcess) -> None:
    api = hub.api
    setup_site(hub)
    hub.post("/api/v1/devices", {"id": "z-1", "site_id": "shop-17", "protocol": "zigbee2mqtt",
                                 "topic": "zigbee2mqtt/front_door"})
    hub.post("/api/v1/devices", {"id": "z-2", "site_id": "shop-17", "protocol": "zigbee2mqtt",
                                 "topic": "zigbee2mqtt/back_door"})
    clash = api.post("/api/v1/devices", json={"id": "z-3", "site_id": "shop-17", "protocol": "zigbee2mqtt",
                                              "topic": "zigbee2mqtt/front_door"})
    assert clash.status_code == 409, clash.text
    assert api.patch("/api/v1/devices/z-2", json={"topic": "zigbee2mqtt/front_door"}).status_code == 409
    assert api.get("/api/v1/devices/z-3").status_code == 404
    assert api.get("/api/v1/devices/z-2").json()["topic"] == "zigbee2mqtt/back_door"
    # Re-saving its own topic is not a clash.
    assert api.patch("/api/v1/devices/z-1", json={"topic": "zigbee2mqtt/front_door"}).status_code == 200

    hub.post("/api/v1/devices", {"id": "sia-1", "site_id": "shop-17", "protocol": "sia", "account": "1234"})
    again = api.post("/api/v1/devices", json={"id": "sia-2", "site_id": "shop-17", "protocol": "sia",
                                              "account": "1234"})
    assert again.status_code == 409


@SQLITE
def test_sia_accounts_are_unique_regardless_of_case(hub: HubProcess) -> None:
    setup_site(hub)
    hub.post("/api/v1/devices", {"id": "sia-1", "site_id": "shop-17", "protocol": "sia", "account": "ABC1"})
    twin = hub.api.post("/api/v1/devices", json={"id": "sia-2", "site_id": "shop-17", "protocol": "sia",
                                                 "account": "abc1"})
    assert twin.status_code == 409, twin.text


@SQLITE
def test_center_parents_cannot_form_a_cycle(hub: HubProcess) -> None:
    hub.post("/api/v1/centers", CENTER)
    hub.post("/api/v1/centers", {"id": "station-gulou", "name": "Gulou", "kind": "station",
                                 "parent_id": "110-city"})
    cycle = hub.api.patch("/api/v1/centers/110-city", json={"parent_id": "station-gulou"})
    assert "parent_id" in error_fields(cycle)


# -- pagination -------------------------------------------------------------------------------------

@SQLITE
def test_pagination_walks_every_item_once_and_refuses_garbage_cursors(hub: HubProcess) -> None:
    ids = [f"site-{i:02d}" for i in range(25)]
    for site_id in reversed(ids):
        hub.post("/api/v1/sites", {"id": site_id, "name": site_id})
    seen: list[str] = []
    sizes: list[int] = []
    cursor: str | None = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        page = hub.api.get("/api/v1/sites", params=params)
        assert page.status_code == 200, page.text
        seen += [item["id"] for item in page.json()["items"]]
        sizes.append(len(page.json()["items"]))
        cursor = page.json()["next"]
        if cursor is None:
            break
    assert seen == ids
    assert sizes == [10, 10, 5]
    exact = hub.api.get("/api/v1/sites", params={"limit": 25}).json()
    assert len(exact["items"]) == 25 and exact["next"] is None
    for limit in (0, -1, 1001, "ten"):
        assert "limit" in error_fields(hub.api.get("/api/v1/sites", params={"limit": limit}))
    # A cursor this API did not make.
    for path in LIST_PATHS:
        for garbage in ("zzzz", "_w", "x" * 201):
            response = hub.api.get(path, params={"cursor": garbage})
            assert "cursor" in error_fields(response), (path, garbage)


@SQLITE
def test_a_non_ascii_cursor_is_422_not_500(hub: HubProcess) -> None:
    for path in LIST_PATHS:
        with client(hub, issue_token(hub, "admin")) as c:
            response = c.get(path, params={"cursor": "é"})
            assert response.status_code == 422, (path, response.status_code)


@SQLITE
def test_a_cursor_outside_the_base64_alphabet_is_422(hub: HubProcess) -> None:
    for path in LIST_PATHS:
        response = hub.api.get(path, params={"cursor": "!!!"})
        assert response.status_code == 422, (path, response.text)


@SQLITE
def test_an_inspection_cursor_that_is_not_one_of_its_ids_is_422(hub: HubProcess) -> None:
    statuses = {}
    for path in ("/api/v1/dead-letters", "/api/v1/unregistered"):
        for value in ("shop-17", "\u00b2"):
            cursor = base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
            with client(hub, issue_token(hub, "admin")) as c:  # a fresh connection: a 500 may drop it
                statuses[(path, value)] = c.get(path, params={"cursor": cursor}).status_code
    assert set(statuses.values()) == {422}, statuses


# -- bodies that are not what they should be --------------------------------------------------------------

def _odd_values() -> list[Any]:
    return [None, "", "x" * 10_000, "é中文\u202e" * 2500, 0, -1, 2**63, 1.5, True, [], [1, "a", None], {},
            {"nested": {"deeper": [1, {"deepest": None}]}}, "' OR 1=1; --", "../../etc/passwd"]


@SQLITE
def test_never_a_500_for_odd_bodies(hub: HubProcess) -> None:
    """Bodies that are not JSON objects are 422; odd values in every field are never a 500."""
    setup_site(hub)
    hub.post("/api/v1/devices", DEVICE)
    not_objects: list[tuple[bytes, str]] = [
        (b'[{"id": "x"}]', "application/json"), (b'{"id": "x",', "application/json"),
        (b'"a string"', "application/json"), (b"42", "application/json"), (b"null", "application/json"),
        (b"", "application/json"), (b'{"id": "x", "name": "y"}', "text/plain"),
        (b"\xff\xfe\x00garbage", "application/json"),
    ]
    targets = [("POST", path) for path in [*RESOURCE_PATHS, "/api/v1/tokens"]] + \
        [("PATCH", "/api/v1/centers/110-city"), ("PATCH", "/api/v1/sites/shop-17"),
         ("PATCH", "/api/v1/devices/panel-7")]
    for method, path in targets:
        for content, content_type in not_objects:
            response = hub.api.request(method, path, content=content, headers={"content-type": content_type})
            assert response.status_code == 422, (method, path, content, response.status_code, response.text)
            assert isinstance(response.json()["detail"], list)

    fields = {"centers": ["id", "name", "kind", "parent_id", "ack_deadline_s"],
              "sites": ["id", "name", "kind", "address", "lat", "lon", "door_plate", "pole", "center_id"],
              "devices": ["id", "site_id", "protocol", "account", "key", "topic", "supervision_s",
                          "test_mode"],
              "tokens": ["role", "name"]}
    bases = {**BASES, "tokens": {"role": "viewer", "name": "sweep"}}
    failures: list[str] = []
    statuses: set[int] = set()
    counter = iter(range(10**6))

    def check(method: str, path: str, body: Any) -> None:
        try:
            status = hub.api.request(method, path, json=body).status_code
        except httpx.TransportError as exc:  # a 500 may close the connection under the next request
            failures.append(f"{method} {path} {str(body)[:80]}: {exc!r}")
            return
        statuses.add(status)
        if status >= 500:
            failures.append(f"{method} {path} {str(body)[:80]}: {status}")

    for resource, names in fields.items():
        path = f"/api/v1/{resource}"
        base = bases[resource]
        bodies: list[Any] = [{}, {name: None for name in names}, {name: "x" * 10_000 for name in names},
                             {name: {"nested": [{"deep": {"er": names}}]} for name in names},
                             {**base, "unknown": {"a": ["b" * 10_000]}}]
        for name in names:
            for value in _odd_values():
                bodies.append({**base, "id": f"sweep-{next(counter)}", name: value} if "id" in base
                              else {**base, name: value})
        for body in bodies:
            check("POST", path, body)
            if resource != "tokens":
                check("PATCH", f"{path}/{base['id']}", {k: v for k, v in body.items() if k != "id"})
    for path in LIST_PATHS:
        for params in ({"limit": "x" * 10_000}, {"cursor": "x" * 10_000}, {"state": "new" * 3000},
                       {"center_id": "x" * 10_000}, {"limit": "1e3"}, {"state": ",,"}):
            try:
                status = hub.api.get(path, params=params).status_code
            except httpx.TransportError as exc:
                failures.append(f"GET {path} {params}: {exc!r}")
                continue
            if status >= 500:
                failures.append(f"GET {path} {str(params)[:80]}: {status}")
    for path in [*RESOURCE_PATHS, "/api/v1/alarms"]:
        for item in ("x" * 10_000, "%2e%2e", "é中文", "a b"):
            status = hub.api.get(f"{path}/{item}").status_code
            if status >= 500:
                failures.append(f"GET {path}/{item[:40]}: {status}")
    assert failures == []
    assert 422 in statuses and 201 in statuses  # the sweep reached both the validator and the store
    assert hub.api.get("/healthz").json()["status"] == "ok"


@SQLITE
def test_never_a_500_for_values_json_cannot_echo(hub: HubProcess) -> None:
    hub.post("/api/v1/centers", CENTER)
    raw = [b'{"id": "s1", "name": "n", "lat": 1e400}', b'{"id": "s2", "name": "n", "lon": NaN}',
           b'{"id": "s3", "name": "n", "lat": -Infinity}', b'{"id": "s4", "name": "\\ud800"}',
           b'{"id": "\\udfff", "name": "n"}', b'{"id": "s5", "name": "n", "colour": "\\ud800"}']
    statuses = []
    for content in raw:
        with client(hub, issue_token(hub, "admin")) as c:  # a fresh connection for each: a 500 may drop it
            statuses.append(c.post("/api/v1/sites", content=content,
                                   headers={"content-type": "application/json"}).status_code)
    assert statuses == [422] * len(raw)


@POSTGRESQL
def test_never_a_500_for_nul_characters_on_postgresql(hub: HubProcess) -> None:
    hub.post("/api/v1/centers", CENTER)
    statuses = []
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/api/v1/sites", {"id": "s1", "name": "shop\u0000"}),
        ("POST", "/api/v1/sites", {"id": "s2", "name": "shop", "address": "a\u0000b"}),
        ("GET", "/api/v1/sites/s%00", None),
        ("GET", "/api/v1/alarms/a%00", None),
        ("GET", "/api/v1/alarms?center_id=%00", None),
    ]
    for method, path, body in requests:
        with client(hub, issue_token(hub, "admin")) as c:
            statuses.append(c.request(method, path, json=body).status_code)
    assert all(status < 500 for status in statuses), statuses


# -- alarms, dead letters, unregistered devices ------------------------------------------------------------

@SQLITE
def test_alarms_unknown_id_and_filters(hub: HubProcess, site_broker: Mosquitto, consumer: Consumer) -> None:
    hub.register(["a-live"], center="110-city")
    hub.register(["a-test"], center="110-city", test_mode=True)
    hub.register(["b-live"], center="station-gulou")
    with Fleet(site_broker.url, ["a-live", "a-test", "b-live"]) as fleet:
        for device in ("a-live", "a-test", "b-live"):
            fleet.publish_event(device, "burglary", zone="2")
    assert consumer.wait_count(2, timeout=15), consumer.report()

    def by_source(**params: str) -> list[str]:
        response = hub.api.get("/api/v1/alarms", params=params)
        assert response.status_code == 200, response.text
        return sorted(a["source"]["id"] for a in response.json()["items"])

    # Live alarms become `delivered` once the command-center broker confirms them; test alarms stay `new`.
    assert wait_until(lambda: by_source(state="delivered") == ["a-live", "b-live"]), by_source()
    assert by_source() == ["a-live", "a-test", "b-live"]
    assert by_source(state="new") == ["a-test"]
    assert by_source(state="new,delivered") == ["a-live", "a-test", "b-live"]
    assert by_source(state="closed") == []
    assert by_source(center_id="station-gulou") == ["b-live"]
    assert by_source(center_id="110-city") == ["a-live", "a-test"]
    assert by_source(center_id="110-city", state="delivered") == ["a-live"]
    assert by_source(center_id="nowhere") == []
    assert "state" in error_fields(hub.api.get("/api/v1/alarms", params={"state": "NEW;drop"}))

    items = hub.api.get("/api/v1/alarms").json()["items"]
    assert [a["alarm_id"] for a in items] == sorted((a["alarm_id"] for a in items), reverse=True)
    one = next(a for a in items if a["source"]["id"] == "b-live")
    detail = hub.api.get(f"/api/v1/alarms/{one['alarm_id']}")
    assert detail.status_code == 200
    assert detail.json()["center_id"] == "station-gulou" and detail.json()["state"] == "delivered"
    assert [(h["seq"], h["change"]) for h in detail.json()["history"]] == [(1, "new")]
    missing = hub.api.get("/api/v1/alarms/01JDZ0000000000000000000XX")
    assert missing.status_code == 404


@SQLITE
def test_dead_letters_and_unregistered_sightings_are_listed(hub: HubProcess, site_broker: Mosquitto) -> None:
    hub.register(["panel-1"])
    bad = [b"not json", b'{"event": "alien_invasion"}', b'{"event": "fire", "ts": "2026-11-29T03:00:00"}']
    ghost = b'{"event": "burglary", "zone": "1"}'
    with Fleet(site_broker.url, ["panel-1", "ghost-9"]) as fleet:
        for payload in bad:
            assert fleet.publish_raw("panel-1", "event", payload)
        assert fleet.publish_raw("ghost-9", "event", ghost)

    def page(path: str, **params: Any) -> dict[str, Any]:
        response = hub.api.get(path, params=params)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    assert wait_until(lambda: len(page("/api/v1/dead-letters")["items"]) == 3
                      and page("/api/v1/unregistered")["items"])
    letters = page("/api/v1/dead-letters")
    assert set(letters) == {"items", "next"} and letters["next"] is None
    items = letters["items"]
    # Newest first.
    assert [item["reason"] for item in items] == ["time_without_zone", "unknown_event", "not_json"]
    assert [base64.b64decode(item["raw"]) for item in items] == list(reversed(bad))
    assert {item["topic"] for item in items} == {"pingan/v1/devices/panel-1/event"}
    assert {item["source"] for item in items} == {"mqtt"}
    assert set(items[0]) == {"id", "at", "source", "topic", "reason", "detail", "raw"}

    first = page("/api/v1/dead-letters", limit=2)
    assert len(first["items"]) == 2 and first["next"] is not None
    rest = page("/api/v1/dead-letters", limit=2, cursor=first["next"])
    assert rest["next"] is None
    assert [i["id"] for i in first["items"] + rest["items"]] == [i["id"] for i in items]

    sightings = page("/api/v1/unregistered")
    assert sightings["next"] is None and len(sightings["items"]) == 1
    sighting = sightings["items"][0]
    assert (sighting["device_key"], sighting["topic"], sighting["source"]) == \
        ("ghost-9", "pingan/v1/devices/ghost-9/event", "mqtt")
    assert base64.b64decode(sighting["raw"]) == ghost
    assert hub.api.get("/api/v1/alarms").json()["items"] == []


@POSTGRESQL
def test_an_event_postgresql_cannot_store_does_not_stop_later_alarms(
        hub: HubProcess, site_broker: Mosquitto) -> None:
    hub.register(["panel-1", "panel-2"])
    with Fleet(site_broker.url, ["panel-1", "panel-2"]) as fleet:
        fleet.publish_event("panel-1", "burglary", text="back\u0000door")
        fleet.publish_event("panel-2", "fire")

    def fire_listed() -> bool:
        return any(a["category"] == "fire" for a in hub.api.get("/api/v1/alarms").json()["items"])

    try:
        assert wait_until(fire_listed, timeout=3)
    finally:
        if not fire_listed():
            hub.kill()  # a wedged pipeline would hold up a clean stop for its whole timeout

"""POST /api/v1/cameras/test: a technician tests a stream URL before registering it.

A real hub process and the camera simulator in this process: a working stream is described (codec,
size, rate, a decodable picture); a failing one gets the same reason a running camera would, and its
password never comes back, in the answer or in the hub's log.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np
import pytest

from tests.fixtures.cameras import CameraServer, CameraSpec, camera_server, free_port
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.servers import Mosquitto

PASSWORD = "Pr0be-S3cret"  # a test credential that must never leak
WRONG = "Wr0ng-Pa55word"
SIZE = {"width": 320, "height": 180, "fps": 5.0}
CAMERAS = [
    CameraSpec("walk", scene="walk", duration_s=20, **SIZE),
    CameraSpec("locked", scene="still", duration_s=20, user="admin", password=PASSWORD, **SIZE),
    CameraSpec("mpeg4", scene="still", mode="mpeg4", duration_s=20, **SIZE),
    CameraSpec("stalled", scene="still", duration_s=20, **SIZE),
]


@pytest.fixture(scope="module")
def cameras() -> Iterator[CameraServer]:
    with camera_server(CAMERAS) as server:
        yield server


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    workdir = tmp_path_factory.mktemp("probe")
    with Mosquitto(workdir / "broker") as broker:
        broker.start()
        process = HubProcess(workdir / "hub", database_url=f"sqlite:///{workdir}/hub.db", mqtt_url=broker.url)
        process.start()
        yield process
        process.close()


def probe_url(hub: HubProcess, url: str, token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.monotonic()
    response = hub.api.post("/api/v1/cameras/test", json={"url": url}, headers=headers)
    assert response.status_code == 200, response.text
    assert time.monotonic() - started < 15, "a stream test is bounded in time"
    result: dict[str, Any] = response.json()
    return result



def decoded(snapshot: str) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(base64.b64decode(snapshot), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "the snapshot is not a JPEG"
    return np.asarray(image)


def test_a_working_stream_is_described_with_a_picture(cameras: CameraServer, hub: HubProcess) -> None:
    found = probe_url(hub, cameras.url("walk"))
    assert (found["ok"], found["codec"], found["width"], found["height"], found["fps"]) == \
        (True, "h264", 320, 180, 5.0), found
    assert (found["reason"], found["detail"]) == (None, None)
    assert decoded(found["snapshot"]).shape == (180, 320, 3)


def test_the_right_password_works_and_is_never_shown(cameras: CameraServer, hub: HubProcess) -> None:
    response = hub.api.post("/api/v1/cameras/test", json={"url": cameras.url("locked", "admin", PASSWORD)})
    assert response.status_code == 200 and response.json()["ok"] is True, response.text
    assert PASSWORD not in response.text


@pytest.mark.parametrize(("case", "reason"), [("wrong path", "not_found"), ("refused port", "unreachable"),
                                              ("wrong password", "auth_refused"),
                                              ("no password", "auth_refused"),
                                              ("mpeg4", "unsupported_codec")])
def test_failures_say_why_without_the_password(cameras: CameraServer, hub: HubProcess, case: str,
                                                reason: str) -> None:
    url = {"wrong path": cameras.url("walk").replace("/walk", "/no-such-path"),
           "refused port": f"rtsp://admin:{PASSWORD}@127.0.0.1:{free_port()}/walk",
           "wrong password": cameras.url("locked", "admin", WRONG),
           "no password": cameras.url("locked"),
           "mpeg4": cameras.url("mpeg4")}[case]
    response = hub.api.post("/api/v1/cameras/test", json={"url": url})
    assert response.status_code == 200, response.text
    found = response.json()
    assert (found["ok"], found["reason"], found["snapshot"]) == (False, reason, None), found
    assert found["detail"], "a failure explains itself"
    assert PASSWORD not in response.text and WRONG not in response.text
    if case == "mpeg4":
        assert found["codec"] == "mpeg4"
    assert PASSWORD not in hub.log() and WRONG not in hub.log()


def test_a_silent_camera_times_out_in_bounded_time(cameras: CameraServer, hub: HubProcess) -> None:
    cameras.stall("stalled")
    try:
        started = time.monotonic()
        found = probe_url(hub, cameras.url("stalled"))
        took = time.monotonic() - started
    finally:
        cameras.resume("stalled")
    assert (found["ok"], found["reason"]) == (False, "timeout"), found
    assert 4.0 <= took < 12.0, f"answered after {took:.1f} s"


@pytest.mark.parametrize("body", [{"url": "http://127.0.0.1/stream"}, {"url": "rtsp://"}, {"url": ""},
                                  {"url": "rtsp://cam/a b"}, {"url": "rtsp://cam/\x00"}, {},
                                  {"url": "rtsp://cam/1", "extra": 1}, {"url": 5},
                                  {"url": "rtsp://cam/" + "a" * 1000}])
def test_a_bad_url_is_422(hub: HubProcess, body: dict[str, Any]) -> None:
    response = hub.api.post("/api/v1/cameras/test", json=body)
    assert response.status_code == 422, response.text


def test_only_technicians_and_admins_may_test(cameras: CameraServer, hub: HubProcess) -> None:
    url = {"url": cameras.url("walk")}
    tokens = {role: hub.post("/api/v1/tokens", {"role": role, "name": f"probe {role}"})["token"]
              for role in ("technician", "operator", "viewer")}
    assert probe_url(hub, cameras.url("walk"), tokens["technician"])["ok"] is True
    for role in ("operator", "viewer"):
        response = hub.api.post("/api/v1/cameras/test", json=url,
                                headers={"Authorization": f"Bearer {tokens[role]}"})
        assert response.status_code == 403, (role, response.text)
    assert hub.api.post("/api/v1/cameras/test", json=url, headers={"Authorization": ""}).status_code == 401


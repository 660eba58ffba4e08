"""Cameras end to end: the simulator's RTSP streams → the hub's camera workers → the 110 queue.

Real RTSP (simulators.camera in this process), a real hub process, real Mosquittos. Scenes are short
(320x180 at 5 fps) and the hub's camera timeouts small, so each test takes seconds, not minutes.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from simulators.consumer import Consumer, Received
from tests.fixtures.cameras import CameraServer, CameraSpec, camera_server, free_port
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.servers import Mosquitto
from tests.fixtures.waiting import wait

PASSWORD = "S3cret-Pa55"  # a test credential that must never leak
CENTER = "110-city"
SIZE = {"width": 320, "height": 180, "fps": 5.0}
CAMERAS = [
    CameraSpec("walk", scene="walk", duration_s=30, **SIZE),
    CameraSpec("walk-unarmed", scene="walk", duration_s=30, **SIZE),
    CameraSpec("still", scene="still", duration_s=20, **SIZE),
    CameraSpec("lights", scene="lights", duration_s=30, **SIZE),
    CameraSpec("foliage", scene="foliage", duration_s=30, **SIZE),
    CameraSpec("rain", scene="rain", duration_s=30, **SIZE),
    CameraSpec("shake", scene="shake", duration_s=30, **SIZE),
    CameraSpec("covered", scene="covered", duration_s=30, **SIZE),
    CameraSpec("frozen", scene="frozen", duration_s=30, **SIZE),
    CameraSpec("locked", scene="still", duration_s=20, user="admin", password=PASSWORD, **SIZE),
    CameraSpec("mpeg4", scene="still", mode="mpeg4", duration_s=20, **SIZE),
    CameraSpec("garbage", scene="still", mode="garbage", duration_s=20, **SIZE),
]


@pytest.fixture(scope="module")
def cameras() -> Iterator[CameraServer]:
    with camera_server(CAMERAS) as server:
        yield server


@pytest.fixture
def cam_hub(tmp_path: Path, site_broker: Mosquitto, cc_broker: Mosquitto) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path / "hub", database_url=f"sqlite:///{tmp_path}/hub.db",
                         mqtt_url=site_broker.url, cc_mqtt_url=cc_broker.url,
                         config={"cameras": {"stall_timeout_s": 3.0, "open_timeout_s": 3.0,
                                             "postroll_s": 3.0}})
    process.start()
    process.post("/api/v1/centers", {"id": CENTER, "name": "City 110", "kind": "110"})
    process.post("/api/v1/sites", {"id": "shop-1", "name": "Shop 1", "address": "1 Zhongshan Rd, Nanjing",
                                   "lat": 32.05, "lon": 118.78, "door_plate": "No. 1", "pole": "P-1",
                                   "center_id": CENTER})
    yield process
    process.close()


def add_camera(hub: HubProcess, camera_id: str, url: str, **fields: Any) -> dict[str, Any]:
    body = {"id": camera_id, "site_id": "shop-1", "name": f"Camera {camera_id}", "url": url, **fields}
    return hub.post("/api/v1/cameras", body)


def camera(hub: HubProcess, camera_id: str) -> dict[str, Any]:
    response = hub.api.get(f"/api/v1/cameras/{camera_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result



def alarms_of(consumer: Consumer, category: str, source: str) -> list[Received]:
    return [m for m in consumer.messages() if m.data and m.data.get("category") == category
            and m.data.get("source", {}).get("id") == source]


def test_armed_motion_is_an_alarm_with_snapshot_and_clip(cameras: CameraServer, cam_hub: HubProcess,
                                                         consumer: Consumer) -> None:
    add_camera(cam_hub, "cam-walk", cameras.url("walk"), armed=True)
    assert wait(lambda: alarms_of(consumer, "video_motion", "cam-walk"), 40), cam_hub.log()[-3000:]
    first = alarms_of(consumer, "video_motion", "cam-walk")[0].data
    assert first is not None
    assert (first["change"], first["priority"], first["site"]["id"], first["source"]["kind"]) == \
        ("new", 3, "shop-1", "camera")
    kinds = {e["kind"]: e["url"] for e in first["evidence"]}
    assert set(kinds) == {"snapshot", "clip"}
    assert kinds["snapshot"].startswith(cam_hub.base_url)
    snapshot = cam_hub.api.get(kinds["snapshot"])
    assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8", snapshot.text[:200]
    clip_url = kinds["clip"]
    clip = wait(lambda: (r := cam_hub.api.get(clip_url)).status_code == 200 and r, 30)
    assert clip, f"clip never became available: {cam_hub.api.get(clip_url).text}"
    with av.open(io.BytesIO(clip.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        packets = [p for p in container.demux(stream) if p.size]
        duration = float((packets[-1].pts - packets[0].pts) * stream.time_base)
        assert packets[0].is_keyframe
        assert duration >= 3.0, f"the clip covers {duration:.1f} s, less than the post-roll"
    # Viewers cannot fetch evidence without a token.
    assert httpx.get(clip_url).status_code == 401
    # The alarm names its site's cameras, for live view (operators cannot list cameras).
    detail = cam_hub.api.get(f"/api/v1/alarms/{first['alarm_id']}").json()
    assert {"id": "cam-walk", "name": "Camera cam-walk", "status": "online"} in detail["cameras"]


def test_unarmed_motion_is_logged_not_forwarded(cameras: CameraServer, cam_hub: HubProcess,
                                                consumer: Consumer) -> None:
    add_camera(cam_hub, "cam-unarmed", cameras.url("walk-unarmed"), armed=False)
    motion_seen = wait(lambda: cam_hub.metric("hub_camera_events_total", kind="motion") >= 1, 40)
    assert motion_seen, cam_hub.log()[-2000:]
    assert wait(lambda: cam_hub.metric("hub_signals_total", source="camera", result="accepted") >= 1, 10)
    time.sleep(1.0)
    assert alarms_of(consumer, "video_motion", "cam-unarmed") == []


def test_lights_foliage_rain_shake_and_a_still_scene_raise_nothing(cameras: CameraServer, cam_hub: HubProcess,
                                                                  consumer: Consumer) -> None:
    nuisances = ("lights", "foliage", "rain", "shake", "still")
    for scene in nuisances:
        add_camera(cam_hub, f"cam-{scene}", cameras.url(scene), armed=True)
    assert wait(lambda: all(camera(cam_hub, f"cam-{s}")["status"] == "online" for s in nuisances), 15)
    assert [t for t in cameras.truth("lights") if t[0] == "lights"], "the lights scene switches its lights"
    time.sleep(32)  # more than a whole loop of each scene (30 s)
    for scene in nuisances:
        assert camera(cam_hub, f"cam-{scene}")["status"] == "online"
    raised = [m.data for m in consumer.messages()
              if m.data and m.data["source"]["id"] in {f"cam-{s}" for s in nuisances}]
    assert raised == [], raised
    assert cam_hub.metric("hub_camera_events_total", kind="motion") == 0


@pytest.mark.parametrize("fault", ["restart", "stall"])
def test_video_loss_after_the_debounce_and_restore_when_the_stream_returns(
        cam_hub: HubProcess, consumer: Consumer, fault: str) -> None:
    """The server vanishes (connections closed, port refused) or the stream stalls (connection open,
    no data): offline, `video_loss` after offline_after_s, back by itself with the restore."""
    with camera_server([CameraSpec("cam", scene="still", duration_s=20, **SIZE)], port=free_port()) as server:
        add_camera(cam_hub, "cam-loss", server.url("cam"), offline_after_s=10)
        assert wait(lambda: camera(cam_hub, "cam-loss")["status"] == "online", 15)
        if fault == "restart":
            server.stop()
        else:
            server.stall("cam")
        assert wait(lambda: camera(cam_hub, "cam-loss")["status"] != "online", 10)
        offline = time.monotonic()
        assert camera(cam_hub, "cam-loss")["reason"] in (("ended", "unreachable") if fault == "restart"
                                                          else ("stalled", "timeout"))
        assert wait(lambda: alarms_of(consumer, "video_loss", "cam-loss"), 25), cam_hub.log()[-2000:]
        assert time.monotonic() - offline >= 9.5, "video_loss came before the debounce"
        loss = alarms_of(consumer, "video_loss", "cam-loss")[0].data
        assert loss is not None and loss["change"] == "new"
        assert cam_hub.metric("hub_camera_up", camera="cam-loss", site="shop-1") == 0.0
        if fault == "restart":
            server.start()
        else:
            server.resume("cam")
        returned = time.monotonic()
        restored = wait(lambda: any(m.data and m.data["change"] == "restored"
                                    for m in alarms_of(consumer, "video_loss", "cam-loss")), 25)
        assert restored, cam_hub.log()[-2000:]
        assert time.monotonic() - returned < 20, "the camera took over 20 s to recover"
        assert camera(cam_hub, "cam-loss")["status"] == "online"
        assert cam_hub.metric("hub_camera_up", camera="cam-loss", site="shop-1") == 1.0
        assert cam_hub.metric("hub_camera_reconnects_total", camera="cam-loss") >= 1
        # Uptime from the stored history: online for moments before the fault and since it came back,
        # offline for over the debounce in between: most of the camera's known time.
        uptime = camera(cam_hub, "cam-loss")["uptime_24h"]
        assert uptime is not None and 0 < uptime < 0.5, uptime
        assert camera(cam_hub, "cam-loss")["uptime_7d"] == pytest.approx(uptime, abs=0.05)


def test_a_resolution_change_mid_stream_keeps_the_camera_online(cam_hub: HubProcess) -> None:
    with camera_server([CameraSpec("resize", scene="walk", mode="resize", duration_s=10, **SIZE)],
                       port=free_port()) as server:
        add_camera(cam_hub, "cam-resize", server.url("resize"), armed=True)
        assert wait(lambda: camera(cam_hub, "cam-resize")["status"] == "online", 15)
        sizes = set()
        reported = set()
        deadline = time.monotonic() + 12  # more than a loop: both sizes are shown
        while time.monotonic() < deadline:
            read = camera(cam_hub, "cam-resize")
            reported.add((read["width"], read["height"]))
            shot = cam_hub.api.get("/api/v1/cameras/cam-resize/snapshot.jpg")
            if shot.status_code == 200:
                with av.open(io.BytesIO(shot.content)) as image:
                    frame = next(image.decode(video=0))
                    sizes.add((frame.width, frame.height))
            time.sleep(0.5)
        assert sizes == {(320, 180), (160, 90)}, sizes
        assert reported == sizes, "the camera's read shows the size now streamed"
        assert camera(cam_hub, "cam-resize")["status"] == "online"
        assert cam_hub.api.get("/healthz").status_code == 200


@pytest.mark.parametrize(("scene", "hold_s"), [("covered", 5.0), ("frozen", 10.0)])
def test_a_covered_lens_or_frozen_picture_is_a_tamper_alarm(cameras: CameraServer, cam_hub: HubProcess,
                                                            consumer: Consumer, scene: str,
                                                            hold_s: float) -> None:
    added = time.time()
    add_camera(cam_hub, f"cam-{scene}", cameras.url(scene))  # tamper alarms do not depend on arming
    assert wait(lambda: alarms_of(consumer, "tamper", f"cam-{scene}"), 70), cam_hub.log()[-2000:]
    tamper = alarms_of(consumer, "tamper", f"cam-{scene}")[0]
    assert tamper.data is not None and tamper.data["change"] == "new"
    assert tamper.data["evidence"][0]["kind"] == "snapshot"
    # It came while the condition was on screen, after it had been for its hold time (the hub sees it
    # from when it started watching), give or take a frame and the hub's own delay.
    span = [(begin, end) for kind, begin, end in cameras.truth(scene)
            if kind == scene and begin <= tamper.arrival <= end + 10]  # a loaded machine lags
    assert span, (tamper.arrival, cameras.truth(scene))
    seen_from = max(span[0][0], added)
    assert hold_s - 0.5 <= tamper.arrival - seen_from <= hold_s + 10, (tamper.arrival - seen_from, hold_s)


def test_password_never_shown(cameras: CameraServer, cam_hub: HubProcess) -> None:
    url = cameras.url("locked", "admin", PASSWORD)
    created = add_camera(cam_hub, "cam-locked", url)
    assert PASSWORD not in str(created) and created["url"].startswith("rtsp://admin@")
    assert wait(lambda: camera(cam_hub, "cam-locked")["status"] == "online", 15), \
        camera(cam_hub, "cam-locked")
    snapshot = cam_hub.api.get("/api/v1/cameras/cam-locked/snapshot.jpg")
    assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8"
    cam_hub.api.patch("/api/v1/cameras/cam-locked", json={"url": cameras.url("locked", "admin", "wrong")})
    assert wait(lambda: camera(cam_hub, "cam-locked")["reason"] == "auth_refused", 20), \
        camera(cam_hub, "cam-locked")
    seen = [cam_hub.api.get("/api/v1/cameras").text, cam_hub.api.get("/api/v1/cameras/cam-locked").text,
            cam_hub.api.get("/metrics").text, cam_hub.log(), cam_hub.api.get("/openapi.json").text]
    for text in seen:
        assert PASSWORD not in text and "wrong@" not in text


@pytest.mark.parametrize(("name", "reason"), [("mpeg4", "unsupported_codec"), ("garbage", "bad_stream"),
                                               ("nowhere", "not_found"), ("unreachable", "unreachable")])
def test_bad_streams_say_why_and_the_hub_stays_up(cameras: CameraServer, cam_hub: HubProcess, name: str,
                                                  reason: str) -> None:
    url = {"unreachable": f"rtsp://127.0.0.1:{free_port()}/x",
           "nowhere": f"rtsp://127.0.0.1:{cameras.port}/nowhere"}.get(name) or cameras.url(name)
    add_camera(cam_hub, f"cam-{name}", url)
    found = wait(lambda: camera(cam_hub, f"cam-{name}")["reason"] == reason, 20)
    assert found, camera(cam_hub, f"cam-{name}")
    assert camera(cam_hub, f"cam-{name}")["status"] in ("offline", "connecting")
    assert cam_hub.api.get("/healthz").status_code == 200


def test_camera_validation(cam_hub: HubProcess) -> None:
    bad = [{"url": "http://cam/1"}, {"url": "rtsp://"}, {"armed": "sometimes"},
           {"schedule": [{"days": [7], "start": "08:00", "end": "18:00"}]},
           {"offline_after_s": 5}, {"motion": {"threshold": 0}}, {"site_id": "no-such-site"}]
    for fields in bad:
        body = {"id": "cam-x", "site_id": "shop-1", "name": "x", "url": "rtsp://127.0.0.1/x", **fields}
        response = cam_hub.api.post("/api/v1/cameras", json=body)
        assert response.status_code == 422, (fields, response.text)

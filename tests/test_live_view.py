"""Live view over WebRTC: the camera's H.264, through the hub (aiortc, passed through), into Chromium.

End to end: the simulator's RTSP camera, a real hub process (started through the loopback launcher, so
that aioice offers 127.0.0.1), and headless Chromium playing the answer's track in a <video>. In
process: `hub.cameras.live.LiveView` against a Python aiortc peer, for the limits (session lifetime,
viewers per hub), bad offers, a camera that goes away and the hub's shutdown.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aioice.ice
import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from playwright.sync_api import Browser, Page

from hub.cameras.live import (
    BadOffer,
    Limits,
    LiveUnavailable,
    LiveView,
    parameter_sets_added,
    with_parameter_sets,
)
from tests.fixtures.browser import new_page
from tests.fixtures.cameras import CameraServer, CameraSpec, camera_server, free_port
from tests.fixtures.hubproc import ADMIN_TOKEN, LOOPBACK_HUB, HubProcess
from tests.fixtures.servers import Mosquitto
from tests.fixtures.waiting import wait

PASSWORD = "L1ve-S3cret"  # a test credential that must never leak
CENTER, SITE = "110-city", "shop-1"
CAMERAS = [
    CameraSpec("walk", scene="walk", width=320, height=180, fps=10.0, duration_s=20),
    CameraSpec("locked", scene="still", width=320, height=180, fps=5.0, duration_s=20, user="admin",
               password=PASSWORD),
    CameraSpec("mpeg4", scene="still", mode="mpeg4", width=320, height=180, fps=5.0, duration_s=20),
]

# Runs in the page: a recvonly peer connection (video, or `kind`), the offer posted once ICE gathering is
# complete, the answer's track in a new <video>. Returns the answer's SDP, or the HTTP status and body.
WATCH_JS = """
async ({url, token, kind}) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver(kind, {direction: 'recvonly'});
  const video = document.createElement('video');
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.appendChild(video);
  const state = {pc, video, callbacks: 0};
  pc.ontrack = (event) => { video.srcObject = new MediaStream([event.track]); };
  const count = () => { state.callbacks += 1; video.requestVideoFrameCallback(count); };
  video.requestVideoFrameCallback(count);
  await pc.setLocalDescription(await pc.createOffer());
  if (pc.iceGatheringState !== 'complete') {
    await new Promise((done) => pc.addEventListener('icegatheringstatechange',
      () => pc.iceGatheringState === 'complete' && done()));
  }
  const response = await fetch(url, {method: 'POST', body: JSON.stringify(
      {type: 'offer', sdp: pc.localDescription.sdp}),
    headers: {'Content-Type': 'application/json', 'Authorization': 'Bearer ' + token}});
  if (!response.ok) { pc.close(); return {status: response.status, body: await response.text()}; }
  const answer = await response.json();
  await pc.setRemoteDescription(answer);
  (window.viewers = window.viewers || []).push(state);
  return {status: response.status, sdp: answer.sdp, viewer: window.viewers.length - 1};
}
"""

# The state of viewer `i`: picture size, frames decoded (getStats), frame callbacks, codec received.
VIEWER_JS = """
async (i) => {
  const {pc, video, callbacks} = window.viewers[i];
  const stats = await pc.getStats();
  let decoded = 0, codec = null;
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      decoded = s.framesDecoded || 0;
      const c = s.codecId && stats.get(s.codecId);
      codec = c ? c.mimeType : null;
    }
  });
  return {width: video.videoWidth, height: video.videoHeight, time: video.currentTime, decoded, callbacks,
          codec, state: pc.connectionState};
}
"""


# -- end to end: simulator → hub process → Chromium -----------------------------------------------------


@pytest.fixture(scope="module")
def cameras() -> Iterator[CameraServer]:
    with camera_server(CAMERAS) as server:
        yield server


def start_hub(workdir: Path, broker: Mosquitto, cameras: dict[str, str], disabled: tuple[str, ...] = ()
              ) -> HubProcess:
    """A hub process whose WebRTC offers 127.0.0.1, with a site and these cameras (id → URL)."""
    process = HubProcess(workdir / "hub", database_url=f"sqlite:///{workdir}/hub.db", mqtt_url=broker.url,
                         launcher=LOOPBACK_HUB)
    process.start()
    process.post("/api/v1/centers", {"id": CENTER, "name": "City 110", "kind": "110"})
    process.post("/api/v1/sites", {"id": SITE, "name": "Shop 1", "address": "1 Zhongshan Rd, Nanjing",
                                   "lat": 32.05, "lon": 118.78, "door_plate": "No. 1", "pole": "P-1",
                                   "center_id": CENTER})
    for camera_id, url in cameras.items():
        process.post("/api/v1/cameras", {"id": camera_id, "site_id": SITE, "name": camera_id, "url": url,
                                         "enabled": camera_id not in disabled})
    return process


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, cameras: CameraServer) -> Iterator[HubProcess]:
    workdir = tmp_path_factory.mktemp("live")
    with Mosquitto(workdir / "broker") as broker:
        broker.start()
        process = start_hub(workdir, broker, {
            "cam-walk": cameras.url("walk"), "cam-locked": cameras.url("locked", "admin", PASSWORD),
            "cam-off": cameras.url("walk"), "cam-gone": f"rtsp://admin:{PASSWORD}@127.0.0.1:{free_port()}/x",
            "cam-mpeg4": cameras.url("mpeg4")}, disabled=("cam-off",))
        yield process
        process.close()


def webrtc_url(hub: HubProcess, camera_id: str) -> str:
    return f"{hub.base_url}/api/v1/cameras/{camera_id}/webrtc"



def watch(page: Page, hub: HubProcess, camera_id: str, token: str = ADMIN_TOKEN, kind: str = "video"
          ) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(WATCH_JS, {"url": webrtc_url(hub, camera_id), "token": token,
                                                      "kind": kind})
    return result


def viewer(page: Page, index: int) -> dict[str, Any]:
    state: dict[str, Any] = page.evaluate(VIEWER_JS, index)
    return state


def answer_codecs(sdp: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^a=rtpmap:\d+ ([\w-]+)/", sdp, re.M)}


def test_chromium_plays_the_camera_passed_through_as_h264(browser: Browser, hub: HubProcess) -> None:
    opened, closed, left = (lambda: hub.log().count("camera cam-walk: streaming from"),
                            lambda: hub.log().count("camera cam-walk: stream closed"),
                            lambda: hub.log().count("camera cam-walk: viewer left"))
    before = (opened(), closed(), left())
    page = new_page(browser, 640, 480)
    try:
        page.goto(hub.base_url + "/healthz")
        first = watch(page, hub, "cam-walk")
        assert first["status"] == 200, first
        assert answer_codecs(first["sdp"]) == {"H264", "rtx"}, "pass-through: the answer offers H.264 only"
        assert "a=candidate:" in first["sdp"] and "a=sendonly" in first["sdp"]
        playing = wait(lambda: (v := viewer(page, 0))["width"] > 0 and v["decoded"] > 0 and v, 20)
        assert playing, f"no picture: {viewer(page, 0)}\n{hub.log()[-3000:]}"
        assert (playing["width"], playing["height"]) == (320, 180)
        assert playing["codec"] == "video/H264", playing
        time.sleep(2.0)
        later = viewer(page, 0)
        assert later["decoded"] >= playing["decoded"] + 10, (playing, later)  # 10 fps: ~20 in 2 s
        assert later["callbacks"] > playing["callbacks"] and later["time"] > playing["time"], (playing, later)

        # A second viewer of the same camera shares the hub's one connection to it.
        second = watch(page, hub, "cam-walk")
        assert second["status"] == 200, second
        assert wait(lambda: viewer(page, 1)["decoded"] > 0, 20), viewer(page, 1)
        assert opened() == before[0] + 1
        assert viewer(page, 0)["state"] == "connected"
        assert (hub.metric("hub_live_sessions"), hub.metric("hub_live_feeds")) == (2, 1)

        # The camera's connection closes with its last viewer, not before.
        page.evaluate("window.viewers[0].pc.close()")
        assert wait(lambda: left() == before[2] + 1, 15), hub.log()[-2000:]
        time.sleep(0.5)
        assert closed() == before[1], "closed with a viewer left"
        page.evaluate("window.viewers[1].pc.close()")
        assert wait(lambda: closed() == before[1] + 1, 15), hub.log()[-2000:]
        assert (hub.metric("hub_live_sessions"), hub.metric("hub_live_feeds")) == (0, 0)
    finally:
        page.context.close()


def test_a_camera_with_a_password_plays_and_its_password_stays_secret(browser: Browser,
                                                                      hub: HubProcess) -> None:
    page = new_page(browser, 640, 480)
    viewer_token = hub.post("/api/v1/tokens", {"role": "viewer", "name": "wall screen"})["token"]
    try:
        page.goto(hub.base_url + "/healthz")
        answered = watch(page, hub, "cam-locked", viewer_token)  # any role may watch
        assert answered["status"] == 200, answered
        assert PASSWORD not in answered["sdp"]
        assert wait(lambda: viewer(page, 0)["width"] == 320, 20), viewer(page, 0)
        page.evaluate("window.viewers[0].pc.close()")
    finally:
        page.context.close()
    assert PASSWORD not in hub.log()


def test_webrtc_errors(browser: Browser, hub: HubProcess) -> None:
    offer = {"type": "offer", "sdp": "v=0\r\n"}
    assert hub.api.post("/api/v1/cameras/cam-walk/webrtc", json=offer, headers={"Authorization": ""}
                        ).status_code == 401
    assert hub.api.post("/api/v1/cameras/cam-walk/webrtc", json=offer,
                        headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert hub.api.post("/api/v1/cameras/no-such-camera/webrtc", json=offer).status_code == 404
    for body in ({"type": "answer", "sdp": "v=0"}, {"type": "offer"}, {"type": "offer", "sdp": ""},
                 {"type": "offer", "sdp": "x" * 100_001}, {"type": "offer", "sdp": "v=0", "more": 1}, [],
                 {"type": "offer", "sdp": "not SDP at all"}, {"type": "offer", "sdp": "v=0\x00"}):
        response = hub.api.post("/api/v1/cameras/cam-walk/webrtc", json=body)
        assert response.status_code == 422, (body if len(str(body)) < 100 else "long", response.text)
    disabled = hub.api.post("/api/v1/cameras/cam-off/webrtc", json=offer)
    assert disabled.status_code == 503 and "disabled" in disabled.text, disabled.text

    page = new_page(browser, 640, 480)
    try:
        page.goto(hub.base_url + "/healthz")
        gone = watch(page, hub, "cam-gone")  # a real offer; nothing listens where the camera should be
        assert gone["status"] == 503 and "unreachable" in gone["body"] and PASSWORD not in gone["body"], gone
        mpeg4 = watch(page, hub, "cam-mpeg4")
        assert mpeg4["status"] == 503 and "unsupported_codec" in mpeg4["body"], mpeg4
        audio_only = watch(page, hub, "cam-walk", kind="audio")
        assert audio_only["status"] == 422 and "no video" in audio_only["body"], audio_only
    finally:
        page.context.close()
    assert PASSWORD not in hub.log()
    assert wait(lambda: hub.log().count("cam-walk: stream closed") == hub.log().count(
        "live view of camera cam-walk: streaming from"), 15), "a refused offer leaves no stream open"


def test_stopping_the_hub_hangs_up_its_viewers(browser: Browser, cameras: CameraServer,
                                               tmp_path: Path) -> None:
    with Mosquitto(tmp_path / "broker") as broker:
        broker.start()
        process = start_hub(tmp_path, broker, {"cam-walk": cameras.url("walk")})
        page = new_page(browser, 640, 480)
        try:
            page.goto(process.base_url + "/healthz")
            assert watch(page, process, "cam-walk")["status"] == 200
            assert wait(lambda: viewer(page, 0)["decoded"] > 0, 20), viewer(page, 0)
            started = time.monotonic()
            assert process.stop() == 0
            assert time.monotonic() - started < 15, "stopping waited for the viewer"
            log = process.log()
            assert "viewer left after" in log and "(the hub stops)" in log, log[-2000:]
            assert "live view of camera cam-walk: stream closed" in log
            assert "Traceback" not in log, log[-3000:]
        finally:
            page.context.close()
            process.close()


# -- in process: LiveView against a Python aiortc peer --------------------------------------------------


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


class Peer:
    """A browser stand-in: a recvonly video peer that decodes what it receives."""

    def __init__(self, codecs: tuple[str, ...] = ("video/H264",), kind: str = "video") -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        transceiver = self.pc.addTransceiver(kind, direction="recvonly")
        if kind == "video":
            transceiver.setCodecPreferences([c for c in RTCRtpReceiver.getCapabilities("video").codecs
                                             if c.mimeType in codecs])
        self.frames: list[tuple[int, int]] = []
        self.ended = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self.pc.on("track", self._track)

    def _track(self, track: MediaStreamTrack) -> None:
        self._reader = asyncio.ensure_future(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                self.ended.set()
                return
            assert isinstance(frame, av.VideoFrame)
            self.frames.append((frame.width, frame.height))

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


async def until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return condition()


def run(coroutine: Any) -> Any:
    """Run a scenario on an event loop of its own, in a thread: Playwright's sync API (the session's
    browser) keeps a loop running in the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coroutine, 60)).result()


def test_lifetime_cap_hangs_up_and_closes_the_stream(loopback: None, cameras: CameraServer) -> None:
    async def scenario() -> None:
        live = LiveView(Limits(max_session_s=3.0))
        peer = Peer()
        try:
            await peer.accept(await live.answer("cam", cameras.url("walk"), await peer.offer()))
            assert await until(lambda: len(peer.frames) > 5, 15), "no frames decoded"
            assert peer.frames[-1] == (320, 180)
            assert (live.sessions, live.feeds) == (1, 1)
            assert await until(lambda: live.sessions == 0 and live.feeds == 0, 10), "not hung up"
            assert await until(peer.ended.is_set, 10), "the peer's track did not end"
        finally:
            await peer.close()
            await live.aclose()

    run(scenario())


def test_viewers_per_hub_are_capped_and_shutdown_hangs_up_everyone(loopback: None,
                                                                   cameras: CameraServer) -> None:
    async def scenario() -> None:
        live = LiveView(Limits(max_sessions=2))
        peers = [Peer(), Peer(), Peer()]
        try:
            for peer in peers[:2]:
                await peer.accept(await live.answer("cam", cameras.url("walk"), await peer.offer()))
            with pytest.raises(LiveUnavailable) as refused:
                await live.answer("cam", cameras.url("walk"), await peers[2].offer())
            assert refused.value.reason == "busy"
            assert (live.sessions, live.feeds) == (2, 1)  # one camera connection for both
            assert await until(lambda: all(len(p.frames) > 2 for p in peers[:2]), 15)
            await live.aclose()
            assert (live.sessions, live.feeds) == (0, 0)
            with pytest.raises(LiveUnavailable):
                await live.answer("cam", cameras.url("walk"), await peers[2].offer())
        finally:
            for peer in peers:
                await peer.close()
            await live.aclose()

    run(scenario())


def test_offers_that_cannot_be_answered(loopback: None, cameras: CameraServer) -> None:
    async def scenario() -> None:
        live = LiveView()
        vp8_only, audio, plain = Peer(codecs=("video/VP8",)), Peer(kind="audio"), Peer()
        try:
            with pytest.raises(BadOffer, match=r"H\.264"):
                await live.answer("cam", cameras.url("walk"), await vp8_only.offer())
            with pytest.raises(BadOffer, match="no video"):
                await live.answer("cam", cameras.url("walk"), await audio.offer())
            with pytest.raises(BadOffer):
                await live.answer("cam", cameras.url("walk"), "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nm=video\r\n")
            assert await until(lambda: live.feeds == 0, 10), "a refused offer leaves no stream open"
            with pytest.raises(LiveUnavailable) as refused:
                await live.answer("cam", cameras.url("locked", "admin", "wrong"), await plain.offer())
            assert refused.value.reason == "auth_refused" and "wrong" not in str(refused.value)
            assert live.sessions == 0
        finally:
            for peer in (vp8_only, audio, plain):
                await peer.close()
            await live.aclose()

    run(scenario())


def test_a_camera_that_goes_away_ends_its_viewers(loopback: None) -> None:
    async def scenario(server: CameraServer) -> None:
        live = LiveView()
        peer = Peer()
        try:
            await peer.accept(await live.answer("cam", server.url("walk"), await peer.offer()))
            assert await until(lambda: len(peer.frames) > 2, 15)
            await asyncio.to_thread(server.stop)
            assert await until(lambda: live.sessions == 0 and live.feeds == 0, 15), "viewer kept"
        finally:
            await peer.close()
            await live.aclose()

    with camera_server(CAMERAS[:1]) as server:
        run(scenario(server))


def test_parameter_sets_are_put_before_a_keyframe_without_them() -> None:
    sps_pps = b"\x00\x00\x00\x01\x67\x42\xc0\x1e" + b"\x00\x00\x00\x01\x68\xce\x3c\x80"
    idr = b"\x00\x00\x00\x01\x65\x88\x84\x00"
    assert parameter_sets_added(idr, sps_pps) == sps_pps + idr
    assert parameter_sets_added(sps_pps + idr, sps_pps) is None  # in band already
    assert parameter_sets_added(idr, None) is None and parameter_sets_added(idr, b"\x01\x42avcC") is None
    bare = av.Packet(idr)
    bare.is_keyframe = True
    assert with_parameter_sets(bare) is bare  # not demuxed: no stream to take them from

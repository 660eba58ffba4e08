"""The RTSP camera driver against the camera simulator on 127.0.0.1: opening, frames, failures and
their reasons, supervision (stall, server restart), latest-wins drops, clips and snapshots."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from pydantic import SecretStr, ValidationError

from drivers.rtsp_camera import (
    CameraFailure,
    CameraStatus,
    CameraStream,
    Quality,
    Reason,
    Settings,
    State,
    redact,
    snapshot_jpeg,
)
from drivers.rtsp_camera.status import grade
from tests.fixtures.cameras import CameraServer, CameraSpec, camera_server

PASSWORD = "Pa55-w0rd!xyz"
OPEN = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32"}
CAMERAS = [
    CameraSpec("walk5", "walk", 640, 360, 5.0, duration_s=10),
    CameraSpec("walk25", "walk", 640, 360, 25.0, duration_s=10),
    CameraSpec("locked", "still", 320, 180, 5.0, user="admin", password=PASSWORD, duration_s=10),
    CameraSpec("mpeg4", "still", 320, 180, 5.0, mode="mpeg4", duration_s=10),
    CameraSpec("garbage", "still", 320, 180, 5.0, mode="garbage", duration_s=10),
    CameraSpec("resize", "walk", 320, 180, 5.0, mode="resize", duration_s=4),
    CameraSpec("stalling", "still", 320, 180, 5.0, duration_s=10),
    CameraSpec("hung", "still", 320, 180, 5.0, duration_s=10),
]


@pytest.fixture(scope="module")
def server() -> Iterator[CameraServer]:
    with camera_server(CAMERAS) as started:
        yield started


class Recorder:
    """Every status the driver reported through `on_status`, with a wait for a condition."""

    def __init__(self) -> None:
        self.seen: list[CameraStatus] = []
        self._changed = threading.Condition()

    def __call__(self, status: CameraStatus) -> None:
        with self._changed:
            self.seen.append(status)
            self._changed.notify_all()

    def wait(self, check: Callable[[CameraStatus], bool], timeout: float) -> CameraStatus:
        with self._changed:
            found = self._changed.wait_for(lambda: next((s for s in self.seen if check(s)), None), timeout)
        assert found is not None, f"no such status within {timeout} s; seen: {self.states()}"
        return found

    def states(self) -> list[tuple[str, str | None]]:
        return [(s.state.value, s.reason.value if s.reason else None) for s in self.seen]


def settings(url: str, **overrides: float) -> Settings:
    fast = {"open_timeout_s": 2.0, "read_timeout_s": 2.0, "stall_timeout_s": 2.0,
            "backoff_initial_s": 0.2, "backoff_max_s": 1.0}
    return Settings(url=SecretStr(url), **{**fast, **overrides})


@pytest.fixture
def run() -> Iterator[Callable[..., tuple[CameraStream, Recorder]]]:
    """Start a CameraStream (stopped at the end of the test) with a status recorder."""
    streams: list[CameraStream] = []

    def start(url: str, **overrides: float) -> tuple[CameraStream, Recorder]:
        recorder = Recorder()
        stream = CameraStream(settings(url, **overrides))
        stream.on_status = recorder
        streams.append(stream)
        stream.start()
        return stream, recorder

    yield start
    for stream in streams:
        stream.stop()


def failure_of(server: CameraServer, url: str, run: Callable[..., tuple[CameraStream, Recorder]],
               timeout: float = 10.0) -> tuple[CameraStream, CameraStatus]:
    stream, recorder = run(url)
    return stream, recorder.wait(lambda s: s.state == State.OFFLINE, timeout)


# -- opening and frames ------------------------------------------------------------------------------


def test_opens_fast_and_frames_come_at_the_stream_rate_in_gray_of_the_right_size(
        server: CameraServer, run: Callable[..., tuple[CameraStream, Recorder]]) -> None:
    started = time.monotonic()
    stream, recorder = run(server.url("walk5"))
    first = stream.latest(timeout=5)
    opened_s = time.monotonic() - started
    assert first is not None
    assert opened_s < 2.0, f"first frame after {opened_s:.2f} s"
    assert first.gray.dtype == np.uint8 and first.gray.shape == (360, 640)
    assert (first.width, first.height) == (640, 360)
    assert not first.gray.flags.writeable
    frames = [first]
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:
        frame = stream.latest(timeout=1)
        if frame is not None:
            frames.append(frame)
    # A new viewer gets the frames since the last keyframe at once (up to a second's worth): the rate
    # is that of the frames after that catch-up.
    steady = [f for f in frames if f.wall >= frames[0].wall + 1.0]
    rate = (len(steady) - 1) / (steady[-1].wall - steady[0].wall)
    assert 4.0 <= rate <= 6.0, f"{rate:.2f} frames/s from a 5 fps camera"
    assert [f.seq for f in frames] == list(range(frames[0].seq, frames[0].seq + len(frames)))
    steps = np.diff([f.t for f in frames])
    assert np.allclose(steps, 0.2, atol=0.01), steps
    status = stream.status()
    assert status.state == State.ONLINE and status.reason is None
    assert (status.width, status.height, status.nominal_fps) == (640, 360, 5.0)
    # Latest wins: the frames of the catch-up burst handed over before the first `latest()` were
    # replaced (first.seq - 1 of them); after that, a consumer that keeps up loses none.
    assert status.frames_dropped == first.seq - 1 and status.reconnects_1h == 0
    assert recorder.states() == [("online", None)]


def test_snapshot_is_the_latest_picture_in_colour_and_the_jpeg_shows_the_boxes(
        server: CameraServer, run: Callable[..., tuple[CameraStream, Recorder]]) -> None:
    stream, _ = run(server.url("walk5"))
    assert stream.latest(timeout=5) is not None
    bgr = stream.snapshot()
    assert bgr is not None and bgr.shape == (360, 640, 3) and bgr.dtype == np.uint8
    before = bgr.copy()
    jpeg = snapshot_jpeg(bgr, [(100, 50, 200, 100)])
    assert bgr.tobytes() == before.tobytes(), "the boxes go on a copy"
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (360, 640, 3)
    b, g, r = (int(v) for v in image[50, 200])  # top edge of the box: red (JPEG halves its chroma)
    assert r > g + 80 and r > b + 80, (b, g, r)
    b, g, r = (int(v) for v in image[100, 200])  # inside the box: the scene's gray
    assert abs(r - g) < 30 and abs(r - b) < 30, (b, g, r)
    assert np.abs(image[200:300, 400:600].astype(int) - before[200:300, 400:600]).mean() < 10


def test_analysis_rate_limit_hands_over_fewer_frames_than_decoded(
        server: CameraServer, run: Callable[..., tuple[CameraStream, Recorder]]) -> None:
    stream, _ = run(server.url("walk25"), analysis_fps=5.0)
    assert stream.latest(timeout=5) is not None
    got = []
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        frame = stream.latest(timeout=1)
        if frame is not None:
            got.append(frame)
    steps = np.diff([f.t for f in got])
    assert len(got) >= 8 and np.all(steps >= 0.17), steps
    assert 0.18 <= float(np.mean(steps)) <= 0.22, steps
    status = stream.status()
    handed = len(got) + 1 + status.frames_dropped  # the first frame, then what was taken or replaced
    assert status.frames_decoded >= 40 and status.frames_decoded >= 3 * handed, (status, handed)


def test_a_slow_consumer_gets_the_latest_frame_and_every_replaced_frame_counts_as_dropped(
        server: CameraServer, run: Callable[..., tuple[CameraStream, Recorder]]) -> None:
    stream, _ = run(server.url("walk25"))
    taken = [stream.latest(timeout=5)]
    for _ in range(4):
        time.sleep(0.8)  # 20 frames at 25 fps: room for a busy machine to decode at least 8 of them
        taken.append(stream.latest(timeout=1))
    stream.stop()
    leftover = stream.latest(timeout=0)
    received = [f for f in [*taken, leftover] if f is not None]
    status = stream.status()
    assert status.frames_dropped >= 30
    assert status.frames_decoded == len(received) + status.frames_dropped
    gaps = np.diff([f.seq for f in taken if f is not None])
    assert np.all(gaps >= 8), f"each take is the newest frame, not the oldest: {gaps}"


def test_a_resolution_change_mid_stream_gives_frames_of_the_new_size(
        server: CameraServer, run: Callable[..., tuple[CameraStream, Recorder]]) -> None:
    stream, _ = run(server.url("resize"))
    sizes: set[tuple[int, int]] = set()
    deadline = time.monotonic() + 6.0
    while time.monotonic() < deadline and len(sizes) < 2:
        frame = stream.latest(timeout=1)
        if frame is not None:
            sizes.add(frame.gray.shape)
            assert frame.gray.shape == (frame.height, frame.width)
    assert sizes == {(180, 320), (90, 160)}
    assert stream.status().state == State.ONLINE


# -- failures and their reasons ------------------------------------------------------------------------


def test_an_unreachable_camera_is_offline_and_retried_with_growing_backoff(
        run: Callable[..., tuple[CameraStream, Recorder]]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stream, recorder = run(f"rtsp://127.0.0.1:{port}/cam", backoff_initial_s=0.1, backoff_max_s=0.4)
    recorder.wait(lambda s: s.reconnects_total >= 4, 5.0)
    offline = [s for s in recorder.seen if s.state == State.OFFLINE]
    assert {s.reason for s in offline} == {Reason.UNREACHABLE}
    waits = [b.since - a.since for a, b in pairwise(recorder.seen)
             if (a.state, b.state) == (State.OFFLINE, State.CONNECTING)]
    expected = [0.1, 0.2, 0.4, 0.4]  # doubling, capped at backoff_max_s, plus up to 10 % jitter
    assert all(e <= w < e * 1.1 + 0.05 for w, e in zip(waits, expected, strict=False)), waits
    assert stream.status().quality == Quality.POOR


def test_a_wrong_path_is_not_found(server: CameraServer,
                                   run: Callable[..., tuple[CameraStream, Recorder]]) -> None:
    _, status = failure_of(server, server.url("walk5").replace("/walk5", "/no-such-camera"), run)
    assert status.reason == Reason.NOT_FOUND


def test_wrong_credentials_are_refused_and_the_password_shows_nowhere(
        server: CameraServer, run: Callable[..., tuple[CameraStream, Recorder]],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Wr0ng-secret-77"
    stream, status = failure_of(server, server.url("locked", "admin", wrong), run)
    assert status.reason == Reason.AUTH_REFUSED
    _, anonymous = failure_of(server, server.url("locked"), run)
    assert anonymous.reason == Reason.AUTH_REFUSED
    good, _ = run(server.url("locked", "admin", PASSWORD))
    assert good.latest(timeout=5) is not None, "the right credentials open the stream"
    texts = [repr(stream), str(stream.settings), repr(stream.settings), repr(status), repr(good),
             repr(good.settings), stream.settings.safe_url, good.settings.safe_url]
    texts += [record.getMessage() for record in caplog.records]
    texts += [str(record.exc_info[1]) for record in caplog.records if record.exc_info]
    assert any("auth_refused" in record.getMessage() for record in caplog.records)
    for secret in (wrong, PASSWORD):
        assert not [t for t in texts if secret in t]
    assert "admin:***@" in stream.settings.safe_url


def test_a_stream_that_is_not_h264_is_unsupported(server: CameraServer,
                                                  run: Callable[..., tuple[CameraStream, Recorder]]) -> None:
    _, status = failure_of(server, server.url("mpeg4"), run)
    assert status.reason == Reason.UNSUPPORTED_CODEC


def test_a_camera_that_never_answers_times_out(server: CameraServer,
                                              run: Callable[..., tuple[CameraStream, Recorder]]) -> None:
    server.stall("hung")  # the connection is accepted, the RTSP requests are never answered
    try:
        started = time.time()
        _, status = failure_of(server, server.url("hung"), run)
        assert status.reason == Reason.TIMEOUT
        assert 1.9 <= status.since - started < 3.5, "after the open timeout of 2 s"
    finally:
        server.resume("hung")


def test_garbage_is_a_bad_stream_and_the_driver_keeps_trying(
        server: CameraServer, run: Callable[..., tuple[CameraStream, Recorder]]) -> None:
    stream, recorder = run(server.url("garbage"))
    recorder.wait(lambda s: s.state == State.OFFLINE, 10.0)
    recorder.wait(lambda s: s.reconnects_total >= 2 and s.state == State.OFFLINE, 10.0)
    assert {s.reason for s in recorder.seen if s.state == State.OFFLINE} == {Reason.BAD_STREAM}
    assert stream.status().frames_decoded == 0


def test_a_stalled_camera_goes_offline_as_stalled_then_comes_back(
        server: CameraServer, run: Callable[..., tuple[CameraStream, Recorder]]) -> None:
    stream, recorder = run(server.url("stalling"), stall_timeout_s=1.0, read_timeout_s=5.0)
    before = stream.latest(timeout=5)
    assert before is not None
    server.stall("stalling")
    try:
        stalled_at = time.time()
        offline = recorder.wait(lambda s: s.state == State.OFFLINE, 5.0)
        assert offline.reason == Reason.STALLED
        assert offline.since - stalled_at < 2.5, "the stall timeout, not the read timeout, decides"
        assert offline.stalls_1h == 1
    finally:
        server.resume("stalling")
    back = recorder.wait(lambda s: s.state == State.ONLINE and s.since > offline.since, 15.0)
    assert back.reconnects_1h >= 1 and back.quality != Quality.GOOD
    after = stream.latest(timeout=2)
    assert after is not None and after.seq > before.seq
    # The new session's pts start again near 0; the stream time continues over the outage instead.
    assert after.t - before.t >= 0.8 * (after.wall - before.wall) - 1.0


def test_the_camera_recovers_by_itself_when_the_server_returns() -> None:
    with camera_server([CameraSpec("cam", "still", 320, 180, 5.0, duration_s=10)]) as server:
        recorder = Recorder()
        stream = CameraStream(settings(server.url("cam")))
        stream.on_status = recorder
        stream.start()
        try:
            assert stream.latest(timeout=5) is not None
            server.stop()
            offline = recorder.wait(lambda s: s.state == State.OFFLINE, 5.0)
            assert offline.reason in (Reason.ENDED, Reason.STALLED)
            recorder.wait(lambda s: s.reason == Reason.UNREACHABLE, 5.0)
            time.sleep(1.5)
            server.start()
            returned = time.time()
            online = recorder.wait(lambda s: s.state == State.ONLINE and s.since > returned, 20.0)
            assert online.since - returned < 20.0
            assert stream.latest(timeout=2) is not None
        finally:
            stream.stop()


# -- clips ----------------------------------------------------------------------------------------------


def nal_units(data: bytes, avcc: bool) -> list[bytes]:
    """The NAL units of one access unit, from Annex B (start codes) or AVCC (4-byte lengths, MP4)."""
    if avcc:
        units, offset = [], 0
        while offset < len(data):
            size = int.from_bytes(data[offset:offset + 4], "big")
            units.append(data[offset + 4:offset + 4 + size])
            offset += 4 + size
        return units
    parts = data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01")
    return [part.rstrip(b"\x00") for part in parts if part]


def test_a_clip_covers_its_window_from_a_keyframe_with_the_cameras_own_packets(
        server: CameraServer, run: Callable[..., tuple[CameraStream, Recorder]], tmp_path: Path) -> None:
    reference: list[bytes] = []  # the same stream read by bare PyAV, for comparison
    source = av.open(server.url("walk5"), options=OPEN, timeout=(5, 5))
    written = threading.Event()

    def read_reference() -> None:
        for packet in source.demux(video=0):
            if packet.size:
                reference.append(bytes(packet))
            if written.is_set():
                return

    reader = threading.Thread(target=read_reference)
    reader.start()
    stream, _ = run(server.url("walk5"), preroll_s=2.0)
    assert stream.latest(timeout=5) is not None
    time.sleep(2.5)
    t0 = time.time()
    future = stream.clip(t0 - 2.0, t0 + 1.0, tmp_path / "clips" / "event.mp4")
    assert not future.done(), "the post-roll has not arrived yet"
    path = future.result(timeout=5)
    assert time.time() >= t0 + 1.0
    written.set()
    reader.join(timeout=15)
    source.close()

    with av.open(str(path)) as clip:
        video = clip.streams.video[0]
        assert (video.codec_context.name, video.codec_context.width, video.codec_context.height) == (
            "h264", 640, 360)
        packets = [p for p in clip.demux(video) if p.size]
        duration = float(clip.duration or 0) / av.time_base
    with av.open(str(path)) as clip:
        assert sum(1 for _ in clip.decode(video=0)) == len(packets), "every packet decodes"
    assert packets[0].is_keyframe
    assert duration >= 3.0, f"{duration:.2f} s for a 3 s window"
    assert duration <= 3.0 + 1.0 + 0.4, "at most one group of pictures before the window"
    units = [nal_units(bytes(p), avcc=True) for p in packets]
    wanted = [nal_units(data, avcc=False) for data in reference]
    start = wanted.index(units[0])
    assert wanted[start:start + len(units)] == units, "the clip holds the camera's packets, not re-encoded"
    assert len(units) >= 15


def test_a_clip_of_the_past_is_written_at_once_and_one_without_a_stream_fails(
        server: CameraServer, run: Callable[..., tuple[CameraStream, Recorder]], tmp_path: Path) -> None:
    idle = CameraStream(settings(server.url("walk5")))
    with pytest.raises(CameraFailure, match="ended"):
        idle.clip(time.time() - 1, time.time(), tmp_path / "none.mp4").result(timeout=5)
    stream, _ = run(server.url("walk5"))
    assert stream.latest(timeout=5) is not None
    time.sleep(2.5)
    now = time.time()
    path = stream.clip(now - 2.0, now - 1.0, tmp_path / "past.mp4").result(timeout=2)
    with av.open(str(path)) as clip:
        packets = [p for p in clip.demux(video=0) if p.size]
    assert packets[0].is_keyframe and 5 <= len(packets) <= 12


# -- settings --------------------------------------------------------------------------------------------


def test_settings_keep_the_password_secret_and_bound_their_values() -> None:
    s = Settings(url=SecretStr(f"rtsp://admin:{PASSWORD}@127.0.0.7:554/Streaming/101"))
    assert PASSWORD not in repr(s) and PASSWORD not in str(s) and PASSWORD not in s.model_dump_json()
    assert s.safe_url == "rtsp://admin:***@127.0.0.7:554/Streaming/101"
    assert s.password == PASSWORD
    assert (s.open_timeout_s, s.read_timeout_s, s.stall_timeout_s, s.preroll_s) == (5.0, 5.0, 10.0, 5.0)
    for bad in ({"backoff_max_s": 61}, {"backoff_initial_s": 10, "backoff_max_s": 5}, {"preroll_s": -1},
                {"analysis_fps": 0}, {"color": "red"}):
        with pytest.raises(ValidationError):
            Settings(url=SecretStr("rtsp://cam/1"), **bad)
    with pytest.raises(ValidationError, match="rtsp://") as error:
        Settings(url=SecretStr(f"http://admin:{PASSWORD}@cam/1"))
    assert PASSWORD not in str(error.value)


def test_redact_hides_credentials_in_ffmpeg_messages() -> None:
    message = f"[Errno 1] Server returned 401: 'rtsp://admin:{PASSWORD}@127.0.0.7/x' (also {PASSWORD})"
    cleaned = redact(message, PASSWORD)
    assert PASSWORD not in cleaned and "rtsp://admin:***@127.0.0.7/x" in cleaned
    assert redact("rtsp://127.0.0.7/x") == "rtsp://127.0.0.7/x"


def test_the_quality_grade_follows_reconnects_stalls_fps_and_drops() -> None:
    def graded(**changes: object) -> Quality:
        base: dict[str, object] = {"state": State.ONLINE, "fps": 5.0, "nominal_fps": 5.0, "fps_valid": True,
                                   "reconnects_1h": 0, "stalls_1h": 0, "handed": 1000, "dropped": 0}
        return grade(**{**base, **changes})  # type: ignore[arg-type]

    assert graded() == Quality.GOOD
    assert graded(state=State.OFFLINE) == graded(state=State.CONNECTING) == Quality.POOR
    assert graded(reconnects_1h=1) == graded(stalls_1h=1) == graded(fps=4.0) == Quality.FAIR
    assert graded(dropped=20) == Quality.FAIR
    assert graded(reconnects_1h=3) == graded(stalls_1h=2) == graded(fps=2.0) == Quality.POOR
    assert graded(dropped=200) == Quality.POOR
    assert graded(fps=2.0, fps_valid=False) == graded(fps=2.0, nominal_fps=None) == Quality.GOOD
    assert graded(dropped=20, handed=30) == Quality.GOOD, "too few frames to judge drops"

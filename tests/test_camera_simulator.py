"""The camera simulator: real RTSP clients (ffprobe, OpenCV, PyAV) against the real server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator

import av
import numpy as np
import pytest

from simulators.camera import CameraSpec, SceneSpec, render_scene
from tests.fixtures.cameras import CameraServer, camera_server

FFPROBE = "/usr/bin/ffprobe"
AV_OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32"}
SMALL = {"width": 320, "height": 180, "fps": 5.0, "duration_s": 6.0}


@pytest.fixture(scope="module")
def server() -> Iterator[CameraServer]:
    cameras = [
        CameraSpec("walk", "walk", **SMALL),
        CameraSpec("still", "still", **SMALL),
        CameraSpec("locked", "still", user="admin", password="s3cret:/x", **SMALL),
        CameraSpec("big", "walk", 640, 360, 5.0, duration_s=4.0),
    ]
    with camera_server(cameras) as running:
        yield running


def read_frames(url: str, count: int, timeout: tuple[float, float] = (5, 5)) -> list[av.VideoFrame]:
    frames = []
    with av.open(url, options=AV_OPTIONS, timeout=timeout) as container:
        for frame in container.decode(video=0):
            frames.append(frame)
            if len(frames) == count:
                break
    return frames


def ffprobe(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FFPROBE, "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,profile,width,height", "-of", "json", url],
        capture_output=True, text=True, timeout=20, check=False,
    )


def test_ffprobe_reads_h264_baseline(server: CameraServer) -> None:
    result = ffprobe(server.url("big"))
    assert result.returncode == 0, result.stderr
    stream = json.loads(result.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 640, 360)
    assert "Baseline" in stream["profile"]


def test_pyav_decodes_at_once(server: CameraServer) -> None:
    started = time.monotonic()
    frames = read_frames(server.url("walk"), 3)
    assert [(f.width, f.height) for f in frames] == [(320, 180)] * 3
    assert time.monotonic() - started < 2.0, "a new PLAY must start at a keyframe"


def test_opencv_reads_frames(server: CameraServer, monkeypatch: pytest.MonkeyPatch) -> None:
    cv2 = pytest.importorskip("cv2")
    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
    capture = cv2.VideoCapture(server.url("big"), cv2.CAP_FFMPEG)
    try:
        assert capture.isOpened()
        shapes = []
        for _ in range(3):
            ok, image = capture.read()
            assert ok
            shapes.append(image.shape)
    finally:
        capture.release()
    assert shapes == [(360, 640, 3)] * 3


def test_unknown_path_is_404(server: CameraServer) -> None:
    result = ffprobe(server.url("walk").replace("/walk", "/nope"))
    assert result.returncode != 0
    assert "404" in result.stderr


def test_credentials(server: CameraServer) -> None:
    wrong = ffprobe(server.url("locked", "admin", "wrong"))
    assert wrong.returncode != 0 and "401" in wrong.stderr
    missing = ffprobe(server.url("locked"))
    assert missing.returncode != 0 and "401" in missing.stderr
    frames = read_frames(server.url("locked", "admin", "s3cret:/x"), 2)
    assert [(f.width, f.height) for f in frames] == [(320, 180)] * 2


def test_stall_times_out_the_reader_and_resume_serves_again(server: CameraServer) -> None:
    with av.open(server.url("still"), options=AV_OPTIONS, timeout=(5, 2)) as container:
        frames = container.decode(video=0)
        next(frames)
        server.stall("still")
        try:
            started = time.monotonic()
            with pytest.raises((av.FFmpegError, OSError)):
                for _ in range(50):
                    next(frames)
            assert 1.0 < time.monotonic() - started < 8.0
        finally:
            server.resume("still")
    assert len(read_frames(server.url("still"), 2)) == 2


def test_stop_and_start_on_the_same_port(server: CameraServer) -> None:
    port = server.port
    with av.open(server.url("walk"), options=AV_OPTIONS, timeout=(5, 5)) as container:
        frames = container.decode(video=0)
        next(frames)
        server.stop()
        try:
            ended = sum(1 for _ in zip(range(50), frames, strict=False))
            assert ended < 50, "the stream must end when the server vanishes"
            assert ffprobe(server.url("walk")).returncode != 0
        finally:
            server.start()
    assert server.port == port
    assert len(read_frames(server.url("walk"), 2)) == 2


def test_walk_truth_matches_rendered_frames() -> None:
    spec = SceneSpec("walk", 320, 180, 5.0, 30.0, seed=3)
    scene = render_scene(spec)
    objects = [t for t in scene.truth if t.kind == "object"]
    assert len(objects) == 3
    background = scene.frames[0].astype(np.int16)
    assert not any(t.start_s < 0 < t.end_s for t in objects), "frame 0 must be empty to serve as background"
    for index, frame in enumerate(scene.frames):
        t = spec.time_of(index)
        changed = np.abs(frame.astype(np.int16) - background) > 30
        inside = any(o.start_s + 0.2 < t < o.end_s - 0.2 for o in objects)
        outside = all(t <= o.start_s or t >= o.end_s for o in objects)
        if inside:
            assert changed.mean() > 0.01, f"object expected at {t:.1f} s"
        elif outside:
            assert changed.mean() < 0.001, f"nothing expected at {t:.1f} s"


def test_truth_is_in_epoch_seconds(server: CameraServer) -> None:
    truth = server.truth("walk")
    assert truth and all(kind == "object" for kind, _, _ in truth)
    assert all(start < end for _, start, end in truth)
    assert truth[0][1] >= server.epoch
    loops_so_far = int((time.time() - server.epoch) // 6.0) + 1
    assert len(truth) == loops_so_far * len(render_scene(SceneSpec("walk", 320, 180, 5.0, 6.0)).truth)


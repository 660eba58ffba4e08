"""The camera simulator: real RTSP clients (ffprobe, OpenCV, PyAV) against the real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import av
import numpy as np
import pytest

from simulators.camera import CameraSpec, SceneSpec, render_scene, scene_names
from simulators.camera.encode import load_stream
from tests.fixtures.cameras import CameraServer, CameraServerProcess, camera_server

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



# --- a minimal RTSP client of our own: checks the wire format and costs no decoding --------------


class RawReader:
    """DESCRIBE/SETUP/PLAY over one TCP connection, then counts RTP packets and frames (marker bit)."""

    def __init__(self, url: str, authorization: str | None = None) -> None:
        self.url = url
        self.authorization = authorization
        self.frames = 0
        self.packets: list[tuple[int, int, bool]] = []  # (seq, timestamp, marker)
        self.sdp = ""

    async def request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str,
                      url: str, cseq: int, extra: str = "") -> tuple[int, dict[str, str], bytes]:
        auth = f"Authorization: {self.authorization}\r\n" if self.authorization else ""
        writer.write(f"{method} {url} RTSP/1.0\r\nCSeq: {cseq}\r\n{auth}{extra}\r\n".encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        lines = head.split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return int(lines[0].split()[1]), headers, body

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
        parts = urlsplit(self.url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        accept = "Accept: application/sdp\r\n"
        status, _, body = await self.request(reader, writer, "DESCRIBE", self.url, 1, accept)
        self.sdp = body.decode()
        return reader, writer, status

    async def play(self, seconds: float) -> None:
        reader, writer, status = await self.open()
        assert status == 200
        track = self.url + "/trackID=0"
        status, headers, _ = await self.request(reader, writer, "SETUP", track, 2,
                                                "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
        assert status == 200
        session = headers["session"].split(";")[0]
        status, _, _ = await self.request(reader, writer, "PLAY", self.url, 3, f"Session: {session}\r\n")
        assert status == 200
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                header = await asyncio.wait_for(reader.readexactly(4), deadline - time.monotonic())
                assert header[:1] == b"$" and header[1] == 0
                packet = await reader.readexactly(int.from_bytes(header[2:4], "big"))
                seq, timestamp = int.from_bytes(packet[2:4], "big"), int.from_bytes(packet[4:8], "big")
                marker = bool(packet[1] & 0x80)
                self.packets.append((seq, timestamp, marker))
                self.frames += marker
        except TimeoutError:
            pass
        finally:
            writer.close()
            await writer.wait_closed()


def test_rtp_numbering_is_continuous(server: CameraServer) -> None:
    client = RawReader(server.url("walk"))
    asyncio.run(client.play(2.0))
    assert "packetization-mode=1" in client.sdp and "sprop-parameter-sets=" in client.sdp
    seqs = [seq for seq, _, _ in client.packets]
    assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(len(seqs))]
    stamps = [ts for _, ts, marker in client.packets if marker]
    assert all((b - a) == 90_000 // 5 for a, b in itertools.pairwise(stamps))
    assert client.frames >= 10  # the GOP burst then about 5 per second


def test_timeline_keeps_counting_across_loops(server: CameraServer) -> None:
    camera = server._cameras["walk"]
    frames = len(camera.replay)
    for index in (frames - 1, 2 * frames - 1):
        (seq_a, ts_a), (seq_b, ts_b) = camera.rtp_position(index), camera.rtp_position(index + 1)
        assert seq_b == (seq_a + len(camera.replay.payloads[index % frames])) & 0xFFFF
        assert ts_b - ts_a == 90_000 // 5
    assert camera.replay.keyframes[0], "a loop starts at a keyframe"


def test_basic_and_digest_answers(server: CameraServer) -> None:
    url = server.url("locked")

    async def describe(authorization: str | None) -> int:
        client = RawReader(url, authorization)
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        status, _, _ = await client.request(reader, writer, "DESCRIBE", url, 1)
        writer.close()
        await writer.wait_closed()
        return status

    good = "Basic " + base64.b64encode(b"admin:s3cret:/x").decode()
    bad = "Basic " + base64.b64encode(b"admin:nope").decode()
    assert asyncio.run(describe(None)) == 401
    assert asyncio.run(describe(bad)) == 401
    assert asyncio.run(describe(good)) == 200
    nonce = asyncio.run(_digest_nonce(url))

    def digest(password: str) -> str:
        ha1 = hashlib.md5(f"admin:pingan-camera:{password}".encode()).hexdigest()
        ha2 = hashlib.md5(f"DESCRIBE:{url}".encode()).hexdigest()
        response = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
        return (f'Digest username="admin", realm="pingan-camera", nonce="{nonce}", uri="{url}", '
                f'response="{response}"')

    assert asyncio.run(describe(digest("s3cret:/x"))) == 200
    assert asyncio.run(describe(digest("wrong"))) == 401


async def _digest_nonce(url: str) -> str:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
    head = (await reader.readuntil(b"\r\n\r\n")).decode()
    writer.close()
    await writer.wait_closed()
    offers = [line for line in head.split("\r\n") if line.lower().startswith("www-authenticate:")]
    assert any("Basic" in line for line in offers)
    (digest_offer,) = [line for line in offers if "Digest" in line]
    return digest_offer.split('nonce="')[1].split('"')[0]


# --- faults and codecs that a driver must report ---------------------------------------------------


@pytest.fixture(scope="module")
def odd_server() -> Iterator[CameraServer]:
    small = {"width": 320, "height": 180, "fps": 5.0, "duration_s": 4.0}
    cameras = [
        CameraSpec("garbage", "still", mode="garbage", **small),
        CameraSpec("mpeg4", "still", mode="mpeg4", **small),
        CameraSpec("resize", "walk", mode="resize", **small),
        CameraSpec("clip", "clip-wallflower_wavingtrees"),
    ]
    with camera_server(cameras) as running:
        yield running


def test_garbage_camera_yields_no_frames(odd_server: CameraServer) -> None:
    # FFmpeg either ends the stream quietly or gives up on the read timeout: never a frame
    try:
        frames = read_frames(odd_server.url("garbage"), 3, timeout=(5, 2))
    except av.FFmpegError:
        frames = []
    assert frames == []


def test_mpeg4_camera_is_not_h264(odd_server: CameraServer) -> None:
    result = ffprobe(odd_server.url("mpeg4"))
    assert result.returncode == 0, result.stderr
    stream = json.loads(result.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("mpeg4", 320, 180)


def test_resize_camera_changes_resolution(odd_server: CameraServer) -> None:
    sizes = {(f.width, f.height) for f in read_frames(odd_server.url("resize"), 14)}
    assert sizes == {(320, 180), (160, 90)}


def test_clip_camera_plays_natively_with_its_truth(odd_server: CameraServer) -> None:
    frames = read_frames(odd_server.url("clip"), 2)
    assert [(f.width, f.height) for f in frames] == [(160, 120)] * 2
    kind, start, end = odd_server.truth("clip")[0]
    assert kind == "object"
    assert start - odd_server.epoch == pytest.approx(242 / 4)
    assert end - odd_server.epoch == pytest.approx(287 / 4)


def test_encoded_once_with_truth_beside_it(tmp_path: Path) -> None:
    spec = SceneSpec("walk", 320, 180, 5.0, 4.0, seed=2)
    stream = load_stream(spec, cache_dir=tmp_path)
    (folder,) = tmp_path.iterdir()
    truth = json.loads((folder / "truth.json").read_text())
    assert truth == [{"kind": t.kind, "start_s": t.start_s, "end_s": t.end_s} for t in stream.truth]
    assert [f.keyframe for f in stream.frames] == [i % 5 == 0 for i in range(20)]
    mtime = (folder / "stream.bin").stat().st_mtime_ns
    assert load_stream(spec, cache_dir=tmp_path).frames == stream.frames
    assert (folder / "stream.bin").stat().st_mtime_ns == mtime, "a cached scene is not encoded again"


# --- cost ---------------------------------------------------------------------------------------


def process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_fifty_cameras_cost_the_server_little() -> None:
    cameras, window_s = 50, 6.0
    with CameraServerProcess(cameras=cameras, scene="walk", size="640x360", fps=5, duration_s=10) as sim:
        readers = [RawReader(url) for url in sim.urls]

        async def watch() -> float:
            tasks = [asyncio.create_task(r.play(window_s + 2.0)) for r in readers]
            await asyncio.sleep(1.5)  # everybody connected and past the keyframe burst
            before = process_cpu_s(sim.pid)
            await asyncio.sleep(window_s)
            used = process_cpu_s(sim.pid) - before
            await asyncio.gather(*tasks)
            return used

        used = asyncio.run(watch())
    assert sim.returncode == 0, "SIGTERM stops the simulator cleanly"
    share = used / window_s
    print(f"\n{cameras} cameras 640x360 at 5 fps, one reader each: server CPU {share:.1%} of one core")
    assert all(r.frames >= 5 * window_s * 0.9 for r in readers), sorted(r.frames for r in readers)[:5]
    assert share < 0.30


# --- scenes without a server ------------------------------------------------------------------------


@pytest.mark.parametrize("name", scene_names())
def test_scenes_are_deterministic(name: str) -> None:
    spec = SceneSpec(name, 96, 64, 5.0, 4.0, seed=7)
    first, second = render_scene(spec), render_scene(spec)
    assert len(first.frames) == 20 and first.frames[0].shape == (64, 96)
    assert all(np.array_equal(a, b) for a, b in zip(first.frames, second.frames, strict=True))
    assert first.truth == second.truth
    assert all(t.kind == name or (name, t.kind) == ("walk", "object") for t in first.truth)


def _means(name: str) -> tuple[list[float], list[float], tuple[float, float]]:
    spec = SceneSpec(name, 96, 64, 5.0, 10.0)
    scene = render_scene(spec)
    (truth,) = scene.truth
    during = [truth.start_s <= spec.time_of(i) < truth.end_s for i in range(len(scene.frames))]
    inside = [float(f.mean()) for f, hit in zip(scene.frames, during, strict=True) if hit]
    outside = [float(f.mean()) for f, hit in zip(scene.frames, during, strict=True) if not hit]
    return inside, outside, (truth.start_s, truth.end_s)


def test_lights_covered_frozen_daylight_follow_their_truth() -> None:
    dark, lit, span = _means("lights")
    assert span == (3.0, 7.0) and max(dark) < 0.5 * min(lit)
    covered, _, _ = _means("covered")
    assert max(covered) < 20
    spec = SceneSpec("frozen", 96, 64, 5.0, 10.0)
    scene = render_scene(spec)
    start = round(scene.truth[0].start_s * spec.fps)
    assert all(np.array_equal(scene.frames[start], f) for f in scene.frames[start:])
    assert not any(np.array_equal(a, b) for a, b in itertools.pairwise(scene.frames[: start + 1]))
    daylight = render_scene(SceneSpec("daylight", 96, 64, 5.0, 10.0)).frames
    assert daylight[25].mean() > 1.5 * daylight[0].mean()


def test_timecode_reads_back_through_h264() -> None:
    from simulators.camera.encode import encode_frames
    from simulators.camera.scenes import iter_frames, read_timecode

    spec = SceneSpec("timecode", 96, 64, 25.0, 4.0)
    assert "timecode" not in scene_names(), "an instrument, not a scene for motion benchmarks"
    frames = list(iter_frames(spec))
    assert [read_timecode(f) for f in frames] == list(range(100))
    decoder = av.CodecContext.create("h264", "r")
    decoded = [read_timecode(f.to_ndarray(format="gray"))
               for unit in encode_frames(frames, 96, 64, 25.0) for f in decoder.decode(av.Packet(unit.data))]
    assert decoded == list(range(100))
    assert read_timecode(np.full((64, 96), 128, np.uint8)) is None  # no valid code: not a number

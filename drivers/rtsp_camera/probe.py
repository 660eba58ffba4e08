"""Test a stream URL once: connect, read the first picture, describe the stream, hang up.

What a technician wants before registering a camera: does the URL work, and if not, why (the same
`Reason` codes as a running camera); if it does, the codec, size and frame rate, and a picture to
check the view. Bounded in time: the open has `open_timeout_s`, the first picture `picture_timeout_s`
more (a camera sends a keyframe at least every few seconds). Blocking: call it off the event loop.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import av
from av.container import InputContainer

from drivers.rtsp_camera import failures
from drivers.rtsp_camera.clip import snapshot_jpeg
from drivers.rtsp_camera.driver import OPEN_OPTIONS
from drivers.rtsp_camera.failures import CameraFailure, Reason


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamProbe:
    """What one test of a stream found. `detail` never holds the password."""

    ok: bool
    codec: str | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    snapshot: bytes | None = None  # the first picture, JPEG
    reason: Reason | None = None
    detail: str | None = None


def probe(url: str, *, open_timeout_s: float = 5.0, picture_timeout_s: float = 5.0) -> StreamProbe:
    """Connect to `url` (rtsp://[user:password@]host[:port]/path) and describe what it streams."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return StreamProbe(ok=False, reason=Reason.UNREACHABLE, detail="not a stream URL")
    started = time.monotonic()
    try:
        # FFmpeg's socket timeout (µs) for every read, and PyAV's deadline for a server that keeps a
        # socket busy without ever answering properly: a test must end on time whatever the server does.
        options = {**OPEN_OPTIONS, "timeout": str(int(open_timeout_s * 1_000_000))}
        container = av.open(url, options=options, timeout=(open_timeout_s, picture_timeout_s))
    except Exception as exc:
        out_of_time = time.monotonic() - started >= 0.95 * open_timeout_s
        return _failed(failures.on_open(exc, password, out_of_time=out_of_time))
    try:
        return _describe(container, password, picture_timeout_s)
    finally:
        with contextlib.suppress(Exception):  # a broken connection may fail to close too
            container.close()


def _describe(container: InputContainer, password: str | None, picture_timeout_s: float) -> StreamProbe:
    if not container.streams.video:
        return _failed(CameraFailure(Reason.BAD_STREAM, "no video stream"))
    stream = container.streams.video[0]
    context = stream.codec_context
    codec = context.name
    width, height = (context.width or None), (context.height or None)
    rate = stream.average_rate or stream.guessed_rate
    # Without a rate in the SDP, FFmpeg may guess one from the RTP clock (90000): measure it instead.
    fps = round(float(rate), 3) if rate and 0.1 <= float(rate) <= 240 else None
    if codec != "h264":
        return StreamProbe(ok=False, codec=codec, width=width, height=height, fps=fps,
                           reason=Reason.UNSUPPORTED_CODEC, detail=f"{codec}, not h264")
    context.thread_count = 1
    deadline = time.monotonic() + picture_timeout_s
    first: av.VideoFrame | None = None
    times: list[float] = []  # pts of the pictures, for a stream that does not state its rate
    packets = 0
    try:
        for packet in container.demux(stream):
            if time.monotonic() > deadline:
                break
            if not packet.size:  # the demuxer's end-of-stream flush
                continue
            packets += 1
            try:
                frames = context.decode(packet)
            except av.error.InvalidDataError:
                frames = []
            for frame in frames:
                if first is None:
                    first = frame
                if frame.time is not None and (not times or frame.time > times[-1]):
                    times.append(frame.time)
            if fps is None and len(times) >= 2:
                fps = round(1.0 / (times[1] - times[0]), 3)
            if first is not None and fps is not None:
                break
    except Exception as exc:
        if first is None:
            return _failed(failures.on_read(exc, password, undecodable=not context.width), codec=codec)
    if first is None:
        if time.monotonic() > deadline:
            reason, detail = Reason.TIMEOUT, f"no picture within {picture_timeout_s:g} s ({packets} packets)"
        else:  # garbage makes FFmpeg's RTSP demuxer give up quietly
            reason, detail = Reason.BAD_STREAM, f"the stream ended after {packets} undecodable packets"
        return _failed(CameraFailure(reason, detail), codec=codec)
    snapshot = snapshot_jpeg(first.to_ndarray(format="bgr24"))
    return StreamProbe(ok=True, codec=codec, width=first.width, height=first.height, fps=fps,
                       snapshot=snapshot)


def _failed(failure: CameraFailure, codec: str | None = None) -> StreamProbe:
    return StreamProbe(ok=False, codec=codec, reason=failure.reason, detail=failure.detail or None)

"""Evidence files: an MP4 clip remuxed from the camera's own packets (never re-encoded), and a JPEG
snapshot with the motion boxes drawn on a copy of the frame."""

from __future__ import annotations

import io
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import av
import cv2
import numpy as np
from av.stream import Stream
from av.video.stream import VideoStream

from drivers.rtsp_camera.ring import PacketRecord

Box = tuple[int, int, int, int]  # x, y, width, height in the frame's own pixels
BOX_COLOR = (0, 0, 255)  # red, in BGR


class StreamTemplate:
    """The codec parameters of a session's video stream, kept after its input container is closed.

    PyAV copies a stream's parameters only from a live stream; a never-started in-memory output
    container holds a copy that outlives the connection, so a clip can still be written after the
    camera failed."""

    def __init__(self, source: VideoStream) -> None:
        self._holder = av.open(io.BytesIO(), "w", format="mp4")
        self.stream: VideoStream = self._holder.add_stream_from_template(source)


def write_clip(template: StreamTemplate, packets: Sequence[PacketRecord], path: Path) -> Path:
    """Write `packets` from their first keyframe into an MP4 at `path`, timestamps rebased to 0."""
    first = next((i for i, p in enumerate(packets) if p.keyframe), None)
    if first is None:
        raise ValueError("no keyframe in the clip's window: nothing decodable to write")
    kept = packets[first:]
    stamps = _timestamps(kept)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    with av.open(str(partial), "w", format="mp4") as output:
        stream = output.add_stream_from_template(template.stream)
        for record, (dts, duration) in zip(kept, stamps, strict=True):
            pts = record.pts - record.dts if record.pts is not None and record.dts is not None else 0
            output.mux(_packet(record, dts + pts, dts, duration, stream))
    partial.replace(path)  # a reader never sees a half-written clip
    return path


def _timestamps(records: Sequence[PacketRecord]) -> list[tuple[int, int]]:
    """(dts from 0, duration) of each packet. RTSP packets carry no duration, and FFmpeg gives the first
    (probed) packet of a session no timestamp: a missing one is one step before the next known one
    (or after the previous), the step being the smallest positive difference between known ones."""
    known = [r.dts if r.dts is not None else r.pts for r in records]
    given = [k for k in known if k is not None]
    steps = [b - a for a, b in pairwise(given) if b > a]
    step = min(steps) if steps else 1
    filled: list[int] = []
    for index, stamp in enumerate(known):
        if stamp is None:
            later = next(((i, k) for i, k in enumerate(known[index:]) if k is not None), None)
            stamp = filled[-1] + step if filled else (later[1] - later[0] * step if later else index * step)
        filled.append(stamp)
    origin = filled[0]
    durations = [max(b - a, 0) for a, b in pairwise(filled)]
    return [(f - origin, d) for f, d in zip(filled, [*durations, step], strict=True)]


def _packet(record: PacketRecord, pts: int, dts: int, duration: int,
            stream: VideoStream) -> av.Packet[Stream]:
    packet = av.Packet(record.data)
    packet.pts, packet.dts, packet.duration = pts, dts, duration
    packet.time_base = record.time_base
    packet.is_keyframe = record.keyframe
    packet.stream = stream
    return packet


def snapshot_jpeg(bgr: np.ndarray, boxes: Sequence[Box] = (), quality: int = 85) -> bytes:
    """JPEG of `bgr` with `boxes` outlined; the frame itself is left untouched."""
    image = bgr.copy()
    thickness = max(2, image.shape[0] // 180)
    for x, y, w, h in boxes:
        cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), BOX_COLOR, thickness)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {image.shape} image as JPEG")
    return encoded.tobytes()

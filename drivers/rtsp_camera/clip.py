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
    origin = _dts(kept[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    with av.open(str(partial), "w", format="mp4") as output:
        stream = output.add_stream_from_template(template.stream)
        for record, duration in zip(kept, _durations(kept), strict=True):
            output.mux(_packet(record, origin, duration, stream))
    partial.replace(path)  # a reader never sees a half-written clip
    return path


def _dts(record: PacketRecord) -> int:
    stamp = record.dts if record.dts is not None else record.pts
    if stamp is None:
        raise ValueError("a packet without timestamps cannot be placed in a clip")
    return stamp


def _durations(records: Sequence[PacketRecord]) -> list[int]:
    """Each packet lasts until the next one (RTSP packets carry no duration); the last as its previous."""
    steps = [max(_dts(b) - _dts(a), 0) for a, b in pairwise(records)]
    return [*steps, steps[-1] if steps else 0]


def _packet(record: PacketRecord, origin: int, duration: int, stream: VideoStream) -> av.Packet[Stream]:
    packet = av.Packet(record.data)
    dts = _dts(record) - origin
    packet.dts = dts
    packet.pts = record.pts - origin if record.pts is not None else dts
    packet.duration = duration
    packet.time_base = record.time_base
    packet.is_keyframe = record.keyframe
    packet.stream = stream
    return packet


def snapshot_jpeg(bgr: np.ndarray, boxes: Sequence[Box] = (), quality: int = 85) -> bytes:
    """JPEG of `bgr` with `boxes` outlined; the frame itself is left untouched."""
    image = bgr.copy()
    thickness = max(1, image.shape[0] // 240)
    for x, y, w, h in boxes:
        cv2.rectangle(image, (x, y), (x + w - 1, y + h - 1), BOX_COLOR, thickness)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {image.shape} image as JPEG")
    return encoded.tobytes()

"""One live camera: a looping encoded scene on a wall-clock timeline, broadcast to its viewers.

Live semantics: frame ``n`` of a camera is due at ``epoch + n / fps`` for every viewer, whenever it
connected, and its RTP timestamp and sequence numbers are functions of ``n`` alone. So all viewers
of a camera receive byte-identical packets, built once per frame (and cameras playing the same
scene share its encoded access units and RTP payloads): a hundred cameras cost little.
"""

from __future__ import annotations

import asyncio
import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from simulators.camera.encode import EncodedStream
from simulators.camera.payload import CLOCK_RATE, PAYLOAD_TYPE, payloads
from simulators.camera.scenes import Truth

Mode = Literal["normal", "garbage", "mpeg4", "resize"]
MODES: tuple[str, ...] = ("normal", "garbage", "mpeg4", "resize")
CATCH_UP_S = 2.0  # a viewer further behind than this restarts at the latest keyframe
_RTP_HEADER = struct.Struct("!BBHII")
_INTERLEAVED = struct.Struct("!cBH")


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """One simulated camera. ``scene`` is a scene name or ``clip-<stem>`` (played at its native size/fps).

    ``mode``: ``normal`` (H.264), ``garbage`` (random bytes instead of RTP after PLAY), ``mpeg4``
    (MPEG-4 Part 2, a codec the hub does not take), ``resize`` (half the size after half the loop).
    """

    name: str
    scene: str = "walk"
    width: int = 640
    height: int = 360
    fps: float = 5.0
    user: str | None = None
    password: str | None = None
    mode: Mode = "normal"
    duration_s: float = 60.0
    seed: int = 1

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name:
            raise ValueError(f"camera name {self.name!r}: must be non-empty without '/'")
        if self.mode not in MODES:
            raise ValueError(f"camera {self.name}: unknown mode {self.mode!r}; known: {', '.join(MODES)}")
        if not 0 < self.fps <= 60:
            raise ValueError(f"camera {self.name}: fps {self.fps} outside (0, 60]")

    @property
    def codec(self) -> str:
        return {"mpeg4": "mpeg4", "resize": "h264-resize"}.get(self.mode, "h264")


class ReplayStream:
    """An encoded loop cut into RTP payloads once, with the packet numbering that live playing needs."""

    def __init__(self, stream: EncodedStream) -> None:
        self.stream = stream
        self.payloads = [payloads(stream.codec, frame.data) for frame in stream.frames]
        self.keyframes = [frame.keyframe for frame in stream.frames]
        self.first_packet: list[int] = []  # packets before each frame within a loop
        total = 0
        for frame_payloads in self.payloads:
            self.first_packet.append(total)
            total += len(frame_payloads)
        self.packets_per_loop = total

    def __len__(self) -> int:
        return len(self.payloads)


class Viewer:
    """Where a camera sends its packets: one playing RTSP session."""

    def __init__(self, channel: int, write: Callable[[bytes], None]) -> None:
        self.channel = channel
        self.write = write
        self.sent_upto = -1  # the last frame index sent


class LiveCamera:
    """A camera's timeline, its fault switches and its viewers."""

    def __init__(self, spec: CameraSpec, replay: ReplayStream, epoch: float) -> None:
        self.spec = spec
        self.replay = replay
        self.epoch = epoch
        self.fps = replay.stream.spec.fps
        self.ssrc = zlib.crc32(spec.name.encode())
        self.stalled = False
        self._viewers: set[Viewer] = set()
        self._wake = asyncio.Event()
        self._cache: dict[tuple[int, int], bytes] = {}

    @property
    def loop_s(self) -> float:
        return len(self.replay) / self.fps

    def frame_index(self, now: float) -> int:
        """The frame on show at wall-clock time ``now``."""
        return int((now - self.epoch) * self.fps)

    def rtp_position(self, index: int) -> tuple[int, int]:
        """``(sequence number, RTP timestamp)`` of the first packet of frame ``index``."""
        loop, frame = divmod(index, len(self.replay))
        seq = loop * self.replay.packets_per_loop + self.replay.first_packet[frame]
        return seq & 0xFFFF, round(index * CLOCK_RATE / self.fps) & 0xFFFFFFFF

    def latest_keyframe(self, index: int) -> int:
        """The index of the last keyframe at or before frame ``index``."""
        start = index
        while not self.replay.keyframes[index % len(self.replay)] and index > start - len(self.replay):
            index -= 1
        return index

    def truth(self, now: float) -> list[tuple[str, float, float]]:
        """Ground truth in epoch seconds for the loops played so far and the current one."""
        loops = max(0, int((now - self.epoch) // self.loop_s)) + 1
        return [
            (t.kind, self.epoch + k * self.loop_s + t.start_s, self.epoch + k * self.loop_s + t.end_s)
            for k in range(loops)
            for t in self.replay.stream.truth
        ]

    @property
    def scene_truth(self) -> tuple[Truth, ...]:
        return self.replay.stream.truth

    def first_frame(self) -> int:
        """The frame a viewer starting now begins with: the latest keyframe, so it decodes at once."""
        return self.latest_keyframe(max(0, self.frame_index(time.time())))

    def play(self, viewer: Viewer, first: int) -> None:
        """Send a new viewer every frame from ``first`` up to now, then keep it in the live broadcast."""
        viewer.sent_upto = first - 1
        self._viewers.add(viewer)
        self._wake.set()
        if not self.stalled:
            self._send(viewer, self.frame_index(time.time()))

    def remove_viewer(self, viewer: Viewer) -> None:
        self._viewers.discard(viewer)

    def drop_viewers(self) -> None:
        self._viewers.clear()

    async def run(self) -> None:
        """Pace frames at the stream's fps while anybody watches."""
        while True:
            if not self._viewers:
                self._wake.clear()
                await self._wake.wait()
            index = self.frame_index(time.time()) + 1
            await asyncio.sleep(max(0.0, self.epoch + index / self.fps - time.time()))
            if not self.stalled:
                for viewer in list(self._viewers):
                    self._send(viewer, index)

    def _send(self, viewer: Viewer, upto: int) -> None:
        if viewer.sent_upto < upto - CATCH_UP_S * self.fps:
            viewer.sent_upto = self.latest_keyframe(upto) - 1
        for index in range(viewer.sent_upto + 1, upto + 1):
            viewer.write(self._packets(index, viewer.channel))
        viewer.sent_upto = max(viewer.sent_upto, upto)

    def _packets(self, index: int, channel: int) -> bytes:
        """Frame ``index`` as interleaved RTP packets on ``channel`` (RFC 2326 §10.12), built once."""
        if self.spec.mode == "garbage":
            return os.urandom(len(self.replay.stream.frames[index % len(self.replay)].data) // 4 + 64)
        key = (index, channel)
        blob = self._cache.get(key)
        if blob is None:
            blob = self._build(index, channel)
            if len(self._cache) > 4 * self.fps + 8:
                self._cache = {k: v for k, v in self._cache.items() if k[0] > index - 3 * self.fps}
            self._cache[key] = blob
        return blob

    def _build(self, index: int, channel: int) -> bytes:
        frame_payloads = self.replay.payloads[index % len(self.replay)]
        seq, timestamp = self.rtp_position(index)
        parts = []
        last = len(frame_payloads) - 1
        for number, payload in enumerate(frame_payloads):
            header = _RTP_HEADER.pack(0x80, (number == last) << 7 | PAYLOAD_TYPE, (seq + number) & 0xFFFF,
                                      timestamp, self.ssrc)
            parts += [_INTERLEAVED.pack(b"$", channel, len(header) + len(payload)), header, payload]
        return b"".join(parts)

"""One RTSP camera: a capture thread that connects, demuxes, decodes and supervises the stream.

PyAV blocks (and releases the GIL while it decodes), so each camera runs in its own thread and hands
frames to the consumer through a latest-wins slot. A session is one connection: it ends with a
failure, classified into a `Reason`; the thread then waits (exponential backoff, capped at 60 s,
reset after a healthy period) and opens a new one, until `stop()`.

Decoding only what is needed: every packet must go through the decoder (P-frames refer to earlier
pictures), but when `analysis_fps` is below the stream's rate the decoder skips non-reference frames
(`skip_frame=NONREF`; keyframes are always decoded) and only one frame per 1/analysis_fps seconds is
handed over. Most camera streams (and x264's zero-latency Baseline) make every frame a reference, so
the saving is in the handover, not in the decoder: ask the camera for a low-fps substream instead.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import av
import numpy as np
from av.container import InputContainer
from av.video.stream import VideoStream

from drivers.rtsp_camera import failures
from drivers.rtsp_camera.clip import StreamTemplate, write_clip
from drivers.rtsp_camera.clock import StreamClock
from drivers.rtsp_camera.config import Settings
from drivers.rtsp_camera.failures import CameraFailure, Reason
from drivers.rtsp_camera.frames import Frame, Mailbox, gray_of
from drivers.rtsp_camera.ring import ClipRequest, PacketRecord, PacketRing
from drivers.rtsp_camera.status import CameraStatus, Health, State

log = logging.getLogger(__name__)

# Small probe settings open a stream in well under a second (FIELD_NOTES, RTSP); `fflags=nobuffer`
# must not be added: it drops the probed keyframe.
OPEN_OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32"}
# Clips are written off the capture threads; one writer is plenty (a clip is a few ms of copying).
_CLIP_WRITER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clip-writer")

StatusCallback = Callable[[CameraStatus], None]


class CameraStream:
    """One camera: `start()`, then `latest()` frames, `status()`, `clip()`; `stop()` when done."""

    kind: ClassVar[str] = "rtsp"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.name
        # Called from the capture thread on every state or reason change, and after each frame handed
        # over (`latest()` has it); set them before start(). They must be quick.
        self.on_status: StatusCallback | None = None
        self.on_frame: Callable[[], None] | None = None
        self._health = Health()
        self._mailbox = Mailbox()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._ring: PacketRing | None = None
        self._template: StreamTemplate | None = None
        self._last: av.VideoFrame | None = None
        self._seq = 0
        self._pictures = 0  # decoded in the current session
        self._handed_t: float | None = None  # stream time of the last frame handed over
        self._clock = StreamClock()
        self._held: tuple[av.VideoFrame, float] | None = None  # a first picture waiting to be placed
        self._suspect = False  # the last session failed on bytes that never decoded

    def __repr__(self) -> str:
        return f"CameraStream({self.name!r}, {self.settings.safe_url!r})"

    # -- the consumer's side ---------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self!r} is already started")
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for the capture thread; a blocked read returns within the read timeout."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self.settings.open_timeout_s + self.settings.read_timeout_s + 1.0)

    def latest(self, timeout: float | None = None) -> Frame | None:
        """The newest frame not yet taken, waiting up to `timeout` s for one; None if none came."""
        return self._mailbox.take(timeout)

    def status(self) -> CameraStatus:
        return self._health.snapshot(self._mailbox.dropped)

    def snapshot(self) -> np.ndarray | None:
        """The most recently decoded picture in colour (BGR), converted now; None before the first."""
        frame = self._last
        return None if frame is None else np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)

    def clip(self, start_wall: float, end_wall: float, path: Path) -> Future[Path]:
        """An MP4 of [start_wall, end_wall] (epoch s) from the keyframe at or before the start, written to
        `path` once the end has arrived, or with what there is if the stream fails or stops first."""
        future: Future[Path] = Future()
        request = ClipRequest(start_wall=start_wall, end_wall=end_wall, path=path, future=future)
        with self._lock:
            ring, template = self._ring, self._template
        if ring is None or template is None:
            future.set_exception(CameraFailure(Reason.ENDED, f"{self.name}: no stream to cut a clip from"))
        elif not ring.request(request):
            self._write(template, request)
        return future

    # -- the capture thread ----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self.settings.backoff_initial_s
        while not self._stopping.is_set():
            failure = self._session()
            if self._stopping.is_set():
                break
            # A camera whose last session sent bytes that never decoded is watched more closely.
            self._suspect = failure.reason == Reason.BAD_STREAM and not self._pictures
            online = self._health.online_since
            if online is not None and time.time() - online >= self.settings.healthy_after_s:
                backoff = self.settings.backoff_initial_s
            log.warning("camera %s (%s): %s; reconnecting in %.1f s", self.name, self.settings.safe_url,
                        failure, backoff)
            self._set_state(State.OFFLINE, failure.reason)
            # A little jitter, so that the cameras of one recorder do not all reconnect at once.
            if self._stopping.wait(backoff * random.uniform(1.0, 1.1)):
                break
            backoff = min(backoff * 2, self.settings.backoff_max_s)
            self._health.reconnecting()

    def _session(self) -> CameraFailure:
        """One connection, from open to failure; returns why it ended."""
        self._set_state(State.CONNECTING)
        try:
            container = self._open()
        except CameraFailure as failure:
            return failure
        ring: PacketRing | None = None
        self._pictures = 0
        stream: VideoStream | None = None
        try:
            stream = self._video_stream(container)
            ring = PacketRing(self.settings.preroll_s)
            self._handed_t = None
            self._clock.new_session()
            with self._lock:
                self._ring, self._template = ring, StreamTemplate(stream)
            self._held = None
            try:
                self._read(container, stream, ring)
            finally:
                self._release_held()
            return CameraFailure(Reason.ENDED, "the server ended the stream")
        except CameraFailure as failure:
            return failure
        except Exception as exc:  # anything PyAV raises mid-stream: the session is over, the camera is not
            undecodable = not self._pictures and not (stream and stream.codec_context.width)
            return failures.on_read(exc, self.settings.password, undecodable=undecodable)
        finally:
            self._close(container, ring)

    def _open(self) -> InputContainer:
        settings = self.settings
        # The read timeout never exceeds the stall timeout, so a silent server is a stall on time.
        timeout = (settings.open_timeout_s, min(settings.read_timeout_s, settings.stall_timeout_s))
        started = time.monotonic()
        try:
            # FFmpeg's own socket timeout (microseconds), not PyAV's `timeout=`: that one is an interrupt
            # callback into Python on every poll of every stream, which cost 2.7 ms of CPU per camera-
            # second (a third of the hub's per-camera cost) in interpreter-lock traffic. The socket
            # timeout cannot see a stream that keeps sending bytes that never make a packet, though:
            # after a session like that, the camera gets PyAV's deadline as well.
            options = {**OPEN_OPTIONS, "timeout": str(int(min(timeout) * 1_000_000))}
            if self._suspect:
                return av.open(settings.url.get_secret_value(), options=options, timeout=timeout)
            return av.open(settings.url.get_secret_value(), options=options)
        except Exception as exc:
            out_of_time = time.monotonic() - started >= 0.95 * settings.open_timeout_s
            # `from None`: FFmpeg's error carries the URL with its password; the translation does not.
            raise failures.on_open(exc, settings.password, out_of_time=out_of_time) from None

    def _video_stream(self, container: InputContainer) -> VideoStream:
        if not container.streams.video:
            raise CameraFailure(Reason.BAD_STREAM, "no video stream")
        stream = container.streams.video[0]
        if stream.codec_context.name != "h264":
            raise CameraFailure(Reason.UNSUPPORTED_CODEC, f"{stream.codec_context.name}, not h264")
        rate = stream.average_rate or stream.guessed_rate
        self._health.nominal_fps = float(rate) if rate else None
        context = stream.codec_context
        context.thread_count = 1  # one camera, one thread: a hundred cameras must not start 300 threads
        limit = self.settings.analysis_fps
        if limit is not None and rate and limit < float(rate):
            context.skip_frame = "NONREF"
        return stream

    def _read(self, container: InputContainer, stream: VideoStream, ring: PacketRing) -> None:
        """Demux and decode until the stream ends (returns) or fails (raises CameraFailure)."""
        stall_s = self.settings.stall_timeout_s
        last_frame = time.monotonic()
        packets = 0
        for packet in container.demux(stream):
            if self._stopping.is_set():
                return
            if packet.size == 0:  # the demuxer's end-of-stream flush packet
                continue
            packets += 1
            self._keep(packet, ring)
            try:
                frames = stream.codec_context.decode(packet)
            except av.error.InvalidDataError:
                self._health.decode_error()
                frames = []
            for frame in frames:
                self._deliver(frame)
            now = time.monotonic()
            if frames:
                last_frame = now
                self._pictures += len(frames)
            elif now - last_frame > stall_s:
                raise CameraFailure(Reason.BAD_STREAM, f"{packets} packets, no picture for {stall_s:g} s")
        if not self._pictures and (packets or not stream.codec_context.width):
            # Garbage after PLAY makes FFmpeg's RTSP demuxer give up quietly: not a clean end.
            raise CameraFailure(Reason.BAD_STREAM, f"the stream ended after {packets} undecodable packets")

    def _keep(self, packet: av.Packet[VideoStream], ring: PacketRing) -> None:
        record = PacketRecord(data=bytes(packet), pts=packet.pts, dts=packet.dts,
                              time_base=packet.time_base or Fraction(1, 90000),
                              keyframe=packet.is_keyframe, wall=time.time())
        with self._lock:
            template = self._template
        for request in ring.add(record):
            if template is not None:
                self._write(template, request)

    def _deliver(self, frame: av.VideoFrame) -> None:
        wall = time.time()
        if self._held is None and self._clock.needs_successor(frame):
            # Only the next picture tells where this one belongs, and that picture supersedes it (latest
            # wins): it is handed over only if the session ends before another one decodes.
            self._held = (frame, wall)
            return
        self._held = None
        self._hand_over(frame, wall)

    def _release_held(self) -> None:
        if self._held is not None:
            (frame, wall), self._held = self._held, None
            self._hand_over(frame, wall)

    def _hand_over(self, frame: av.VideoFrame, wall: float) -> None:
        self._seq += 1
        self._last = frame
        self._health.frame(wall, frame.width, frame.height)
        if self._health.state != State.ONLINE:
            self._set_state(State.ONLINE)
        t = self._clock.time_of(frame, wall, self._health.nominal_fps)
        if not self._due(t):
            return
        self._mailbox.put(Frame(gray=gray_of(frame), t=t, wall=wall, width=frame.width, height=frame.height,
                                seq=self._seq, source=frame))
        self._health.handed_over()
        if self.on_frame is not None:
            self.on_frame()

    def _due(self, t: float) -> bool:
        """Whether the analysis rate limit lets a frame at stream time `t` through (always, without)."""
        limit = self.settings.analysis_fps
        if limit is None:
            return True
        previous = self._handed_t
        # 10 % slack: a stream's timestamps jitter, and a strict limit would skip every other frame.
        if previous is not None and 0 <= t - previous < 0.9 / limit:
            return False
        self._handed_t = t
        return True

    def _close(self, container: InputContainer, ring: PacketRing | None) -> None:
        with self._lock:
            template = self._template
            self._ring = self._template = None
        if ring is not None and template is not None:
            for request in ring.drain():
                self._write(template, request)
        try:
            container.close()
        except Exception as exc:  # closing a broken connection may fail too; nothing to do about it
            log.debug("camera %s: close: %s", self.name, failures.on_read(exc, self.settings.password))

    def _write(self, template: StreamTemplate, request: ClipRequest) -> None:
        def job() -> None:
            if not request.future.set_running_or_notify_cancel():
                return
            try:
                request.future.set_result(write_clip(template, request.packets, request.path))
            except Exception as exc:
                request.future.set_exception(exc)

        _CLIP_WRITER.submit(job)

    def _set_state(self, state: State, reason: Reason | None = None) -> None:
        if not self._health.change(state, reason):
            return
        if self.on_status is None:
            return
        try:
            self.on_status(self.status())
        except Exception:
            log.exception("camera %s: on_status callback failed", self.name)

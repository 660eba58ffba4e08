"""One camera in the hub: its stream, the motion and tamper analysis of its frames, and its health.

The stream (drivers.rtsp_camera) decodes in its own thread and hands over the newest frame; one of
the manager's few analysis threads (`AnalysisPool`) then analyses it here and turns what it sees into
signals for the pipeline:

- motion event start → `video_motion` (an alarm when the camera is armed at that moment, a logged
  `status` signal otherwise), with a snapshot (boxes drawn) and a clip of pre-roll + post-roll;
- tamper (covered, frozen, moved) → `tamper`, restored when the picture is normal again;
- no frames for `offline_after_s` → `video_loss`, restored when frames return.

Tamper and video loss are never throttled. Every time is wall-clock or stream time in seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from drivers.rtsp_camera.clip import snapshot_jpeg
from drivers.rtsp_camera.config import Settings as StreamSettings
from drivers.rtsp_camera.driver import CameraStream
from drivers.rtsp_camera.frames import Frame
from drivers.rtsp_camera.status import CameraStatus, State
from hub import metrics
from hub.cameras.evidence import EvidenceStore
from hub.config import CameraSettings
from hub.model import Camera, Category, Evidence, Qualifier, Signal, Source
from hub.motion.detector import MotionResult, MotionState, step
from hub.motion.settings import MotionSettings
from hub.motion.tamper import TamperSettings, TamperState, tamper_step
from hub.pipeline import Observed

log = logging.getLogger(__name__)
_TAMPER_EVERY_S = 1.0  # tamper conditions hold for seconds: one look a second is plenty


class CameraWorker:
    def __init__(self, camera: Camera, url: str, *, submit: Callable[[Observed], None],
                 evidence: EvidenceStore, settings: CameraSettings, zone: tzinfo,
                 was_online: bool | None = None,
                 on_frame: Callable[[CameraWorker], None] = lambda _worker: None) -> None:
        self.camera = camera
        self.submit = submit
        self.evidence = evidence
        self.settings = settings
        self.zone = zone
        self.stream = CameraStream(StreamSettings(
            url=SecretStr(url), open_timeout_s=settings.open_timeout_s,
            stall_timeout_s=settings.stall_timeout_s, analysis_fps=settings.analysis_fps,
            preroll_s=settings.preroll_s, name=camera.id))
        self.stream.on_status = self._on_status
        self.stream.on_frame = lambda: on_frame(self)
        self.queued = False  # waiting in the analysis pool's queue (the pool's own flag)
        self._motion = _motion_settings(camera)
        self._tamper_settings = TamperSettings()
        self._motion_state: MotionState | None = None
        self._tamper_state: TamperState | None = None
        self._tampered = False
        self._tamper_t: float | None = None
        self._lock = threading.Lock()  # health state, shared with the stream's thread
        self._busy = threading.Lock()  # one analysis of this camera at a time
        self._online = False
        # A camera stored as offline may have an open video_loss alarm: its first frame restores it.
        self._loss_reported = was_online is False
        self._offline_since = time.time()

    # -- control (any thread) ------------------------------------------------------------------------

    def start(self) -> None:
        self.stream.start()

    def stop(self) -> None:
        self.stream.stop()

    def update(self, camera: Camera) -> None:
        """New arming, schedule or motion settings; the stream goes on."""
        self._motion = _motion_settings(camera)
        self.camera = camera

    def status(self) -> CameraStatus:
        return self.stream.status()

    def snapshot_jpeg(self) -> bytes | None:
        bgr = self.stream.snapshot()
        return None if bgr is None else snapshot_jpeg(bgr)

    def health(self) -> metrics.CameraHealth:
        s = self.stream.status()
        age = time.time() - s.last_frame_wall if s.last_frame_wall else None
        return metrics.CameraHealth(camera=self.camera.id, site=self.camera.site_id,
                                    up=s.state == State.ONLINE, fps=s.fps, reconnects=s.reconnects_total,
                                    frame_age=age, dropped=s.frames_dropped, stalls=s.stalls_total,
                                    decode_errors=s.decode_errors)

    def api_status(self) -> dict[str, Any]:
        s = self.stream.status()
        last = datetime.fromtimestamp(s.last_frame_wall, UTC) if s.last_frame_wall else None
        return {"status": s.state.value, "reason": s.reason.value if s.reason else None,
                "fps": round(s.fps, 2),
                "last_frame_at": last,
                "width": s.width, "height": s.height,
                "quality": s.quality.value, "reconnects_1h": s.reconnects_1h, "stalls_1h": s.stalls_1h,
                "frames_dropped": s.frames_dropped}

    # -- the analysis thread ---------------------------------------------------------------------------

    def analyse_latest(self) -> None:
        """Analyse the newest frame, if there is one not yet analysed (from an analysis thread)."""
        if not self._busy.acquire(blocking=False):
            return  # another analysis thread has this camera: it takes the newest frame after
        try:
            frame = self.stream.latest(timeout=0)
            if frame is not None:
                try:
                    self._analyse(frame)
                except Exception:  # one bad frame must not end the camera's supervision
                    log.exception("camera %s: analysis of frame %d failed", self.camera.id, frame.seq)
        finally:
            self._busy.release()

    def _analyse(self, frame: Frame) -> None:
        started = time.perf_counter()
        self._motion_state, motion = step(self._motion_state, frame.gray, frame.t, self._motion)
        if motion.transition == "start":
            self._motion_started(frame, motion)
        if self._tamper_t is None or not 0 <= frame.t - self._tamper_t < _TAMPER_EVERY_S:
            self._tamper_t = frame.t
            self._tamper(frame, motion)
        metrics.CAMERA_ANALYSIS.observe(time.perf_counter() - started)

    def _tamper(self, frame: Frame, motion: MotionResult) -> None:
        self._tamper_state, tamper = tamper_step(self._tamper_state, frame.gray, frame.t,
                                                 self._tamper_settings)
        # One tamper alarm per camera: raised by the first condition, restored when none is left.
        if tamper.active and not self._tampered:
            self._tampered = True
            reasons = ",".join(sorted(tamper.active))
            metrics.CAMERA_EVENTS.labels("tamper").inc()
            log.warning("camera %s: tamper (%s)", self.camera.id, reasons)
            self._signal(Category.TAMPER, Qualifier.NEW, frame.wall, text=reasons,
                         evidence=self._snapshot(frame, motion))
        elif not tamper.active and self._tampered:
            self._tampered = False
            self._signal(Category.TAMPER, Qualifier.RESTORE, frame.wall, text="picture normal again")

    def _motion_started(self, frame: Frame, motion: MotionResult) -> None:
        metrics.CAMERA_EVENTS.labels("motion").inc()
        armed = self.camera.armed_at(datetime.fromtimestamp(frame.wall, UTC), self.zone)
        evidence = self._snapshot(frame, motion)
        if evidence:
            folder_rel = evidence[0].path.rsplit("/", 1)[0]
            rel = f"{folder_rel}/clip.mp4"
            pre, post = self.settings.preroll_s, self.settings.postroll_s
            clip = self.stream.clip(frame.wall - pre, frame.wall + post, self.evidence.root / rel)
            clip.add_done_callback(self._clip_done)
            if not (clip.done() and clip.exception() is not None):  # no stream to cut it from: no link
                evidence = (*evidence, Evidence("clip", rel))
        self._signal(Category.VIDEO_MOTION, Qualifier.NEW if armed else Qualifier.STATUS, frame.wall,
                     text=f"{len(motion.boxes)} moving regions, {motion.fraction:.1%} of the view",
                     evidence=evidence)

    def _clip_done(self, done: Future[Path]) -> None:
        error = done.exception()
        if error is not None:
            log.error("camera %s: the clip could not be written: %s", self.camera.id, error)

    def _snapshot(self, frame: Frame, motion: MotionResult) -> tuple[Evidence, ...]:
        try:
            boxes = [(b.x0, b.y0, b.x1 - b.x0, b.y1 - b.y0) for b in motion.boxes]
            jpeg = snapshot_jpeg(frame.bgr(), boxes)
            folder = self.evidence.new_event(self.camera.id)
            return (Evidence("snapshot", self.evidence.write(folder, "snapshot.jpg", jpeg)),)
        except (OSError, ValueError):
            log.exception("camera %s: the snapshot could not be written", self.camera.id)
            return ()

    # -- health ------------------------------------------------------------------------------------------

    def _on_status(self, status: CameraStatus) -> None:
        """From the stream's thread, on every state change."""
        online = status.state == State.ONLINE
        with self._lock:
            was, self._online = self._online, online
            if not online and was:
                self._offline_since = time.time()
            restore = online and self._loss_reported
            if restore:
                self._loss_reported = False
        if online != was:
            last = datetime.fromtimestamp(status.last_frame_wall, UTC) if status.last_frame_wall else None
            reason = status.reason.value if status.reason and not online else None
            self.submit(Observed(self.camera.id, online=online, last_frame_at=last, reason=reason))
            log.info("camera %s: %s%s", self.camera.id, status.state.value,
                     f" ({status.reason.value})" if status.reason and not online else "")
        if restore:
            self._signal(Category.VIDEO_LOSS, Qualifier.RESTORE, time.time(), text="frames again")

    def check_health(self, now: float) -> None:
        """Raise video loss when the camera has been without pictures for its debounce (from an
        analysis thread, every half second)."""
        with self._lock:
            due = (not self._online and not self._loss_reported
                   and now - self._offline_since >= self.camera.offline_after_s)
            if due:
                self._loss_reported = True
        if due:
            metrics.CAMERA_EVENTS.labels("video_loss").inc()
            status = self.stream.status()
            reason = status.reason
            log.warning("camera %s: no frames for %d s: video loss", self.camera.id,
                        self.camera.offline_after_s)
            # Offline as well (a camera that never delivered a picture has no state change before this).
            last = datetime.fromtimestamp(status.last_frame_wall, UTC) if status.last_frame_wall else None
            self.submit(Observed(self.camera.id, online=False, last_frame_at=last,
                                 reason=reason.value if reason else "no_frames"))
            self._signal(Category.VIDEO_LOSS, Qualifier.NEW, now,
                         text=reason.value if reason else "no frames")

    def _signal(self, category: Category, qualifier: Qualifier, wall: float, *, text: str = "",
                evidence: tuple[Evidence, ...] = ()) -> None:
        at = datetime.fromtimestamp(wall, UTC)
        zone = "motion" if category is Category.VIDEO_MOTION else "video"
        self.submit(Observed(self.camera.id, signals=(Signal(
            source=Source.CAMERA, device_id=self.camera.id, category=category, qualifier=qualifier,
            zone=zone, device_time=at, text=text, evidence=evidence),)))


def _motion_settings(camera: Camera) -> MotionSettings:
    try:
        return MotionSettings.model_validate(camera.motion)
    except ValidationError:
        log.error("camera %s: stored motion settings are invalid; using the defaults", camera.id)
        return MotionSettings()

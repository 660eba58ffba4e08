"""What a camera is doing, as a snapshot, and the connection quality grade.

Quality grade, the worst rule that matches wins:

- `poor`: not online; or in the last hour 3+ reconnects or 2+ stalls; or fps under half the nominal;
  or over 10 % of the frames handed over were dropped;
- `fair`: 1+ reconnect or stall in the last hour; or fps under 90 % of the nominal; or over 1 % dropped;
- `good`: otherwise.

The fps rules apply only when the stream declares a frame rate and the camera has been online for a
full measuring window (the fps figure is meaningless before). Drops are counted since the start, and
judged once 50 frames were handed over.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from drivers.rtsp_camera.failures import Reason

FPS_WINDOW_S = 5.0
HOUR_S = 3600.0
MIN_HANDED = 50  # the drop ratio says little before (a connection starts with a burst of catch-up frames)


class State(StrEnum):
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"


class Quality(StrEnum):
    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraStatus:
    state: State
    reason: Reason | None  # of the last failure; kept while reconnecting, cleared by the first frame
    since: float  # epoch seconds of the last state change
    fps: float  # frames decoded per second over the last FPS_WINDOW_S
    nominal_fps: float | None  # what the stream declares
    width: int | None
    height: int | None
    frames_decoded: int
    frames_dropped: int  # handed over, then replaced unread by a newer one (latest-wins)
    reconnects_1h: int
    stalls_1h: int
    reconnects_total: int
    stalls_total: int
    decode_errors: int  # packets the decoder refused (corrupt or missing data)
    last_frame_wall: float | None
    quality: Quality


def grade(*, state: State, fps: float, nominal_fps: float | None, fps_valid: bool, reconnects_1h: int,
          stalls_1h: int, handed: int, dropped: int) -> Quality:
    """The quality grade of the table in this module's docstring."""
    drop_ratio = dropped / handed if handed >= MIN_HANDED else 0.0
    fps_ratio = fps / nominal_fps if fps_valid and nominal_fps else 1.0
    if state != State.ONLINE or reconnects_1h >= 3 or stalls_1h >= 2 or fps_ratio < 0.5 or drop_ratio > 0.1:
        return Quality.POOR
    if reconnects_1h or stalls_1h or fps_ratio < 0.9 or drop_ratio > 0.01:
        return Quality.FAIR
    return Quality.GOOD


class Health:
    """The counters behind CameraStatus, written by the capture thread, read by anyone."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state = State.CONNECTING
        self.reason: Reason | None = None
        self.since = time.time()
        self.online_since: float | None = None
        self.nominal_fps: float | None = None
        self.size: tuple[int, int] | None = None
        self.decoded = 0
        self.handed = 0
        self.last_frame_wall: float | None = None
        self.reconnects_total = 0
        self.stalls_total = 0
        self.decode_errors = 0
        self._frame_walls: deque[float] = deque()
        self._reconnects: deque[float] = deque()
        self._stalls: deque[float] = deque()

    def change(self, state: State, reason: Reason | None = None) -> bool:
        """Record a state change (and a failure's reason); False if it was no change at all."""
        with self._lock:
            now = time.time()
            if reason == Reason.STALLED:
                self._stalls.append(now)
                self.stalls_total += 1
            if state == self.state and (reason is None or reason == self.reason):
                return False
            self.state, self.since = state, now
            self.reason = reason if reason is not None or state == State.ONLINE else self.reason
            self.online_since = now if state == State.ONLINE else None
            return True

    def reconnecting(self) -> None:
        with self._lock:
            self.reconnects_total += 1
            self._reconnects.append(time.time())

    def frame(self, wall: float, width: int, height: int) -> None:
        with self._lock:
            self.decoded += 1
            self.last_frame_wall = wall
            self.size = (width, height)
            self._frame_walls.append(wall)
            while self._frame_walls and wall - self._frame_walls[0] > FPS_WINDOW_S:
                self._frame_walls.popleft()

    def decode_error(self) -> None:
        with self._lock:
            self.decode_errors += 1

    def handed_over(self) -> None:
        with self._lock:
            self.handed += 1

    def snapshot(self, dropped: int) -> CameraStatus:
        with self._lock:
            now = time.time()
            for times in (self._reconnects, self._stalls):
                while times and now - times[0] > HOUR_S:
                    times.popleft()
            recent = sum(1 for wall in self._frame_walls if now - wall <= FPS_WINDOW_S)
            online_for = now - self.online_since if self.online_since is not None else 0.0
            fps = recent / FPS_WINDOW_S if online_for >= FPS_WINDOW_S else recent / max(online_for, 1.0)
            quality = grade(state=self.state, fps=fps, nominal_fps=self.nominal_fps,
                            fps_valid=online_for >= FPS_WINDOW_S, reconnects_1h=len(self._reconnects),
                            stalls_1h=len(self._stalls), handed=self.handed, dropped=dropped)
            return CameraStatus(
                state=self.state, reason=self.reason, since=self.since, fps=round(fps, 2),
                nominal_fps=self.nominal_fps, width=self.size[0] if self.size else None,
                height=self.size[1] if self.size else None, frames_decoded=self.decoded,
                frames_dropped=dropped, reconnects_1h=len(self._reconnects), stalls_1h=len(self._stalls),
                reconnects_total=self.reconnects_total, stalls_total=self.stalls_total,
                decode_errors=self.decode_errors, last_frame_wall=self.last_frame_wall,
                quality=quality)

"""Stream time of decoded frames: from their pts, filled in where missing, continuous across reconnects.

A consumer (motion detection) measures its time constants in stream seconds, so `t` must never run
backwards. Each new session's pts start again near 0: its first frame continues from the last frame
of the previous session plus the wall-clock time between them.
"""

from __future__ import annotations

import av


class StreamClock:
    def __init__(self) -> None:
        self._offset = 0.0  # added to this session's pts
        self._raw: float | None = None  # this session's last pts, seconds
        self._last: tuple[float, float] | None = None  # (t, wall) of the last frame of any session

    def new_session(self) -> None:
        self._raw = None

    def needs_successor(self, frame: av.VideoFrame) -> bool:
        """Whether `frame` can only be placed once the next frame is known: a session's first picture
        without pts. FFmpeg's RTSP demuxer gives the first (probed) packet of a session no pts, and
        that picture is either at the RTP timestamp base or one frame before it (both happen)."""
        return frame.time is None and self._raw is None

    def time_of(self, frame: av.VideoFrame, wall: float, nominal_fps: float | None) -> float:
        raw = self._raw_time(frame, nominal_fps)
        if self._raw is None and self._last is not None:
            last_t, last_wall = self._last
            self._offset = last_t + max(wall - last_wall, 0.0) - raw
        self._raw = raw
        t = raw + self._offset
        self._last = (t, wall)
        return t

    def _raw_time(self, frame: av.VideoFrame, nominal_fps: float | None) -> float:
        """The frame's pts in seconds; one without pts is placed one frame duration after the previous
        frame or, a session's only picture, before 0."""
        if frame.time is not None:
            return float(frame.time)
        step = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else 0.0
        if not step and nominal_fps:
            step = 1.0 / nominal_fps
        return self._raw + step if self._raw is not None else -step

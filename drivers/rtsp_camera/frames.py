"""Decoded pictures as the consumer sees them, and the latest-wins slot that hands them over."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import av
import numpy as np

# Pixel formats whose first plane is 8-bit luma: gray for free (issue 3: gray from the Y plane).
_Y_PLANE_FORMATS = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p",
                              "nv12", "nv21", "gray"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One decoded picture. `gray` is read-only; `bgr()` converts the colour picture on request."""

    gray: np.ndarray
    t: float  # stream time, seconds, from the frame's pts; never runs backwards (see clock.py)
    wall: float  # epoch seconds when it was decoded
    width: int
    height: int
    seq: int  # 1, 2, … within the CameraStream, across reconnects
    source: av.VideoFrame = field(repr=False, compare=False)

    def bgr(self) -> np.ndarray:
        """The picture in colour (BGR, as OpenCV wants it); costs a conversion each call."""
        return np.asarray(self.source.to_ndarray(format="bgr24"), dtype=np.uint8)


def gray_of(frame: av.VideoFrame) -> np.ndarray:
    """The luma plane as a read-only uint8 (height, width) view, without its row padding."""
    if frame.format.name not in _Y_PLANE_FORMATS:
        return np.asarray(frame.to_ndarray(format="gray"), dtype=np.uint8)
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(plane.height, plane.line_size)
    gray = rows[:, : plane.width]
    gray.flags.writeable = False
    return gray


class Mailbox:
    """A one-slot handover: `put` replaces an unread frame (counted as dropped), `take` waits for one."""

    def __init__(self) -> None:
        self._frame: Frame | None = None
        self._ready = threading.Condition()
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        with self._ready:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._ready.notify_all()

    def take(self, timeout: float | None) -> Frame | None:
        with self._ready:
            self._ready.wait_for(lambda: self._frame is not None, timeout)
            frame, self._frame = self._frame, None
            return frame

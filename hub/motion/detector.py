"""Motion detection: one pure step per gray frame, returning the next state and what moved.

The recipe (issue 3): scale down, optionally stretch contrast, blur, compare with a running-average
background, threshold, dilate, find contours above a least area. Two additions keep nuisance out:

- each pixel learns its own typical deviation, and must beat ``noise_factor`` times it as well as the
  fixed threshold, so a waving tree or a flickering screen raises its own bar;
- a change over most of the frame at once (lights, an IR switch) is *calibration*: the background is
  learned again for ``calibration_s`` and no motion is reported.

Every time constant is in seconds and turned into a per-frame rate from the actual time between frames
(``alpha = 1 - exp(-dt / tau)``), so the detector behaves the same at 4, 5 and 25 fps.

The state is a frozen dataclass, but the numpy buffers it holds (``_Model``) are updated in place for
speed: keep one state per camera, always pass the latest one, and never share it between threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from cv2.typing import MatLike

from hub.motion.settings import MotionSettings

Transition = Literal["start", "update", "end"]
Gray = npt.NDArray[np.uint8]
Image = MatLike  # what OpenCV hands back: numpy arrays of the analysis size

_KERNEL = np.ones((3, 3), np.uint8)
_EPS = 1e-6  # frame times are sums of floats: 0.5 s of frames at 4 fps is 0.49999...


@dataclass(frozen=True, slots=True)
class Box:
    """A moving region in the camera's own pixels: [x0, x1) x [y0, y1)."""

    x0: int
    y0: int
    x1: int
    y1: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MotionResult:
    """What one frame showed.

    ``transition`` is "start" on the frame an event starts, "update" on later frames of it with motion,
    "end" on the frame it ends, None otherwise. ``event`` numbers events from 1 per state (it restarts
    with the state): the current or just-ended event, None outside events.
    """

    boxes: tuple[Box, ...]
    fraction: float  # moving share of the unmasked frame, 0-1
    calibrating: bool
    transition: Transition | None
    event: int | None


class _Model:
    """The per-camera buffers at the analysis size, updated in place by `step`."""

    def __init__(self, gray: Gray, settings: MotionSettings) -> None:
        height, width = gray.shape
        self.shape = gray.shape
        self.size = (max(1, round(width * settings.analysis_height / height)), settings.analysis_height)
        self.scale = (width / self.size[0], height / self.size[1])
        self.keep = _keep_mask(self.shape, self.size, settings)
        self.kept = max(1, cv2.countNonZero(self.keep))
        self.min_area = settings.min_area * self.size[0] * self.size[1]
        self.dilation = settings.dilation
        small = cv2.resize(gray, self.size, interpolation=cv2.INTER_LINEAR)
        self.low, self.high = _percentiles(small)
        self.mean = self.prepare(small, settings)
        self.var = np.zeros_like(self.mean)  # each pixel's learned squared deviation
        self.diff2 = np.zeros_like(self.mean)  # this frame's squared difference from the background

    def prepare(self, small: Image, settings: MotionSettings) -> Image:
        """The analysis picture: blurred, contrast-stretched, as float32."""
        if settings.blur_size > 1:
            small = cv2.GaussianBlur(small, (settings.blur_size, settings.blur_size), 0)
        if not settings.contrast:
            return small.astype(np.float32)
        gain = min(settings.contrast_max_gain, 255.0 / max(self.high - self.low, 1.0))
        offset = 127.5 - gain * (self.low + self.high) / 2
        out = small.astype(np.float32)
        out *= gain
        out += offset
        return out


def _keep_mask(shape: tuple[int, ...], size: tuple[int, int], settings: MotionSettings) -> Image:
    """255 where motion counts, 0 inside the masks (drawn in camera pixels, then scaled)."""
    keep = np.full(shape, 255, np.uint8)
    if settings.masks:
        polygons = [np.array(polygon, np.int32) for polygon in settings.masks]
        cv2.fillPoly(keep, polygons, 0)
    return cv2.resize(keep, size, interpolation=cv2.INTER_NEAREST)


def _percentiles(small: Image) -> tuple[float, float]:
    """The 4th and 96th brightness percentiles, from a histogram (cheaper than sorting)."""
    cumulative = np.cumsum(cv2.calcHist([small], [0], None, [256], [0, 256]).ravel())
    total = cumulative[-1]
    return float(np.searchsorted(cumulative, 0.04 * total)), float(np.searchsorted(cumulative, 0.96 * total))


@dataclass(frozen=True, slots=True, kw_only=True)
class MotionState:
    """One camera's detector state; start with None. See the module note on its buffers."""

    settings: MotionSettings
    model: _Model
    started: float  # time of the first frame of this state
    t: float  # time of the previous frame
    calibrate_until: float
    moving_since: float | None  # start of the current run of frames with motion
    last_motion: float | None
    events: int  # events started so far
    in_event: bool


def _alpha(dt: float, tau: float) -> float:
    return 1.0 - math.exp(-dt / tau)


def _fresh(gray: Gray, t: float, settings: MotionSettings) -> tuple[MotionState, MotionResult]:
    state = MotionState(settings=settings, model=_Model(gray, settings), started=t, t=t,
                        calibrate_until=t + settings.calibration_s, moving_since=None, last_motion=None,
                        events=0, in_event=False)
    return state, MotionResult(boxes=(), fraction=0.0, calibrating=True, transition=None, event=None)


def step(state: MotionState | None, gray: Gray, t: float, settings: MotionSettings
         ) -> tuple[MotionState, MotionResult]:
    """Analyse one gray frame (uint8, 2-D, camera resolution) taken at time ``t`` (s).

    A new frame size, new settings or time going backwards restart the state (and its event count).
    """
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"motion needs a 2-D uint8 gray frame, got {gray.dtype} {gray.shape}")
    if (state is None or state.model.shape != gray.shape or t <= state.t
            or (state.settings is not settings and state.settings != settings)):
        return _fresh(gray, t, settings)
    model, dt = state.model, t - state.t
    small = cv2.resize(gray, model.size, interpolation=cv2.INTER_LINEAR)
    if settings.contrast:
        _follow_contrast(model, small, _alpha(dt, settings.contrast_time_s))
    frame = model.prepare(small, settings)
    moving, fraction = _foreground(model, frame, settings)
    calibrate_until = state.calibrate_until
    if fraction > settings.calibration_fraction:
        calibrate_until = t + settings.calibration_s
    calibrating = t < calibrate_until
    _learn(model, frame, dt, t - state.started, calibrating, settings)
    boxes = () if calibrating else _boxes(model, moving)
    return _events(state, t, dt, calibrate_until, calibrating, boxes, fraction)


def _follow_contrast(model: _Model, small: Image, alpha: float) -> None:
    low, high = _percentiles(small)
    model.low += alpha * (low - model.low)
    model.high += alpha * (high - model.high)


def _foreground(model: _Model, frame: Image, settings: MotionSettings) -> tuple[Image, float]:
    """Pixels that differ from the background by more than both the threshold and their own noise."""
    diff = cv2.subtract(frame, model.mean)
    model.diff2 = cv2.multiply(diff, diff)
    bar = np.maximum(model.var * np.float32(settings.noise_factor ** 2), np.float32(settings.threshold ** 2))
    moving = cv2.compare(model.diff2, bar, cv2.CMP_GT)
    if settings.masks:
        moving = cv2.bitwise_and(moving, model.keep)
    return moving, cv2.countNonZero(moving) / model.kept


def _learn(model: _Model, frame: Image, dt: float, age: float, calibrating: bool,
           settings: MotionSettings) -> None:
    """Move the background towards the frame; while calibrating, take the frame as it is."""
    if calibrating:
        model.mean[...] = frame
    else:
        cv2.accumulateWeighted(frame, model.mean, _alpha(dt, settings.background_time_s))
    # Early on, average all deviations seen so far; a cap keeps a passing object from deafening a pixel.
    rate = max(_alpha(dt, settings.noise_time_s), dt / (age + dt))
    cv2.accumulateWeighted(np.minimum(model.diff2, np.float32(4 * settings.threshold ** 2)), model.var, rate)


def _boxes(model: _Model, moving: Image) -> tuple[Box, ...]:
    """Bounding boxes, in camera pixels, of the joined moving regions of at least the least area."""
    if model.dilation:
        moving = cv2.dilate(moving, _KERNEL, iterations=model.dilation)
    contours, _ = cv2.findContours(moving, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    sx, sy = model.scale
    boxes = []
    for contour in contours:
        if cv2.contourArea(contour) >= model.min_area:
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append(Box(int(x * sx), int(y * sy), math.ceil((x + w) * sx), math.ceil((y + h) * sy)))
    return tuple(boxes)


def _events(state: MotionState, t: float, dt: float, calibrate_until: float, calibrating: bool,
            boxes: tuple[Box, ...], fraction: float) -> tuple[MotionState, MotionResult]:
    """Event lifecycle: motion for ``confirm_s`` starts one, ``quiet_s`` without motion ends it.

    A frame stands for the interval since the previous one: n moving frames `dt` apart show motion
    for n·dt seconds, so at 5 fps a 0.5 s confirm takes 3 frames, not the 4 that "0.5 s between the
    first and the last" would (one frame interval of latency for nothing)."""
    settings, events, in_event = state.settings, state.events, state.in_event
    moving = bool(boxes)
    moving_since = (state.moving_since if state.moving_since is not None else t) if moving else None
    last_motion = t if moving else state.last_motion
    transition: Transition | None = None
    if in_event and moving:
        transition = "update"
    elif in_event and last_motion is not None and t - last_motion >= settings.quiet_s - _EPS:
        transition, in_event = "end", False
    elif not in_event and moving_since is not None and t - moving_since + dt >= settings.confirm_s - _EPS:
        transition, in_event, events = "start", True, events + 1
    new = MotionState(settings=settings, model=state.model, started=state.started, t=t,
                      calibrate_until=calibrate_until, moving_since=moving_since, last_motion=last_motion,
                      events=events, in_event=in_event)
    event = events if in_event or transition == "end" else None
    return new, MotionResult(boxes=boxes, fraction=fraction, calibrating=calibrating, transition=transition,
                             event=event)

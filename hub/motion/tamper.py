"""Camera tamper detection: one pure step per gray frame, like the motion detector (issue 3, item 4).

Three conditions, each raised after it has held for its own time and cleared after it has been gone
for ``clear_s``:

- ``covered``: the picture is uniform (very low spatial spread of brightness): a hand, tape or a bag
  over the lens, a camera pointing at a wall, a dead sensor;
- ``frozen``: the picture does not change, not even by its sensor noise: an encoder repeating one
  picture decodes to identical frames, except for the small changes of a re-encoded keyframe;
- ``moved``: the scene's structure changed and stays changed: the correlation of the frame's edge map
  with a slowly learned reference edge map drops. Edges stay where they are when only the light
  changes, and the correlation is normalised, so lights alone do not count.

The state's numpy buffers are updated in place (as in ``hub.motion.detector``): one state per camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from cv2.typing import MatLike
from pydantic import BaseModel, ConfigDict, Field

Reason = Literal["covered", "frozen", "moved"]
REASONS: tuple[Reason, ...] = ("covered", "frozen", "moved")
Gray = npt.NDArray[np.uint8]


class TamperSettings(BaseModel):
    """When a camera's picture counts as covered, frozen or moved."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    analysis_height: int = Field(
        64, ge=16, le=360, description="Frames are scaled down to this height (px) for the checks")
    uniform_std: float = Field(
        4.0, ge=0, le=64,
        description="Below this spatial standard deviation of brightness (0-255) the picture is uniform")
    covered_s: float = Field(5.0, ge=0, le=3600, description="Uniform this long (s) → covered")
    frozen_change: float = Field(
        1.0, ge=0, le=16,
        description="Below this mean brightness change (0-255) from the previous frame the picture counts "
                    "as unchanged: a live picture changes by its sensor noise (about 2 levels), while a "
                    "frozen one re-encoded at each keyframe changes by a fraction of a level")
    frozen_s: float = Field(
        10.0, ge=0.5, le=3600, description="No pixel changing at all for this long (s) → frozen")
    moved_correlation: float = Field(
        0.5, ge=0, le=1,
        description="Below this correlation of the frame's edges with the learned reference the view "
                    "looks moved")
    moved_s: float = Field(5.0, ge=0, le=3600, description="Looking moved this long (s) → moved")
    reference_time_s: float = Field(
        120.0, ge=1, le=86400,
        description="Time constant (s) over which the reference edge map is learned from normal frames")
    learn_s: float = Field(
        5.0, ge=0, le=600, description="After a start, how long (s) the reference is learned before `moved` "
                                       "is checked")
    relearn_s: float = Field(
        600.0, ge=0, le=86400,
        description="A view moved this long (s) becomes the new reference and `moved` clears (0 = never)")
    clear_s: float = Field(2.0, ge=0, le=600, description="A condition clears after being gone this long (s)")


@dataclass(frozen=True, slots=True, kw_only=True)
class TamperTransition:
    kind: Literal["start", "clear"]
    reason: Reason


@dataclass(frozen=True, slots=True, kw_only=True)
class TamperResult:
    """What one frame showed: the transitions on this frame, the conditions now active, and the
    measurements behind them (spatial brightness spread, edge correlation with the reference)."""

    transitions: tuple[TamperTransition, ...]
    active: frozenset[Reason]
    spread: float
    correlation: float | None  # None while the reference is being learned or the picture is uniform


@dataclass(frozen=True, slots=True, kw_only=True)
class _Condition:
    """Debounce of one condition: since when it holds (or has been gone), and whether it is raised."""

    since: float | None = None  # when the condition started holding
    gone_since: float | None = None  # when it stopped holding, while raised
    raised: bool = False


class _Buffers:
    def __init__(self, gray: Gray, settings: TamperSettings) -> None:
        height, width = gray.shape
        self.shape = gray.shape
        self.size = (max(1, round(width * settings.analysis_height / height)), settings.analysis_height)
        self.previous = gray.copy()
        self.reference = _edges(cv2.resize(gray, self.size, interpolation=cv2.INTER_LINEAR))


@dataclass(frozen=True, slots=True, kw_only=True)
class TamperState:
    settings: TamperSettings
    buffers: _Buffers
    started: float
    t: float
    conditions: tuple[_Condition, _Condition, _Condition]  # in the order of REASONS


def _edges(small: MatLike) -> MatLike:
    """Edge strength, blurred so that a shake of a pixel or two still correlates."""
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.GaussianBlur(cv2.magnitude(gx, gy), (5, 5), 0)


def _correlation(a: MatLike, b: MatLike) -> float:
    """Normalised (Pearson) correlation of two edge maps: blind to a global change of gain."""
    a_mean, a_std = cv2.meanStdDev(a)
    b_mean, b_std = cv2.meanStdDev(b)
    if a_std[0, 0] < 1e-6 or b_std[0, 0] < 1e-6:
        return 0.0
    covariance = float(cv2.mean(cv2.multiply(a - a_mean[0, 0], b - b_mean[0, 0]))[0])
    return covariance / float(a_std[0, 0] * b_std[0, 0])


def tamper_step(state: TamperState | None, gray: Gray, t: float, settings: TamperSettings
                ) -> tuple[TamperState, TamperResult]:
    """Check one gray frame (uint8, 2-D, camera resolution) taken at ``t`` (s).

    A new frame size, new settings or time going backwards restart the state.
    """
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"tamper needs a 2-D uint8 gray frame, got {gray.dtype} {gray.shape}")
    if (state is None or state.buffers.shape != gray.shape or t <= state.t
            or (state.settings is not settings and state.settings != settings)):
        buffers = _Buffers(gray, settings)
        fresh = TamperState(settings=settings, buffers=buffers, started=t, t=t,
                            conditions=(_Condition(), _Condition(), _Condition()))
        return fresh, TamperResult(transitions=(), active=frozenset(), spread=_spread(gray, buffers),
                                   correlation=None)
    buffers = state.buffers
    small = cv2.resize(gray, buffers.size, interpolation=cv2.INTER_LINEAR)
    spread = float(cv2.meanStdDev(small)[1][0, 0])
    uniform = spread < settings.uniform_std
    frozen = not uniform and float(cv2.mean(cv2.absdiff(gray, buffers.previous))[0]) < settings.frozen_change
    buffers.previous[...] = gray
    correlation = None if uniform or frozen else _moved_check(state, small, t)
    looks_moved = correlation is not None and correlation < settings.moved_correlation
    holds = (uniform, frozen, looks_moved)
    delays = (settings.covered_s, settings.frozen_s, settings.moved_s)
    transitions: list[TamperTransition] = []
    conditions = []
    # A repeated picture has been on screen since the previous frame, when it first appeared.
    began = (t, state.t, t)
    for reason, condition, held, delay, first in zip(REASONS, state.conditions, holds, delays, began,
                                                     strict=True):
        new, kind = _debounce(condition, held, first, t, delay, settings.clear_s)
        conditions.append(new)
        if kind is not None:
            transitions.append(TamperTransition(kind=kind, reason=reason))
    if conditions[2].raised and settings.relearn_s and conditions[2].since is not None \
            and t - conditions[2].since >= settings.relearn_s:
        buffers.reference = _edges(small)  # the new view is accepted: `moved` clears once it matches
    new_state = TamperState(settings=settings, buffers=buffers, started=state.started, t=t,
                            conditions=(conditions[0], conditions[1], conditions[2]))
    active = frozenset(r for r, c in zip(REASONS, conditions, strict=True) if c.raised)
    return new_state, TamperResult(transitions=tuple(transitions), active=active, spread=spread,
                                   correlation=correlation)


def _spread(gray: Gray, buffers: _Buffers) -> float:
    return float(cv2.meanStdDev(cv2.resize(gray, buffers.size, interpolation=cv2.INTER_LINEAR))[1][0, 0])


def _moved_check(state: TamperState, small: MatLike, t: float) -> float | None:
    """Correlation with the reference (None while learning); the reference learns from frames that
    look like it, so a moved view does not teach itself in."""
    settings, buffers = state.settings, state.buffers
    edges = _edges(small)
    learning = t - state.started < settings.learn_s
    correlation = None if learning else _correlation(edges, buffers.reference)
    if learning or (correlation is not None and correlation >= settings.moved_correlation):
        tau = settings.learn_s / 4 if learning and settings.learn_s > 0 else settings.reference_time_s
        cv2.accumulateWeighted(edges, buffers.reference, 1.0 - math.exp(-(t - state.t) / max(tau, 1e-3)))
    return correlation


def _debounce(condition: _Condition, held: bool, began: float, t: float, delay: float, clear_s: float
              ) -> tuple[_Condition, Literal["start", "clear"] | None]:
    """Raise after ``delay`` of holding (since ``began`` when it starts now); clear after ``clear_s``
    of not holding."""
    if held:
        since = condition.since if condition.since is not None else began
        if not condition.raised and t - since >= delay - 1e-6:
            return _Condition(since=since, raised=True), "start"
        return _Condition(since=since, raised=condition.raised), None
    if not condition.raised:
        return _Condition(), None
    gone = condition.gone_since if condition.gone_since is not None else t
    if t - gone >= clear_s - 1e-6:
        return _Condition(), "clear"
    return _Condition(since=condition.since, gone_since=gone, raised=True), None

"""Per-camera motion settings, validated at the edge (config file, API).

Every time is in seconds, never in frames: the detector turns each into a per-frame rate from the
actual time between frames, so one setting behaves the same at 4, 5 and 25 fps.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Point = tuple[Annotated[int, Field(ge=0, le=16384)], Annotated[int, Field(ge=0, le=16384)]]
Polygon = Annotated[list[Point], Field(min_length=3, max_length=64)]


def _odd(value: int) -> int:
    if value % 2 == 0:
        raise ValueError("must be odd (a blur kernel has a centre pixel)")
    return value


class MotionSettings(BaseModel):
    """How one camera's frames are turned into motion boxes and events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    analysis_height: int = Field(
        100, ge=32, le=720,
        description="Frames are scaled down to this height (px) before analysis; the width keeps the aspect")
    contrast: bool = Field(
        False,
        description="Stretch each frame between its 4th and 96th brightness percentiles (averaged over "
                    "contrast_time_s), so dim or washed-out scenes keep their sensitivity. Off by default: "
                    "on the evaluation clips it amplified noise into false events")
    contrast_time_s: float = Field(
        10.0, gt=0, le=600, description="Time constant (s) over which the stretch's percentiles are averaged")
    contrast_max_gain: float = Field(
        2.0, ge=1, le=16,
        description="Most the stretch may amplify: above it, a dark scene's noise would look like motion")
    masks: list[Polygon] = Field(
        default_factory=list, max_length=32,
        description="Ignored regions: polygons of [x, y] points in the camera's own pixel coordinates")
    blur_size: Annotated[int, AfterValidator(_odd)] = Field(
        5, ge=1, le=31, description="Gaussian blur kernel (px at the analysis height, odd; 1 = none)")
    background_time_s: float = Field(
        8.0, ge=0.5, le=600,
        description="Time constant (s) of the running-average background: how long a change stays "
                    "visible before it becomes background (a parked car, a moved chair)")
    threshold: int = Field(
        25, ge=1, le=255, description="Least brightness difference (0-255) from the background that counts")
    noise_factor: float = Field(
        5.0, ge=0, le=20,
        description="A pixel also needs a difference above this many of its own learned deviations, so "
                    "flicker and waving leaves raise their own threshold (0 = off)")
    noise_time_s: float = Field(
        20.0, ge=1, le=3600, description="Time constant (s) over which each pixel's deviation is learned")
    dilation: int = Field(
        2, ge=0, le=10, description="Dilation passes (3x3) joining the parts of one moving object")
    min_area: float = Field(
        0.003, ge=0, le=0.5,
        description="Least area of a moving region, as a fraction of the frame (resolution independent)")
    calibration_fraction: float = Field(
        0.5, gt=0, le=1,
        description="A change over more than this fraction of the frame at once (lights, IR switch) is "
                    "not motion: the background is learned again")
    calibration_s: float = Field(
        2.0, ge=0, le=60,
        description="After a start or a large scene change, how long (s) the background is learned and "
                    "no motion is reported")
    confirm_s: float = Field(
        0.6, ge=0, le=30,
        description="Motion must last this long (s) before an event starts; each frame counts for the "
                    "interval since the one before (3 frames at 4 or 5 fps, 15 at 25 fps)")
    quiet_s: float = Field(
        10.0, ge=0, le=600, description="An event ends after this long (s) without motion")

"""Motion and tamper detectors on generated frames, and the motion detector on one real clip."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError

from hub.motion import (
    MotionResult,
    MotionSettings,
    MotionState,
    TamperResult,
    TamperSettings,
    TamperState,
    step,
    tamper_step,
)

Gray = npt.NDArray[np.uint8]
HEIGHT, WIDTH = 180, 320
CLIPS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "motion"


def background(seed: int = 1) -> npt.NDArray[np.float32]:
    """A textured, smooth still scene (walls, furniture): blurred random blobs, 40-200."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(40, 200, (HEIGHT // 20, WIDTH // 20)).astype(np.float32)
    scene = cv2.resize(coarse, (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    return np.clip(scene, 0, 255).astype(np.float32)


class Camera:
    """Renders frames of a scene at time t with sensor noise (sigma 2)."""

    def __init__(self, scene: npt.NDArray[np.float32], seed: int = 7) -> None:
        self.scene = scene
        self.rng = np.random.default_rng(seed)

    def frame(self, t: float, *, square: tuple[int, int] | None = None, gain: float = 1.0) -> Gray:
        picture = self.scene * gain
        if square is not None:
            x, y = square
            picture = picture.copy()
            picture[y:y + 24, x:x + 24] = 250.0
        noisy = picture + self.rng.normal(0, 2, picture.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8)


def walker(enter: float, leave: float) -> Callable[[float], tuple[int, int] | None]:
    """A square crossing the frame from left to right between two times (positions from time, not
    frame number, so any fps sees the same motion)."""
    def where(t: float) -> tuple[int, int] | None:
        if not enter <= t < leave:
            return None
        return int(20 + (t - enter) / (leave - enter) * (WIDTH - 64)), 80
    return where


def run_motion(frames: Iterator[tuple[float, Gray]], settings: MotionSettings
               ) -> list[tuple[float, MotionResult]]:
    state: MotionState | None = None
    out = []
    for t, gray in frames:
        state, result = step(state, gray, t, settings)
        out.append((t, result))
    return out


def times(results: list[tuple[float, MotionResult]], transition: str) -> list[float]:
    return [t for t, r in results if r.transition == transition]


def walking(fps: float, seconds: float, enter: float, leave: float, *, settings: MotionSettings | None = None
            ) -> list[tuple[float, MotionResult]]:
    camera, where = Camera(background()), walker(enter, leave)
    frames = ((i / fps, camera.frame(i / fps, square=where(i / fps))) for i in range(int(seconds * fps)))
    return run_motion(frames, settings or MotionSettings())


# -- motion ----------------------------------------------------------------------------------------


def test_moving_square_starts_after_confirm_and_ends_after_quiet() -> None:
    settings = MotionSettings()
    fps = 5.0
    results = walking(fps, 25, enter=4.0, leave=9.0)
    starts, ends = times(results, "start"), times(results, "end")
    assert starts == [pytest.approx(4.0 + settings.confirm_s, abs=1 / fps)]
    assert len(ends) == 1
    # The last frame with the square is just before 9 s; the end comes quiet_s later.
    assert 9.0 - 1 / fps + settings.quiet_s <= ends[0] + 1e-9 <= 9.0 + settings.quiet_s + 1 / fps
    during = [r for t, r in results if starts[0] <= t < 9.0]
    assert all(r.event == 1 for r in during)
    assert any(r.transition == "update" for r in during)
    box = next(r for t, r in results if t == starts[0]).boxes[0]
    assert box.y0 <= 80 + 2 and box.y1 >= 80 + 24 - 2  # in the camera's own pixels
    assert all(r.event is None for t, r in results if t < starts[0] or t > ends[0])


def test_brightness_jump_calibrates_without_an_event() -> None:
    camera = Camera(background())
    frames = ((i / 5, camera.frame(i / 5, gain=1.0 if i < 30 else 0.55)) for i in range(80))
    results = run_motion(frames, MotionSettings())
    jump = next(r for t, r in results if t == 6.0)
    assert jump.calibrating and jump.fraction > 0.5 and not jump.boxes
    assert times(results, "start") == []
    assert not results[-1][1].calibrating  # it settles again


def test_motion_inside_a_mask_raises_no_event() -> None:
    # The walker crosses the band y 80-104 (camera pixels); the mask covers y 60-130 across the frame.
    mask = [[(0, 60), (WIDTH - 1, 60), (WIDTH - 1, 130), (0, 130)]]
    unmasked = walking(5.0, 12, enter=3.0, leave=8.0)
    masked = walking(5.0, 12, enter=3.0, leave=8.0, settings=MotionSettings(masks=mask))
    assert len(times(unmasked, "start")) == 1  # the same scene without the mask does start one
    assert times(masked, "start") == []
    assert all(r.fraction == 0 for _, r in masked)


@pytest.mark.parametrize("fps", [4.0, 25.0])
def test_same_scene_at_4_and_25_fps_starts_together(fps: float) -> None:
    reference = times(walking(5.0, 20, enter=4.0, leave=10.0), "start")
    starts = times(walking(fps, 20, enter=4.0, leave=10.0), "start")
    assert len(starts) == len(reference) == 1
    assert starts[0] == pytest.approx(reference[0], abs=max(1 / fps, 1 / 5.0))


def test_4_and_25_fps_agree_within_one_frame() -> None:
    slow = walking(4.0, 24, enter=4.0, leave=10.0)
    fast = walking(25.0, 24, enter=4.0, leave=10.0)
    assert times(slow, "start")[0] == pytest.approx(times(fast, "start")[0], abs=1 / 4)
    assert times(slow, "end")[0] == pytest.approx(times(fast, "end")[0], abs=1 / 4)


def test_new_frame_size_restarts_the_state() -> None:
    settings = MotionSettings()
    state, _ = step(None, np.zeros((120, 160), np.uint8), 0.0, settings)
    state, result = step(state, np.zeros((240, 320), np.uint8), 0.2, settings)
    assert result.calibrating and state.model.shape == (240, 320)
    with pytest.raises(ValueError, match="2-D uint8"):
        step(state, np.zeros((240, 320, 3), np.uint8), 0.4, settings)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("blur_size", 4, "must be odd"),
    ("threshold", 0, "greater than or equal to 1"),
    ("background_time_s", 0.1, "greater than or equal to 0.5"),
    ("confirm_s", -1, "greater than or equal to 0"),
    ("calibration_fraction", 1.5, "less than or equal to 1"),
    ("masks", [[(0, 0), (10, 10)]], "at least 3 items"),
    ("masks", [[(0, 0), (10, -1), (5, 5)]], "greater than or equal to 0"),
    ("frames_to_confirm", 3, "Extra inputs are not permitted"),
])
def test_settings_reject_out_of_bounds_values(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        MotionSettings.model_validate({field: value})
    assert caught.value.errors()[0]["loc"][0] == field


def test_tamper_settings_reject_out_of_bounds_values() -> None:
    with pytest.raises(ValidationError, match="moved_correlation"):
        TamperSettings(moved_correlation=1.5)
    with pytest.raises(ValidationError, match="frozen_s"):
        TamperSettings(frozen_s=0)


# -- tamper ----------------------------------------------------------------------------------------


def run_tamper(frames: Iterator[tuple[float, Gray]], settings: TamperSettings | None = None
               ) -> list[tuple[float, TamperResult]]:
    state: TamperState | None = None
    out = []
    for t, gray in frames:
        state, result = tamper_step(state, gray, t, settings or TamperSettings())
        out.append((t, result))
    return out


def changes(results: list[tuple[float, TamperResult]]) -> list[tuple[float, str, str]]:
    return [(t, c.kind, c.reason) for t, r in results for c in r.transitions]


def test_covered_lens_is_reported_and_cleared() -> None:
    camera = Camera(background())
    dark = Camera(np.full((HEIGHT, WIDTH), 12, np.float32))
    settings = TamperSettings()

    def frame(i: int) -> Gray:
        return dark.frame(i / 5) if 50 <= i < 150 else camera.frame(i / 5)

    found = changes(run_tamper(((i / 5, frame(i)) for i in range(200)), settings))
    assert found == [(pytest.approx(10.0 + settings.covered_s), "start", "covered"),
                     (pytest.approx(30.0 + settings.clear_s), "clear", "covered")]


def test_identical_frames_are_frozen() -> None:
    camera = Camera(background())
    still = camera.frame(0)
    settings = TamperSettings()
    frames = ((i / 5, still if 25 <= i < 125 else camera.frame(i / 5)) for i in range(160))
    found = changes(run_tamper(frames, settings))
    assert found == [(pytest.approx(5.0 + settings.frozen_s), "start", "frozen"),
                     (pytest.approx(25.0 + settings.clear_s), "clear", "frozen")]


def test_a_moved_view_is_reported() -> None:
    camera = Camera(background(seed=1))
    elsewhere = Camera(np.roll(background(seed=2), 40, axis=1))
    settings = TamperSettings()
    frames = ((i / 5, (camera if i < 75 else elsewhere).frame(i / 5)) for i in range(150))
    results = run_tamper(frames, settings)
    assert changes(results) == [(pytest.approx(15.0 + settings.moved_s), "start", "moved")]
    assert results[-1][1].active == {"moved"}


def test_normal_frames_lights_and_a_walker_raise_nothing() -> None:
    camera, where = Camera(background()), walker(10.0, 20.0)

    def frame(t: float) -> Gray:
        return camera.frame(t, square=where(t), gain=0.6 if t >= 30 else 1.0)  # the lights dim at 30 s

    results = run_tamper((i / 5, frame(i / 5)) for i in range(250))
    assert changes(results) == []
    correlations = [r.correlation for _, r in results if r.correlation is not None]
    assert min(correlations) > TamperSettings().moved_correlation


# -- a real clip -----------------------------------------------------------------------------------


@pytest.mark.skipif(not (CLIPS / "wallflower_wavingtrees.mp4").exists(), reason="dataset not present")
def test_waving_trees_clip_starts_only_when_the_person_walks_in() -> None:
    """Wallflower WavingTrees (Toyama et al., ICCV 1999): a tree waves throughout; a person enters at
    frame 242 (4 fps)."""
    info = json.loads((CLIPS / "wallflower_wavingtrees.json").read_text(encoding="utf-8"))
    fps = float(info["fps"])
    enters = info["ground_truth"]["expected_motion_intervals"][0][0]
    state: MotionState | None = None
    starts = []
    with av.open(str(CLIPS / "wallflower_wavingtrees.mp4")) as container:
        for index, frame in enumerate(container.decode(video=0)):
            plane = frame.planes[0]
            gray = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :plane.width]
            state, result = step(state, np.ascontiguousarray(gray), index / fps, MotionSettings())
            if result.transition == "start":
                starts.append(index)
    assert starts, "no event when the person walks in"
    assert all(s >= enters - 2 for s in starts), f"events before the person: {starts}"
    assert starts[0] <= enters + 2 * fps

"""Synthetic camera scenes with ground truth, rendered as gray frames.

Each scene is a pure function of its ``SceneSpec``: the same spec (seed included) renders the same
frames, so a motion benchmark can score a scene directly (``render_scene``) and the RTSP server can
encode it once and replay it (``simulators.camera.encode``).

Ground truth is a list of ``Truth(kind, start_s, end_s)`` per loop, times in seconds from the start
of the loop. Only ``object`` means that motion must be reported; every other kind names a
nuisance (``lights``, ``daylight``, ``foliage``, ``rain``, ``shake``) or a tamper condition
(``covered``, ``frozen``) that a motion detector must not report as motion.

| scene | what happens | truth |
| --- | --- | --- |
| ``still`` | static textured room with sensor noise | none |
| ``walk`` | an object enters, crosses and leaves, 1–3 times per loop | ``object`` per crossing |
| ``lights`` | lights switched off at 30 %, on at 70 % of the loop, nobody present | ``lights`` (off span) |
| ``daylight`` | slow global brightness ramp up then down over the loop | ``daylight`` (whole loop) |
| ``foliage`` | a tree crown sways over a static background | ``foliage`` (whole loop) |
| ``rain`` | short bright slanted streaks over the whole frame | ``rain`` (whole loop) |
| ``shake`` | the whole frame jitters by up to 3 pixels | ``shake`` (whole loop) |
| ``covered`` | the lens is covered (near-uniform dark) from 40 % of the loop | ``covered`` |
| ``frozen`` | the picture freezes (identical frames) from 40 % of the loop | ``frozen`` |

One more scene is a measuring instrument, not a view, and is left out of ``scene_names()`` (so motion
benchmarks do not score it): ``timecode`` shows the frame's index within the loop as 32 black or white
blocks (16 bits and their complement, ``timecode_cells``), big enough to survive H.264 at any bitrate
a camera uses. With the camera's timeline (``LiveCamera.epoch``, ``fps``, loop length) the index gives
when the frame was captured (sent), so a reader of the picture anywhere downstream knows its age
(``read_timecode``; ``bench/live_latency.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

Gray = np.ndarray
FrameFn = Callable[[int], Gray]

NOISE_SIGMA = 2.5
NOISE_BANK = 8


@dataclass(frozen=True, slots=True)
class Truth:
    """One ground-truth interval of a scene loop, in seconds from the loop's start."""

    kind: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class SceneSpec:
    """What to render: scene name, frame size, frame rate, loop length and random seed."""

    name: str
    width: int = 640
    height: int = 360
    fps: float = 5.0
    duration_s: float = 60.0
    seed: int = 1

    @property
    def frame_count(self) -> int:
        return max(1, round(self.duration_s * self.fps))

    def time_of(self, index: int) -> float:
        """Seconds from the loop start at which frame ``index`` is shown."""
        return index / self.fps


@dataclass(frozen=True, slots=True)
class RenderedScene:
    """A scene's frames (gray, uint8, height x width) with its ground truth."""

    spec: SceneSpec
    frames: tuple[Gray, ...]
    truth: tuple[Truth, ...]


@dataclass(frozen=True, slots=True)
class _Scene:
    truth: tuple[Truth, ...]
    frame: FrameFn


def scene_names() -> list[str]:
    """The synthetic scene names (clips are named ``clip-<stem>``, see ``simulators.camera.clips``)."""
    return sorted(_SCENES)


def scene_truth(spec: SceneSpec) -> tuple[Truth, ...]:
    """The ground truth of one loop of the scene, without rendering it."""
    if spec.name.startswith("clip-"):
        from simulators.camera import clips

        return clips.clip_truth(spec.name)
    return _script(spec).truth


def iter_frames(spec: SceneSpec) -> Iterator[Gray]:
    """The gray frames of one loop of the scene, in order."""
    if spec.name.startswith("clip-"):
        from simulators.camera import clips

        yield from clips.iter_clip_frames(spec.name)
        return
    scene = _script(spec)
    for index in range(spec.frame_count):
        yield scene.frame(index)


def render_scene(spec: SceneSpec) -> RenderedScene:
    """Render one loop of a scene (synthetic or ``clip-<stem>``) with its ground truth."""
    if spec.name.startswith("clip-"):
        from simulators.camera import clips

        spec = clips.clip_spec(spec.name)
    return RenderedScene(spec, tuple(iter_frames(spec)), scene_truth(spec))


def to_bgr(gray: Gray) -> np.ndarray:
    """A BGR copy of a gray frame, for consumers that want colour frames."""
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def _script(spec: SceneSpec) -> _Scene:
    make = _SCENES.get(spec.name) or _INSTRUMENTS.get(spec.name)
    if make is None:
        known = ", ".join([*scene_names(), *_INSTRUMENTS])
        raise ValueError(f"unknown scene {spec.name!r}; known: {known}, clip-<stem>")
    if spec.width < 32 or spec.height < 32 or spec.width % 2 or spec.height % 2:
        raise ValueError(f"frame size {spec.width}x{spec.height}: both sides must be even and at least 32")
    return make(spec, np.random.default_rng(spec.seed))


# --- building blocks ------------------------------------------------------------------------------


def _background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """A static textured room: smooth shading, fine texture and a few flat 'furniture' blocks."""
    coarse = rng.uniform(70, 180, (height // 40 + 2, width // 40 + 2)).astype(np.float32)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = cv2.GaussianBlur(rng.normal(0, 12, (height, width)).astype(np.float32), (0, 0), 1.0)
    image = image + fine
    for _ in range(6):
        x0, y0 = int(rng.integers(0, width * 3 // 4)), int(rng.integers(0, height * 3 // 4))
        x1 = x0 + int(rng.integers(width // 16, width // 4))
        y1 = y0 + int(rng.integers(height // 16, height // 4))
        image[y0:y1, x0:x1] = float(rng.uniform(40, 220)) + fine[y0:y1, x0:x1] * 0.5
    textured: np.ndarray = np.clip(image, 0, 255).astype(np.float32)
    return textured


class _Noise:
    """Sensor noise from a small bank of precomputed fields: cheap and deterministic per frame."""

    def __init__(self, width: int, height: int, rng: np.random.Generator, sigma: float = NOISE_SIGMA) -> None:
        self.bank = [rng.normal(0, sigma, (height, width)).astype(np.float32) for _ in range(NOISE_BANK)]

    def apply(self, image: np.ndarray, index: int) -> Gray:
        noisy = image + self.bank[(index * 5 + index // NOISE_BANK) % NOISE_BANK]
        return np.clip(noisy, 0, 255).astype(np.uint8)


def _whole_loop(kind: str, spec: SceneSpec) -> tuple[Truth, ...]:
    return (Truth(kind, 0.0, spec.frame_count / spec.fps),)


# --- the scenes -----------------------------------------------------------------------------------


def _still(spec: SceneSpec, rng: np.random.Generator) -> _Scene:
    background = _background(spec.width, spec.height, rng)
    noise = _Noise(spec.width, spec.height, rng)
    return _Scene((), lambda index: noise.apply(background, index))


@dataclass(frozen=True, slots=True)
class _Crossing:
    start_s: float
    cross_s: float
    top: int
    left_to_right: bool

    def left(self, t: float, width: int, object_width: int) -> float:
        """The object's left edge at time ``t``: off-frame at start and end of the crossing."""
        fraction = (t - self.start_s) / self.cross_s
        if not self.left_to_right:
            fraction = 1.0 - fraction
        return -object_width + fraction * (width + object_width)


def _crossings(spec: SceneSpec, rng: np.random.Generator, object_height: int) -> list[_Crossing]:
    loop_s = spec.frame_count / spec.fps
    visits = max(1, min(3, int(loop_s // 10)))
    slot = loop_s / visits
    cross_s = min(4.0, slot * 0.5)
    return [
        _Crossing(
            start_s=round(k * slot + slot * float(rng.uniform(0.2, 0.4)), 3),
            cross_s=cross_s,
            top=int(rng.integers(spec.height // 4, max(spec.height // 4 + 1, spec.height - object_height))),
            left_to_right=k % 2 == 0,
        )
        for k in range(visits)
    ]


def _walk(spec: SceneSpec, rng: np.random.Generator) -> _Scene:
    background = _background(spec.width, spec.height, rng)
    noise = _Noise(spec.width, spec.height, rng)
    obj_w, obj_h = max(4, spec.width // 10), max(8, spec.height * 2 // 5)
    sprite = np.clip(35 + rng.normal(0, 8, (obj_h, obj_w)), 0, 255).astype(np.float32)
    crossings = _crossings(spec, rng, obj_h)

    def frame(index: int) -> Gray:
        t = spec.time_of(index)
        image = background
        for crossing in crossings:
            if crossing.start_s < t < crossing.start_s + crossing.cross_s:
                image = image.copy()
                _paste(image, sprite, round(crossing.left(t, spec.width, obj_w)), crossing.top)
        return noise.apply(image, index)

    truth = tuple(Truth("object", c.start_s, round(c.start_s + c.cross_s, 3)) for c in crossings)
    return _Scene(truth, frame)


def _paste(image: np.ndarray, sprite: np.ndarray, left: int, top: int) -> None:
    height, width = image.shape
    x0, x1 = max(0, left), min(width, left + sprite.shape[1])
    y0, y1 = max(0, top), min(height, top + sprite.shape[0])
    if x0 < x1 and y0 < y1:
        image[y0:y1, x0:x1] = sprite[y0 - top : y1 - top, x0 - left : x1 - left]


def _lights(spec: SceneSpec, rng: np.random.Generator) -> _Scene:
    loop_s = spec.frame_count / spec.fps
    off_s, on_s = round(loop_s * 0.3, 3), round(loop_s * 0.7, 3)
    background = _background(spec.width, spec.height, rng)
    dark = background * 0.22 + 6
    noise = _Noise(spec.width, spec.height, rng)

    def frame(index: int) -> Gray:
        lit = not off_s <= spec.time_of(index) < on_s
        return noise.apply(background if lit else dark, index)

    return _Scene((Truth("lights", off_s, on_s),), frame)


def _daylight(spec: SceneSpec, rng: np.random.Generator) -> _Scene:
    loop_s = spec.frame_count / spec.fps
    background = _background(spec.width, spec.height, rng)
    noise = _Noise(spec.width, spec.height, rng)

    def frame(index: int) -> Gray:
        ramp = 1.0 - abs(2.0 * spec.time_of(index) / loop_s - 1.0)  # 0 → 1 → 0 over the loop
        return noise.apply(background * (0.55 + 0.6 * ramp), index)

    return _Scene(_whole_loop("daylight", spec), frame)


def _foliage(spec: SceneSpec, rng: np.random.Generator) -> _Scene:
    background = _background(spec.width, spec.height, rng)
    noise = _Noise(spec.width, spec.height, rng)
    box_w, box_h = spec.width // 3, spec.height * 2 // 3
    left, top = spec.width - box_w - spec.width // 20, spec.height // 12
    leaves = cv2.GaussianBlur(rng.uniform(20, 150, (box_h, box_w)).astype(np.float32), (0, 0), 1.5)
    crown = np.zeros((box_h, box_w), np.float32)
    cv2.ellipse(crown, (box_w // 2, box_h // 2), (box_w * 2 // 5, box_h * 2 // 5), 0, 0, 360, 1.0, -1)
    amplitude = max(2.0, spec.width / 60)
    xs, ys = np.meshgrid(np.arange(box_w, dtype=np.float32), np.arange(box_h, dtype=np.float32))
    bend = 1.0 - ys / box_h  # the top of the crown sways most

    def frame(index: int) -> Gray:
        t = spec.time_of(index)
        sway = amplitude * (math.sin(2 * math.pi * t / 2.3) + 0.4 * math.sin(2 * math.pi * t / 0.9))
        map_x = xs - sway * bend
        moved = cv2.remap(leaves, map_x, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        mask = cv2.remap(crown, map_x, ys, cv2.INTER_LINEAR, borderValue=0.0)
        image = background.copy()
        region = image[top : top + box_h, left : left + box_w]
        region[:] = region * (1.0 - mask) + moved * mask
        return noise.apply(image, index)

    return _Scene(_whole_loop("foliage", spec), frame)


def _rain(spec: SceneSpec, rng: np.random.Generator) -> _Scene:
    background = _background(spec.width, spec.height, rng)
    noise = _Noise(spec.width, spec.height, rng)
    streaks = max(20, spec.width * spec.height // 1500)

    def frame(index: int) -> Gray:
        local = np.random.default_rng((spec.seed, index))
        overlay = np.zeros((spec.height, spec.width), np.float32)
        xs = local.integers(0, spec.width, streaks)
        ys = local.integers(0, spec.height, streaks)
        lengths = local.integers(max(3, spec.height // 45), max(4, spec.height // 18), streaks)
        for x, y, length in zip(xs, ys, lengths, strict=True):
            end = (int(x + length // 4), int(y + length))
            cv2.line(overlay, (int(x), int(y)), end, float(local.uniform(25, 60)), 1)
        return noise.apply(background + overlay, index)

    return _Scene(_whole_loop("rain", spec), frame)


def _shake(spec: SceneSpec, rng: np.random.Generator) -> _Scene:
    pad = 3
    background = _background(spec.width + 2 * pad, spec.height + 2 * pad, rng)
    noise = _Noise(spec.width, spec.height, rng)

    def frame(index: int) -> Gray:
        local = np.random.default_rng((spec.seed, index))
        dx, dy = (int(v) for v in local.integers(-pad, pad + 1, 2))
        crop = background[pad + dy : pad + dy + spec.height, pad + dx : pad + dx + spec.width]
        return noise.apply(crop, index)

    return _Scene(_whole_loop("shake", spec), frame)


def _covered(spec: SceneSpec, rng: np.random.Generator) -> _Scene:
    loop_s = spec.frame_count / spec.fps
    covered_s = round(loop_s * 0.4, 3)
    background = _background(spec.width, spec.height, rng)
    dark = np.full((spec.height, spec.width), 14.0, np.float32)
    noise = _Noise(spec.width, spec.height, rng)
    faint = _Noise(spec.width, spec.height, rng, sigma=1.0)

    def frame(index: int) -> Gray:
        if spec.time_of(index) >= covered_s:
            return faint.apply(dark, index)
        return noise.apply(background, index)

    return _Scene((Truth("covered", covered_s, loop_s),), frame)


def _frozen(spec: SceneSpec, rng: np.random.Generator) -> _Scene:
    loop_s = spec.frame_count / spec.fps
    frozen_s = round(loop_s * 0.4, 3)
    frozen_index = math.ceil(frozen_s * spec.fps)
    background = _background(spec.width, spec.height, rng)
    noise = _Noise(spec.width, spec.height, rng)

    def frame(index: int) -> Gray:
        return noise.apply(background, min(index, frozen_index))

    return _Scene((Truth("frozen", frozen_index / spec.fps, loop_s),), frame)


# --- the timecode instrument ---------------------------------------------------------------------

TIMECODE_BITS = 16
# 32 cells, 8 across and 4 down over the whole picture, read row by row: the index's 16 bits (most
# significant first), then their complement (a check: a half-decoded picture reads as no code at all).
_TIMECODE_COLUMNS, _TIMECODE_ROWS = 8, 4
_TIMECODE_BLACK, _TIMECODE_WHITE = 24, 232


def timecode_cells(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """``(x0, y0, x1, y1)`` of the 32 timecode cells of a ``width`` x ``height`` picture, in bit order;
    a reader samples the middle half of each (``read_timecode``, or a browser through a canvas)."""
    cell_w, cell_h = width // _TIMECODE_COLUMNS, height // _TIMECODE_ROWS
    return [(c * cell_w, r * cell_h, (c + 1) * cell_w, (r + 1) * cell_h)
            for r in range(_TIMECODE_ROWS) for c in range(_TIMECODE_COLUMNS)]


def timecode_bits(index: int) -> list[int]:
    """The 32 cell values (1 white) that show frame ``index``: its 16 bits, then their complement."""
    bits = [(index >> (TIMECODE_BITS - 1 - k)) & 1 for k in range(TIMECODE_BITS)]
    return bits + [1 - b for b in bits]


def read_timecode(gray: Gray) -> int | None:
    """The frame index shown by a decoded ``timecode`` picture (gray, any size), or None when the cells
    do not read as a valid code (a half-decoded or corrupted picture)."""
    height, width = gray.shape[:2]
    values = []
    for x0, y0, x1, y1 in timecode_cells(width, height):
        dx, dy = (x1 - x0) // 4, (y1 - y0) // 4
        values.append(int(float(gray[y0 + dy : y1 - dy, x0 + dx : x1 - dx].mean()) >= 128))
    bits, check = values[:TIMECODE_BITS], values[TIMECODE_BITS:]
    if any(b == c for b, c in zip(bits, check, strict=True)):
        return None
    return sum(b << (TIMECODE_BITS - 1 - k) for k, b in enumerate(bits))


def _timecode(spec: SceneSpec, rng: np.random.Generator) -> _Scene:
    if spec.frame_count > 1 << TIMECODE_BITS:
        raise ValueError(f"timecode: {spec.frame_count} frames per loop; at most {1 << TIMECODE_BITS}")
    cells = timecode_cells(spec.width, spec.height)

    def frame(index: int) -> Gray:
        image = np.full((spec.height, spec.width), _TIMECODE_BLACK, np.uint8)
        for (x0, y0, x1, y1), bit in zip(cells, timecode_bits(index), strict=True):
            if bit:
                image[y0:y1, x0:x1] = _TIMECODE_WHITE
        return image

    return _Scene((), frame)


_SCENES: dict[str, Callable[[SceneSpec, np.random.Generator], _Scene]] = {
    "still": _still,
    "walk": _walk,
    "lights": _lights,
    "daylight": _daylight,
    "foliage": _foliage,
    "rain": _rain,
    "shake": _shake,
    "covered": _covered,
    "frozen": _frozen,
}

# Scenes that measure the pipeline rather than show a view: playable, not in `scene_names()`.
_INSTRUMENTS: dict[str, Callable[[SceneSpec, np.random.Generator], _Scene]] = {
    "timecode": _timecode,
}

"""Detection quality of the motion detector on real clips, beside two baselines run on the same frames.

Clips: ``../shared/datasets/motion/`` (Wallflower, Toyama et al. ICCV 1999; CDnet 2012/2014, Goyal et al.
and Wang et al., CVPR Workshops), scored as its README says. Each clip is decoded once with PyAV (gray
from the Y plane) and every frame goes through three detectors at the clip's fps (frame time = index /
fps):

- **hub**: ``hub.motion.step`` with the default ``MotionSettings`` (one setting for every clip);
- **(a) running average**: plain differencing against a running average, alpha 0.05 per frame,
  threshold 25, contours of at least 10 px at 100 px high, no blur, no dilation, no calibration;
- **(b) Frigate's recipe**, written from its published description: 100 px high, contrast stretched
  between the 4th and 96th percentiles averaged over the last 50 frames, 3x3 blur, background rate
  0.01 per frame, threshold 30, one dilation, contours of at least 10 px, and above 80 % of the frame
  moving: calibrating (no motion, background rate 0.2).

The baselines go through the same event rules as the hub (motion for ``confirm_s`` starts an event,
``quiet_s`` without motion ends it) and, like the hub, ignore motion for ``calibration_s`` after the
start while their background settles, so the comparison is about detection alone. Every detector
scales down with ``INTER_LINEAR`` (``INTER_AREA`` at a non-integer factor costs 0.5 ms at 640x360).

Scoring (Wallflower): a visit (``expected_motion_intervals``) is found if an event starts inside it,
±1 s; a false event starts outside every interval ±1 s; false events are counted per hour of the
footage outside the intervals; "motion s" is the time an event is open outside them; onset is the
first start in a visit minus the visit's start. CDnet highway is positive-only: sensitivity is the
share of labelled frames inside an event.

    .venv/bin/python -m bench.motion_quality [--quick]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import av
import cv2
import numpy as np
import numpy.typing as npt

from bench.common import ROOT, Machine, command_line, fmt, log, parser, verdict, write_section
from hub.motion import MotionSettings, MotionState, TamperSettings, TamperState, step, tamper_step

DATASET = ROOT.parent / "shared" / "datasets" / "motion"
TOLERANCE_S = 1.0  # a visit is found by an event starting inside it, give or take this
Gray = npt.NDArray[np.uint8]


# -- clips -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Clip:
    name: str
    path: Path
    fps: float
    frames: int
    visits: tuple[tuple[int, int], ...] | None  # Wallflower: [start, end) frames; None: positive-only
    labelled: tuple[int, ...] = ()  # CDnet: the frames that carry a label (all with motion)

    @classmethod
    def load(cls, meta: Path) -> Clip:
        info = json.loads(meta.read_text(encoding="utf-8"))
        truth = info["ground_truth"]
        visits = truth.get("expected_motion_intervals")
        labelled = tuple(f["i"] for f in truth.get("frames", ()) if f.get("motion_frac") is not None)
        return cls(name=info["name"], path=meta.with_name(info["file"]), fps=float(info["fps"]),
                   frames=int(info["frame_count"]),
                   visits=tuple((int(a), int(b)) for a, b in visits) if visits is not None else None,
                   labelled=labelled)


def gray_frames(path: Path, limit: int | None = None) -> Iterator[Gray]:
    """The Y plane of every frame (``line_size`` may exceed the width)."""
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if limit is not None and index >= limit:
                return
            plane = frame.planes[0]
            rows = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
            yield np.ascontiguousarray(rows[:, :plane.width])


# -- detectors -------------------------------------------------------------------------------------


class Detector(Protocol):
    name: str

    def moving(self, gray: Gray, t: float) -> tuple[bool, bool]:
        """(motion seen, calibrating) for one frame."""
        ...


def _contours_at_least(mask: Gray, area: float) -> bool:
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return any(cv2.contourArea(c) >= area for c in contours)


def _small(gray: Gray, height: int = 100) -> Gray:
    width = max(1, round(gray.shape[1] * height / gray.shape[0]))
    return cv2.resize(gray, (width, height), interpolation=cv2.INTER_LINEAR)


class RunningAverage:
    """Baseline (a)."""

    name = "(a) running average"

    def __init__(self) -> None:
        self.mean: npt.NDArray[np.float32] | None = None

    def moving(self, gray: Gray, t: float) -> tuple[bool, bool]:
        frame = _small(gray).astype(np.float32)
        if self.mean is None or self.mean.shape != frame.shape:
            self.mean = frame.copy()
            return False, False
        moving = cv2.threshold(cv2.absdiff(frame, self.mean), 25, 255, cv2.THRESH_BINARY)[1].astype(np.uint8)
        cv2.accumulateWeighted(frame, self.mean, 0.05)
        return _contours_at_least(moving, 10), False


class FrigateRecipe:
    """Baseline (b), from the published description of Frigate's motion detector."""

    name = "(b) Frigate recipe"

    def __init__(self) -> None:
        self.mean: npt.NDArray[np.float32] | None = None
        self.ranges: deque[tuple[float, float]] = deque(maxlen=50)

    def moving(self, gray: Gray, t: float) -> tuple[bool, bool]:
        small = _small(gray)
        self.ranges.append((float(np.percentile(small, 4)), float(np.percentile(small, 96))))
        low = statistics.fmean(r[0] for r in self.ranges)
        high = statistics.fmean(r[1] for r in self.ranges)
        stretched = np.clip((small.astype(np.float32) - low) * (255 / max(high - low, 1.0)), 0, 255)
        frame = cv2.GaussianBlur(stretched.astype(np.uint8), (3, 3), 0).astype(np.float32)
        if self.mean is None or self.mean.shape != frame.shape:
            self.mean = frame.copy()
            return False, False
        moving = cv2.threshold(cv2.absdiff(frame, self.mean), 30, 255, cv2.THRESH_BINARY)[1].astype(np.uint8)
        moving = cv2.dilate(moving, None, iterations=1)
        calibrating = cv2.countNonZero(moving) > 0.8 * moving.size
        cv2.accumulateWeighted(frame, self.mean, 0.2 if calibrating else 0.01)
        return (not calibrating and _contours_at_least(moving, 10)), calibrating


@dataclass(slots=True)
class EventRules:
    """The hub's event lifecycle (confirm_s, quiet_s), for the baselines."""

    confirm_s: float
    quiet_s: float
    moving_since: float | None = None
    last_motion: float | None = None
    open: bool = False
    t: float | None = None

    def feed(self, t: float, moving: bool) -> str | None:
        dt = t - self.t if self.t is not None else 0.0  # a frame stands for the interval before it
        self.t = t
        self.moving_since = (self.moving_since if self.moving_since is not None else t) if moving else None
        self.last_motion = t if moving else self.last_motion
        if self.open and moving:
            return "update"
        if self.open and self.last_motion is not None and t - self.last_motion >= self.quiet_s - 1e-6:
            self.open = False
            return "end"
        confirmed = self.moving_since is not None and t - self.moving_since + dt >= self.confirm_s - 1e-6
        if not self.open and confirmed:
            self.open = True
            return "start"
        return None


# -- running and scoring ---------------------------------------------------------------------------


@dataclass(slots=True)
class Run:
    """What one detector did on one clip: event start times, per frame whether an event was open,
    and the cost of each step (ns)."""

    starts: list[float] = field(default_factory=list)
    open: list[bool] = field(default_factory=list)
    cost_ns: list[int] = field(default_factory=list)
    calibrating_frames: int = 0


class Hub:
    name = "hub"

    def __init__(self, settings: MotionSettings) -> None:
        self.settings = settings
        self.state: MotionState | None = None
        self.open = False

    def run_frame(self, gray: Gray, t: float, run: Run) -> None:
        begin = time.perf_counter_ns()
        self.state, result = step(self.state, gray, t, self.settings)
        run.cost_ns.append(time.perf_counter_ns() - begin)
        if result.transition == "start":
            run.starts.append(t)
        self.open = result.event is not None and result.transition != "end"
        run.open.append(self.open)
        run.calibrating_frames += result.calibrating


class Baseline:
    def __init__(self, detector: Detector, settings: MotionSettings) -> None:
        self.name = detector.name
        self.detector = detector
        self.rules = EventRules(settings.confirm_s, settings.quiet_s)
        self.grace_s = settings.calibration_s  # the same learning time after the start as the hub's
        self.started: float | None = None

    def run_frame(self, gray: Gray, t: float, run: Run) -> None:
        begin = time.perf_counter_ns()
        moving, calibrating = self.detector.moving(gray, t)
        run.cost_ns.append(time.perf_counter_ns() - begin)
        self.started = t if self.started is None else self.started
        moving = moving and t - self.started >= self.grace_s
        if self.rules.feed(t, moving) == "start":
            run.starts.append(t)
        run.open.append(self.rules.open)
        run.calibrating_frames += calibrating


Runner = Hub | Baseline


def runners(settings: MotionSettings) -> list[Runner]:
    return [Hub(settings), Baseline(RunningAverage(), settings), Baseline(FrigateRecipe(), settings)]


def run_clip(clip: Clip, make: Callable[[], list[Runner]], limit: int | None = None
             ) -> dict[str, Run]:
    """Every detector on every frame of the clip, in one decoding pass."""
    active = make()
    runs = {r.name: Run() for r in active}
    for index, gray in enumerate(gray_frames(clip.path, limit)):
        t = index / clip.fps
        for runner in active:
            runner.run_frame(gray, t, runs[runner.name])
    return runs


@dataclass(frozen=True, slots=True, kw_only=True)
class Score:
    visits: int
    found: int
    onsets: tuple[float, ...]
    false_events: int
    empty_s: float
    motion_s: float  # an event open outside every visit


def score_visits(clip: Clip, run: Run) -> Score:
    assert clip.visits is not None
    spans = [(a / clip.fps - TOLERANCE_S, b / clip.fps + TOLERANCE_S) for a, b in clip.visits]
    onsets = []
    for (a, _), (lo, hi) in zip(clip.visits, spans, strict=True):
        inside = [s for s in run.starts if lo <= s <= hi]
        if inside:
            onsets.append(inside[0] - a / clip.fps)
    false_events = sum(not any(lo <= s <= hi for lo, hi in spans) for s in run.starts)
    outside = [not any(lo <= i / clip.fps <= hi for lo, hi in spans) for i in range(len(run.open))]
    empty_s = sum(outside) / clip.fps
    motion_s = sum(o and e for o, e in zip(outside, run.open, strict=True)) / clip.fps
    return Score(visits=len(clip.visits), found=len(onsets), onsets=tuple(onsets), false_events=false_events,
                 empty_s=empty_s, motion_s=motion_s)


def score_positive(clip: Clip, run: Run) -> tuple[float, float | None, int]:
    """(sensitivity over the labelled frames, first event start (s), events started)."""
    labelled = [i for i in clip.labelled if i < len(run.open)]
    inside = sum(run.open[i] for i in labelled) / len(labelled) if labelled else float("nan")
    return inside, (run.starts[0] if run.starts else None), len(run.starts)


# -- the simulator's scenes ------------------------------------------------------------------------

NUISANCE_SCENES = ("lights", "daylight", "foliage", "rain", "shake", "still")
TAMPER_SCENES = ("covered", "frozen")


@dataclass(frozen=True, slots=True, kw_only=True)
class SceneScore:
    scene: str
    objects: int
    found: dict[str, int]  # detector → objects found
    false_events: dict[str, int]  # detector → events starting outside every object ±1 s
    tamper: tuple[tuple[float, str, str], ...]  # (t, start/clear, reason)
    cost_ns: dict[str, list[int]]


def run_scenes(settings: MotionSettings, duration_s: float) -> list[SceneScore] | None:
    """Every synthetic scene of ``simulators.camera.scenes`` (640x360, 5 fps, one loop), or None if
    that module is not there."""
    try:
        from simulators.camera.scenes import SceneSpec, iter_frames, scene_names, scene_truth
    except ImportError:
        return None
    scores = []
    for name in scene_names():
        spec = SceneSpec(name, duration_s=duration_s)
        truth = scene_truth(spec)
        active = runners(settings)
        runs = {r.name: Run() for r in active}
        tamper_state: TamperState | None = None
        tamper: list[tuple[float, str, str]] = []
        for index, gray in enumerate(iter_frames(spec)):
            t = spec.time_of(index)
            for runner in active:
                runner.run_frame(gray, t, runs[runner.name])
            tamper_state, result = tamper_step(tamper_state, gray, t, TamperSettings())
            tamper += [(t, c.kind, c.reason) for c in result.transitions]
        spans = [(x.start_s - TOLERANCE_S, x.end_s + TOLERANCE_S) for x in truth if x.kind == "object"]
        found = {n: sum(any(lo <= s <= hi for s in r.starts) for lo, hi in spans) for n, r in runs.items()}
        false_events = {n: sum(not any(lo <= s <= hi for lo, hi in spans) for s in r.starts)
                        for n, r in runs.items()}
        scores.append(SceneScore(scene=name, objects=len(spans), found=found, false_events=false_events,
                                 tamper=tuple(tamper), cost_ns={n: r.cost_ns for n, r in runs.items()}))
        log(f"scene {name}: found {found}, false {false_events}, tamper {tamper}")
    return scores


# -- the report ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Totals:
    visits: int = 0
    found: int = 0
    false_events: int = 0
    empty_s: float = 0.0
    motion_s: float = 0.0
    onsets: list[float] = field(default_factory=list)
    cost_ns: list[int] = field(default_factory=list)
    per_clip: list[str] = field(default_factory=list)
    highway: str = "n/a"

    def add(self, score: Score, run: Run) -> None:
        self.visits += score.visits
        self.found += score.found
        self.false_events += score.false_events
        self.empty_s += score.empty_s
        self.motion_s += score.motion_s
        self.onsets += score.onsets
        self.cost_ns += run.cost_ns

    @property
    def per_hour(self) -> float:
        return self.false_events / self.empty_s * 3600 if self.empty_s else float("nan")


def us(values: Sequence[int]) -> str:
    return fmt(statistics.median(values) / 1000) if values else "n/a"


def report(totals: dict[str, Totals], clips_run: list[str], scenes: list[SceneScore] | None,
           machine: Machine, argv: Sequence[str]) -> tuple[str, bool]:
    hub = totals["hub"]
    others = [t for n, t in totals.items() if n != "hub"]
    ahead = all(hub.found >= o.found and hub.false_events <= o.false_events
                and (hub.found > o.found or hub.false_events < o.false_events or hub.motion_s < o.motion_s)
                for o in others)
    clips_ok = hub.found == hub.visits and hub.per_hour < 1 and ahead
    lines = ["## Motion detection quality", "",
             f"`{command_line('bench.motion_quality', argv)}`", "", machine.markdown(), "",
             "Real clips (Wallflower: Toyama et al., ICCV 1999; CDnet highway: Goyal et al. 2012, "
             "Wang et al. 2014), decoded with PyAV, gray from the Y plane, every frame at the clip's fps; "
             "one default `MotionSettings` for every clip; the baselines use the same event rules (confirm "
             f"{MotionSettings().confirm_s:g} s, quiet {MotionSettings().quiet_s:g} s). Clips: "
             + ", ".join(clips_run) + ".", "",
             "| detector | visits found | false events | per hour of empty footage | event open outside "
             "visits (s) | onset median / max (s) | highway: labelled frames in an event, first start (s) "
             "| µs per frame, clips (median) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, t in totals.items():
        onset = (f"{statistics.median(t.onsets):.2f} / {max(t.onsets):.2f}" if t.onsets else "n/a")
        lines.append(f"| {name} | {t.found} / {t.visits} | {t.false_events} | {fmt(t.per_hour, 1)} "
                     f"(of {t.empty_s / 3600:.2f} h) | {fmt(t.motion_s)} | {onset} | {t.highway} "
                     f"| {us(t.cost_ns)} |")
    lines += ["", "Per clip (visits found / visits, false events):", "",
              "| clip | " + " | ".join(totals) + " |", "| --- |" + " --- |" * len(totals)]
    for i, clip in enumerate(clips_run):
        if i < len(hub.per_clip):
            lines.append(f"| {clip} | " + " | ".join(t.per_clip[i] for t in totals.values()) + " |")
    lines += ["", f"Goal on the clips (all visits, under 1 false event per hour, ahead of both baselines): "
              f"{verdict(clips_ok)}"]
    scenes_ok = True
    if scenes is None:
        lines += ["", "The simulator's scenes (`simulators.camera.scenes`) are not available: not scored."]
    else:
        names = list(totals)
        lines += ["", "Simulator scenes (640x360, 5 fps; objects found / objects, false events), tamper "
                      "transitions of `hub.motion.tamper_step`:", "",
                  "| scene | " + " | ".join(names) + " | tamper |", "| --- |" + " --- |" * (len(names) + 1)]
        for s in scenes:
            cells = [f"{s.found[n]} / {s.objects}, {s.false_events[n]}" for n in names]
            tamper = ", ".join(f"{kind} {reason} at {t:.1f} s" for t, kind, reason in s.tamper) or "none"
            lines.append(f"| {s.scene} | " + " | ".join(cells) + f" | {tamper} |")
            if s.scene in NUISANCE_SCENES or s.scene == "walk":
                scenes_ok &= s.false_events["hub"] == 0 and s.found["hub"] == s.objects
            if s.scene in TAMPER_SCENES:
                scenes_ok &= any(kind == "start" and reason == s.scene for _, kind, reason in s.tamper)
            elif s.tamper:
                scenes_ok = False
        costs = {n: [c for s in scenes for c in s.cost_ns[n]] for n in names}
        lines += ["", "µs per frame at 640x360 (median over every scene frame): "
                  + ", ".join(f"{n} {us(c)}" for n, c in costs.items()) + ".", "",
                  "Goal on the scenes (no false event on lights, daylight, foliage, rain, shake, still; "
                  f"every object in walk; tamper on covered and frozen, nowhere else): {verdict(scenes_ok)}"]
    return "\n".join(lines) + "\n", clips_ok and scenes_ok


def main(argv: list[str] | None = None) -> int:
    p = parser("Motion detection quality on real clips and the simulator's scenes, beside two baselines")
    args = p.parse_args(argv)
    argv_text = sys.argv[1:] if argv is None else argv
    machine = Machine.now()
    settings = MotionSettings()
    quick = {"wallflower_wavingtrees", "wallflower_camouflage", "cdnet_baseline_highway"}
    totals = {r.name: Totals() for r in runners(settings)}
    clips_run = []
    for meta in sorted(DATASET.glob("*.json")):
        clip = Clip.load(meta)
        if args.quick and clip.name not in quick:
            continue
        log(f"clip {clip.name}: {clip.frames} frames at {clip.fps:g} fps")
        runs = run_clip(clip, lambda: runners(settings), limit=300 if args.quick else None)
        if clip.visits is None:
            for name, run in runs.items():
                inside, first, events = score_positive(clip, run)
                first_text = f"{first:.2f}" if first is not None else "none"
                totals[name].highway = f"{inside:.1%}, {first_text} ({events} events)"
            continue
        clips_run.append(clip.name)
        for name, run in runs.items():
            score = score_visits(clip, run)
            totals[name].add(score, run)
            totals[name].per_clip.append(f"{score.found} / {score.visits}, {score.false_events}")
    scenes = run_scenes(settings, duration_s=60.0)
    text, ok = report(totals, clips_run, scenes, machine, argv_text)
    print(text)
    if not args.no_doc:
        write_section("motion", text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

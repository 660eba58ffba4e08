"""Camera capacity: CPU per camera-second against bare PyAV decoding, and how many cameras one hub takes.

(a) **CPU per camera-second.** For 640x360 and 1920x1080 streams at 5 and 25 fps (simulator scene
`walk`, encoded once into the simulator's cache, served by `CameraServerProcess`), several cameras at
once, in a child process each time (spawned, so its CPU is its own):

- **bare decode** (the physical limit, the baseline): one thread per stream, PyAV opened with
  `{"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32"}`, one decoder thread per
  stream as the hub's driver sets it, every frame decoded, the Y plane taken as a numpy view;
  nothing else;
- **hub**: `hub.cameras.worker.CameraWorker` (the driver's `CameraStream` with its packet ring for
  clips, plus motion and tamper analysis of every frame, snapshots and clips on motion), armed, with a
  `submit` that only counts and an `EvidenceStore` in a scratch directory.

CPU is utime + stime of the child (all its threads) from /proc over a fixed window after a warm-up;
bare and hub alternate, repeated, and the figures are medians over repetitions.

(b) **Capacity**: a real hub process (`python -m hub run`, two real Mosquittos) with N cameras of
640x360 at 5 fps registered through the API, armed, served by one `CameraServerProcess` playing a mix
of scenes. After every camera is online and a warm-up, a measured window; from the hub's /metrics:
`hub_camera_up`, `hub_camera_fps`, `hub_camera_frames_dropped` and the count of
`hub_camera_analysis_seconds` (frames analysed), against the frames the simulator sent (5 fps x
window). Beside it, the same N streams decoded bare by PyAV in the same run. If N does not fit, the
benchmark steps down (75, 50, 25) by deleting cameras through the API.

    .venv/bin/python -m bench.camera_capacity [--quick] [--cameras 100] [--window 60]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import av
import numpy as np

from bench.common import (
    Machine,
    Stack,
    command_line,
    cpu_seconds,
    fmt,
    log,
    machine_busy,
    median,
    metrics,
    parser,
    scratch,
    tree_cpu_seconds,
    verdict,
    write_section,
)
from simulators.consumer import Consumer
from tests.fixtures.cameras import CameraServerProcess

GOAL_RATIO = 1.3
GOAL_CAMERAS = 100
GOAL_DROPPED = 0.01
OPEN_OPTIONS = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32"}
CENTER, SITE = "110-city", "cam-site"
# (size, fps) → cameras at once: enough that per-camera figures are not dominated by fixed costs,
# few enough that the largest streams leave this 2-core machine some room.
COMBOS: dict[tuple[str, int], int] = {("640x360", 5): 16, ("640x360", 25): 8, ("1920x1080", 5): 8,
                                      ("1920x1080", 25): 4}
QUICK_COMBOS = (("640x360", 5), ("1920x1080", 25))
CAPACITY_SCENES = "walk,still,foliage,walk,rain,daylight"  # a mix; a third of the cameras see people
_SPAWN = multiprocessing.get_context("spawn")


# -- readers in a child process ----------------------------------------------------------------------


@dataclass(slots=True)
class Probe:
    """What one child measured over its window."""

    kind: str
    cameras: int
    window_s: float = 0.0
    cpu_s: float = 0.0
    machine_s: float = 0.0  # busy CPU seconds of the whole machine over the window
    frames: int = 0  # decoded in the window
    dropped: int = 0  # hub: handed over and replaced unread
    online: int = 0  # streams that delivered a frame in the window
    events: int = 0  # hub: observations submitted (motion, tamper, status changes)
    problem: str = ""

    @property
    def per_camera_s(self) -> float:
        """CPU µs per camera-second."""
        return 1e6 * self.cpu_s / (self.cameras * self.window_s) if self.window_s else float("nan")

    @property
    def per_frame(self) -> float:
        """CPU µs per decoded frame."""
        return 1e6 * self.cpu_s / self.frames if self.frames else float("nan")


class BareReader:
    """One stream decoded by PyAV alone: every frame, the Y plane as a view; `frames` counts them."""

    def __init__(self, url: str, on_frame: Callable[[int, float, np.ndarray], None] | None = None,
                 index: int = 0) -> None:
        self.url = url
        self.index = index
        self.frames = 0
        self.problem = ""
        self.on_frame = on_frame
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"bare-{index}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with av.open(self.url, options=OPEN_OPTIONS) as container:
                    stream = container.streams.video[0]
                    stream.codec_context.thread_count = 1  # as the hub's driver does
                    for frame in container.decode(stream):
                        plane = frame.planes[0]
                        rows = np.frombuffer(memoryview(plane), dtype=np.uint8)
                        gray = rows.reshape(plane.height, plane.line_size)[:, : plane.width]
                        self.frames += 1
                        if self.on_frame is not None:
                            self.on_frame(self.index, time.time(), gray)
                        if self._stop.is_set():
                            return
            except Exception as exc:  # a benchmark reader: note it and try again
                self.problem = f"{type(exc).__name__}: {exc}"
            self._stop.wait(0.5)


def _probe(kind: str, urls: list[str], warmup_s: float, window_s: float, workdir: str,
           conn: Connection) -> None:
    """Child process: run `kind` readers on `urls`, measure the window, send a Probe back."""
    probe = Probe(kind, len(urls))
    count: Callable[[], tuple[list[int], int, int]]
    stoppers: list[Callable[[], None]] = []
    submitted = [0]
    if kind == "bare":
        readers = [BareReader(url, index=i) for i, url in enumerate(urls)]
        for reader in readers:
            reader.start()
            stoppers.append(reader.stop)

        def count_bare() -> tuple[list[int], int, int]:
            return [r.frames for r in readers], 0, 0
        count = count_bare
    else:
        from datetime import UTC

        from hub.cameras.evidence import EvidenceStore
        from hub.cameras.worker import CameraWorker
        from hub.config import CameraSettings
        from hub.model import Camera
        from hub.pipeline import Observed

        def submit(_observed: Observed) -> None:
            submitted[0] += 1

        settings = CameraSettings()
        evidence = EvidenceStore(Path(workdir) / "evidence", max_age_s=settings.evidence_max_age_days * 86400,
                                 max_bytes=settings.evidence_max_bytes)
        workers = []
        for i, url in enumerate(urls):
            camera = Camera(id=f"cam-{i + 1:03d}", site_id=SITE, name=f"Camera {i + 1}", enabled=True,
                            armed="true", schedule=(), offline_after_s=60, motion={}, test_mode=False)
            worker = CameraWorker(camera, url, submit=submit, evidence=evidence, settings=settings, zone=UTC)
            worker.start()
            workers.append(worker)
            stoppers.append(worker.stop)

        def count_hub() -> tuple[list[int], int, int]:
            statuses = [w.status() for w in workers]
            return ([s.frames_decoded for s in statuses], sum(s.frames_dropped for s in statuses),
                    submitted[0])
        count = count_hub
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and min(count()[0]) == 0:
            time.sleep(0.1)
        time.sleep(warmup_s)
        me = os.getpid()
        frames0, dropped0, events0 = count()
        cpu0, busy0, t0 = cpu_seconds(me), machine_busy(), time.monotonic()
        time.sleep(window_s)
        frames1, dropped1, events1 = count()
        cpu1, busy1, t1 = cpu_seconds(me), machine_busy(), time.monotonic()
        probe.window_s, probe.cpu_s, probe.machine_s = t1 - t0, cpu1 - cpu0, busy1 - busy0
        probe.frames = sum(frames1) - sum(frames0)
        probe.dropped, probe.events = dropped1 - dropped0, events1 - events0
        probe.online = sum(1 for a, b in zip(frames0, frames1, strict=True) if b > a)
        if probe.online < len(urls):
            probe.problem = f"{len(urls) - probe.online} of {len(urls)} streams delivered nothing"
    except Exception as exc:
        probe.problem = f"{type(exc).__name__}: {exc}"
    finally:
        conn.send(probe)
        for stop in stoppers:
            with contextlib.suppress(Exception):
                stop()
        conn.close()


def probe(kind: str, urls: list[str], warmup_s: float, window_s: float, workdir: Path) -> Probe:
    """Run one measurement in a fresh child process."""
    parent, child = _SPAWN.Pipe(duplex=False)
    process = _SPAWN.Process(target=_probe, args=(kind, urls, warmup_s, window_s, str(workdir), child),
                             name=f"camera-probe-{kind}")
    process.start()
    child.close()
    try:
        if not parent.poll(warmup_s + window_s + 90):
            raise TimeoutError(f"the {kind} probe did not answer")
        result: Probe = parent.recv()
    finally:
        process.join(30)
        if process.is_alive():
            process.kill()
            process.join()
    return result


# -- (a) CPU per camera-second -------------------------------------------------------------------------


@dataclass(slots=True)
class Combo:
    size: str
    fps: int
    cameras: int
    reps: list[tuple[Probe, Probe]] = field(default_factory=list)  # (bare, hub)
    simulator_cpu: float = float("nan")  # share of a core while the combo ran

    def med(self, kind: str, attr: str) -> float:
        index = 0 if kind == "bare" else 1
        return median([getattr(pair[index], attr) for pair in self.reps])

    @property
    def ratio(self) -> float:
        return median([h.per_camera_s / b.per_camera_s for b, h in self.reps])


def measure_combo(size: str, fps: int, cameras: int, reps: int, warmup_s: float, window_s: float,
                  workdir: Path) -> Combo:
    combo = Combo(size, fps, cameras)
    log(f"{size} at {fps} fps, {cameras} cameras: starting the simulator (encodes once into its cache)")
    with CameraServerProcess(cameras=cameras, scene="walk", size=size, fps=fps, duration_s=20.0) as sim:
        sim_cpu0, t0 = cpu_seconds(sim.pid), time.monotonic()
        for i in range(reps):
            pair = []
            for kind in ("bare", "hub"):
                result = probe(kind, sim.urls, warmup_s, window_s, workdir / f"{size}-{fps}-{i}")
                log(f"  rep {i + 1}/{reps} {kind}: {fmt(result.per_camera_s)} µs per camera-second, "
                    f"{fmt(result.per_frame)} µs per frame, {result.frames} frames, "
                    f"{100 * result.cpu_s / result.window_s:.1f} % of a core"
                    + (f", PROBLEM: {result.problem}" if result.problem else ""))
                pair.append(result)
            combo.reps.append((pair[0], pair[1]))
        combo.simulator_cpu = (cpu_seconds(sim.pid) - sim_cpu0) / (time.monotonic() - t0)
    return combo


def combos_table(combos: list[Combo]) -> list[str]:
    lines = ["| stream | cameras | bare decode, µs CPU per camera-second | hub | bare, µs per frame | "
             "hub, µs per frame | hub / bare (median of per-repetition ratios) | bare, % of a core | "
             "hub, % of a core | frames decoded per camera-second (bare / hub) | hub frames dropped |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for c in combos:
        def rate(kind: str, c: Combo = c) -> float:
            return c.med(kind, "frames") / (c.cameras * c.med(kind, "window_s"))

        def core(kind: str, c: Combo = c) -> float:
            return median([100 * p.cpu_s / p.window_s for pair in c.reps for p in pair if p.kind == kind])
        dropped = sum(h.dropped for _b, h in c.reps)
        lines.append(f"| {c.size} at {c.fps} fps | {c.cameras} | {fmt(c.med('bare', 'per_camera_s'))} | "
                     f"{fmt(c.med('hub', 'per_camera_s'))} | {fmt(c.med('bare', 'per_frame'))} | "
                     f"{fmt(c.med('hub', 'per_frame'))} | **{c.ratio:.2f}×** | {fmt(core('bare'), 1)} | "
                     f"{fmt(core('hub'), 1)} | {rate('bare'):.2f} / {rate('hub'):.2f} | {dropped} |")
    return lines


def reps_table(combos: list[Combo]) -> list[str]:
    lines = ["| stream | repetition | bare µs per camera-second | hub µs per camera-second | hub / bare | "
             "whole machine during bare / hub, % of one core | problems |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for c in combos:
        for i, (b, h) in enumerate(c.reps, 1):
            problems = "; ".join(f"{p.kind}: {p.problem}" for p in (b, h) if p.problem) or "none"
            lines.append(f"| {c.size} at {c.fps} fps | {i} | {fmt(b.per_camera_s)} | {fmt(h.per_camera_s)} | "
                         f"{h.per_camera_s / b.per_camera_s:.2f} | {fmt(100 * b.machine_s / b.window_s)} / "
                         f"{fmt(100 * h.machine_s / h.window_s)} | {problems} |")
    return lines


# -- (b) capacity: a real hub with N cameras -----------------------------------------------------------


@dataclass(slots=True)
class Capacity:
    cameras: int
    window_s: float
    online: int = 0
    fps: list[float] = field(default_factory=list)
    analysed: float = 0.0
    dropped: float = 0.0
    sent: float = 0.0
    hub_cpu: float = float("nan")  # share of one core
    sim_cpu: float = float("nan")
    machine: float = float("nan")
    reconnects: float = 0.0
    alarms: int = 0

    @property
    def decoded(self) -> float:
        return self.analysed + self.dropped

    @property
    def dropped_share(self) -> float:
        return self.dropped / self.decoded if self.decoded else float("nan")

    @property
    def lost_share(self) -> float:
        """Frames sent but not analysed (dropped, or never decoded), of the frames sent."""
        return max(0.0, self.sent - self.analysed) / self.sent if self.sent else float("nan")

    @property
    def fits(self) -> bool:
        return self.online == self.cameras and self.lost_share < GOAL_DROPPED


def _samples(values: dict[str, float], name: str) -> dict[str, float]:
    """`name{camera="x",…}` samples → camera → value."""
    out: dict[str, float] = {}
    for key, value in values.items():
        metric, _, labels = key.partition("{")
        if metric != name:
            continue
        for part in labels.rstrip("}").split(","):
            label, _, text = part.partition("=")
            if label == "camera":
                out[text.strip('"')] = value
    return out


def add_cameras(stack: Stack, urls: Sequence[str]) -> list[str]:
    assert stack.hub is not None
    ids = []
    for i, url in enumerate(urls, 1):
        camera_id = f"cam-{i:03d}"
        stack.hub.post("/api/v1/cameras", {"id": camera_id, "site_id": SITE, "name": f"Camera {i}",
                                           "url": url, "armed": True})
        ids.append(camera_id)
    return ids


def wait_online(stack: Stack, ids: Sequence[str], timeout: float) -> int:
    assert stack.hub is not None
    deadline = time.monotonic() + timeout
    online = 0
    while time.monotonic() < deadline:
        up = _samples(metrics(stack.hub), "hub_camera_up")
        online = sum(1 for i in ids if up.get(i) == 1.0)
        if online == len(ids):
            break
        time.sleep(1.0)
    return online


def measure_capacity(stack: Stack, sim: CameraServerProcess, ids: Sequence[str], fps: float, warmup_s: float,
                     window_s: float, consumer: Consumer) -> Capacity:
    assert stack.hub is not None
    result = Capacity(len(ids), window_s)
    online = wait_online(stack, ids, 60)
    log(f"{online}/{len(ids)} cameras online; warm-up {warmup_s:.0f} s")
    time.sleep(warmup_s)
    before = metrics(stack.hub)
    alarms0 = len(consumer.messages())
    def reading() -> tuple[float, float, float, float]:
        return tree_cpu_seconds(stack.hub_pid), cpu_seconds(sim.pid), machine_busy(), time.monotonic()
    hub0, sim0, busy0, t0 = reading()
    time.sleep(window_s)
    hub1, sim1, busy1, t1 = reading()
    after = metrics(stack.hub)
    wall = t1 - t0
    result.window_s = wall
    result.hub_cpu, result.sim_cpu = (hub1 - hub0) / wall, (sim1 - sim0) / wall
    result.machine = (busy1 - busy0) / wall
    result.alarms = len(consumer.messages()) - alarms0
    up = _samples(after, "hub_camera_up")
    result.online = sum(1 for i in ids if up.get(i) == 1.0)
    fps_now = _samples(after, "hub_camera_fps")
    result.fps = [fps_now.get(i, 0.0) for i in ids]
    count = "hub_camera_analysis_seconds_count"
    result.analysed = after.get(count, 0.0) - before.get(count, 0.0)
    d1, d0 = _samples(after, "hub_camera_frames_dropped"), _samples(before, "hub_camera_frames_dropped")
    result.dropped = sum(d1.get(i, 0.0) - d0.get(i, 0.0) for i in ids)
    r1, r0 = _samples(after, "hub_camera_reconnects"), _samples(before, "hub_camera_reconnects")
    result.reconnects = sum(r1.get(i, 0.0) - r0.get(i, 0.0) for i in ids)
    result.sent = len(ids) * fps * wall
    return result


def capacity_table(runs: list[Capacity], bare: Probe | None) -> list[str]:
    lines = ["| cameras | online | fps median / min | frames sent (5 fps x window) | decoded | analysed | "
             "dropped (replaced before analysis) | sent but not analysed | reconnects | "
             "hub CPU, % of a core | hub µs per camera-second | simulator CPU | "
             "whole machine, % of one core (200 = both cores) | 110 messages | "
             "fits (< 1 % not analysed, all online) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| ---: | --- |"]
    for r in runs:
        lines.append(f"| {r.cameras} | {r.online} | {median(r.fps):.2f} / {min(r.fps):.2f} | {fmt(r.sent)} | "
                     f"{fmt(r.decoded)} | {fmt(r.analysed)} | "
                     f"{fmt(r.dropped)} ({100 * r.dropped_share:.2f} %) | "
                     f"{100 * r.lost_share:.2f} % | {fmt(r.reconnects)} | {fmt(100 * r.hub_cpu, 1)} | "
                     f"{fmt(1e6 * r.hub_cpu / r.cameras)} | {fmt(100 * r.sim_cpu, 1)} % | "
                     f"{fmt(100 * r.machine)} | "
                     f"{r.alarms} | {'yes' if r.fits else 'no'} |")
    if bare is not None:
        sent = bare.cameras * 5 * bare.window_s
        lines.append(f"| {bare.cameras}, bare PyAV decode (baseline) | {bare.online} | | {fmt(sent)} | "
                     f"{fmt(bare.frames)} | | | {100 * max(0.0, sent - bare.frames) / sent:.2f} % | | "
                     f"{fmt(100 * bare.cpu_s / bare.window_s, 1)} (the reader process) | "
                     f"{fmt(bare.per_camera_s)} | | "
                     f"{fmt(100 * bare.machine_s / bare.window_s)} | | |")
    return lines


def run_capacity(args: argparse.Namespace, workdir: Path) -> tuple[list[Capacity], Probe | None, str]:
    counts = [n for n in (args.cameras, 75, 50, 25) if n <= args.cameras]
    counts = sorted(set(counts), reverse=True)
    runs: list[Capacity] = []
    bare: Probe | None = None
    with CameraServerProcess(cameras=args.cameras, scene=CAPACITY_SCENES, size="640x360", fps=5,
                             duration_s=60.0) as sim:
        log(f"capacity: bare PyAV decode of {args.cameras} streams ({args.bare_window:.0f} s window)")
        bare = probe("bare", sim.urls, 2.0, args.bare_window, workdir / "bare")
        log(f"  bare: {fmt(100 * bare.cpu_s / bare.window_s, 1)} % of a core, {bare.frames} frames, "
            f"{bare.online} online" + (f", PROBLEM: {bare.problem}" if bare.problem else ""))
        with Stack(workdir / "stack") as stack, Consumer(stack.cc.url) as consumer:
            assert stack.hub is not None
            stack.hub.post("/api/v1/centers", {"id": CENTER, "name": "City 110", "kind": "110"})
            stack.hub.post("/api/v1/sites", {"id": SITE, "name": "Camera site", "address": "1 Zhongshan Rd",
                                             "lat": 32.05, "lon": 118.78, "door_plate": "No. 1",
                                             "pole": "P-1", "center_id": CENTER})
            started = time.monotonic()
            ids = add_cameras(stack, sim.urls)
            log(f"registered {len(ids)} cameras through the API in {time.monotonic() - started:.1f} s")
            for n in counts:
                for extra in ids[n:]:
                    stack.hub.api.delete(f"/api/v1/cameras/{extra}")
                ids = ids[:n]
                window = args.window if n == counts[0] else min(args.window, 20.0)  # step-downs: shorter
                run = measure_capacity(stack, sim, ids, 5.0, args.warmup, window, consumer)
                runs.append(run)
                log(f"  {n} cameras: {run.online} online, fps median {median(run.fps):.2f} "
                    f"min {min(run.fps):.2f}, "
                    f"{100 * run.lost_share:.2f} % not analysed ({fmt(run.dropped)} dropped), hub "
                    f"{100 * run.hub_cpu:.1f} % of a core, machine {100 * run.machine:.0f} %")
                if run.fits:
                    break
            hub_log = stack.hub.log()
    errors = [line for line in hub_log.splitlines() if " ERROR " in line or "Traceback" in line]
    return runs, bare, "\n".join(errors[:5])


# -- the report ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = parser("Camera capacity: CPU per camera-second against bare decode; cameras per hub")
    p.add_argument("--profile", action="store_true", help="accepted for bench.run_all; no profile here")
    p.add_argument("--reps", type=int, default=None, help="repetitions per stream kind (2; quick 1)")
    p.add_argument("--window", type=float, default=None, help="capacity window, s (60; quick 10)")
    p.add_argument("--cameras", type=int, default=None, help="capacity cameras (100; quick 20)")
    args = p.parse_args(argv)
    argv_text = sys.argv[1:] if argv is None else argv
    args.reps = args.reps or (1 if args.quick else 2)
    args.window = args.window or (10.0 if args.quick else 60.0)
    args.cameras = args.cameras or (20 if args.quick else GOAL_CAMERAS)
    args.bare_window = 5.0 if args.quick else 20.0
    args.warmup = 3.0 if args.quick else 5.0
    cpu_warmup, cpu_window = (1.5, 3.0) if args.quick else (2.0, 8.0)
    machine = Machine.now()
    chosen = QUICK_COMBOS if args.quick else tuple(COMBOS)
    with scratch("camera_capacity", keep=args.keep) as workdir:
        combos = [measure_combo(size, fps, COMBOS[(size, fps)], args.reps, cpu_warmup, cpu_window, workdir)
                  for size, fps in chosen]
        runs, bare, errors = run_capacity(args, workdir)
    worst = max(c.ratio for c in combos)
    ratio_ok = worst <= GOAL_RATIO
    fitting = [r for r in runs if r.fits]
    largest = max((r.cameras for r in fitting), default=0)
    capacity_ok = largest >= GOAL_CAMERAS
    first = runs[0]
    lines = [
        f"## Camera capacity: CPU per camera-second, cameras per hub{' (quick)' if args.quick else ''}", "",
        f"Command: `{command_line('bench.camera_capacity', argv_text)}`", "", machine.markdown(),
        "- streams: `simulators.camera` (`CameraServerProcess`, RTSP/TCP, H.264 Baseline from libx264 "
        "ultrafast/zerolatency, a keyframe a second), encoded once into its cache and replayed; scene "
        "`walk` (a 20 s loop, two crossings) for the CPU figures",
        "- bare decode (baseline): PyAV, `{rtsp_transport: tcp, analyzeduration: 0, probesize: 32}`, "
        "`thread_count = 1` per stream (as the hub's driver), every frame decoded, the Y plane taken as a "
        "numpy view, one thread per stream, no analysis",
        "- hub: `hub.cameras.worker.CameraWorker` per stream (driver `CameraStream` with its clip ring, "
        "motion and tamper analysis of every frame, snapshot and clip at each motion event), armed, default "
        "`CameraSettings()` (every frame analysed), `submit` only counting; both in a spawned child "
        "process, CPU = its utime + stime from /proc (all threads)", "",
        "### CPU per camera-second", "",
        f"{args.reps} repetition(s) per stream, bare and hub alternating; each: all streams open, "
        f"{cpu_warmup:g} s warm-up, then a {cpu_window:g} s window. Medians over repetitions.", "",
        *combos_table(combos), "",
        "Simulator CPU (its own process, % of a core while each stream kind ran): "
        + ", ".join(f"{c.size} at {c.fps} fps {fmt(100 * c.simulator_cpu, 1)}" for c in combos) + ".", "",
        *reps_table(combos), "",
        f"Goal: the hub's per-camera cost at most {GOAL_RATIO}× bare decode: {verdict(ratio_ok)} (worst "
        f"ratio {worst:.2f}×; " + ", ".join(f"{c.size} at {c.fps} fps {c.ratio:.2f}×" for c in combos) + ").",
        "",
        "### Capacity: one hub process, cameras of 640x360 at 5 fps", "",
        f"A real hub (`python -m hub run`, SQLite, two Mosquittos, default camera settings) with the cameras "
        f"registered through the API (armed), fed by one `CameraServerProcess` playing the scenes "
        f"`{CAPACITY_SCENES}` in turn (60 s loops). After every camera reported `hub_camera_up` = 1, a "
        f"{args.warmup:g} s warm-up, then a {args.window:g} s window (20 s for the step-downs after a count "
        "that did not fit) read from /metrics: frames analysed = "
        "the count of `hub_camera_analysis_seconds`, dropped = `hub_camera_frames_dropped`, decoded = "
        "analysed + dropped (every frame is handed over with the default settings); hub CPU from /proc "
        "(the hub and its forwarder child). Baseline, same run, same simulator: the same streams decoded "
        f"bare by PyAV in one child process ({args.bare_window:g} s window).", "",
        *capacity_table(runs, bare), "",
        f"Goal: at least {GOAL_CAMERAS} cameras of 640x360 at 5 fps analysed with under 1 % of frames "
        f"dropped: {verdict(capacity_ok)} (largest count that fitted: {largest or 'none'} of those tried, "
        f"{', '.join(str(r.cameras) for r in runs)}; at {first.cameras} cameras "
        f"{100 * first.lost_share:.2f} % of the frames sent were not analysed, "
        f"{100 * first.dropped_share:.2f} % of those decoded were dropped, hub "
        f"{fmt(100 * first.hub_cpu)} % of a core).",
    ]
    if args.quick:
        lines += ["", f"(Quick run: {args.cameras} cameras, not the goal's {GOAL_CAMERAS}; the verdict needs "
                  "the full run.)"]
    if errors:
        lines += ["", "Errors in the hub's log:", "", "```", errors, "```"]
    report = "\n".join(lines) + "\n"
    print(report)
    if not args.no_doc:
        write_section("camera_capacity", report)
    problems = [p.problem for c in combos for pair in c.reps for p in pair if p.problem]
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""The real clips of ``../shared/datasets/motion/`` as scenes named ``clip-<stem>``.

A clip plays at its native size and fps (from its ``.json``). Its ground truth is ``object`` over
each of the dataset's ``expected_motion_intervals`` (Wallflower, half-open frame ranges converted
to seconds) or, for CDnet, over each run of labelled frames that contain motion.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import av
import numpy as np

from simulators.camera.scenes import SceneSpec, Truth

DATASET_ENV = "PINGAN_MOTION_DATASET"
DEFAULT_DATASET = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "motion"


def dataset_dir() -> Path:
    """Where the clips are: ``$PINGAN_MOTION_DATASET`` or ``../shared/datasets/motion``."""
    return Path(os.environ.get(DATASET_ENV, DEFAULT_DATASET))


def clip_names() -> list[str]:
    """``clip-<stem>`` for every clip with its ``.json`` in the dataset folder (none if it is missing)."""
    folder = dataset_dir()
    return sorted(f"clip-{p.stem}" for p in folder.glob("*.mp4") if p.with_suffix(".json").exists())


def clip_spec(name: str) -> SceneSpec:
    """The clip's native size, fps and length as a ``SceneSpec``."""
    meta = _meta(name)
    fps = float(meta["fps"])
    return SceneSpec(name, int(meta["width"]), int(meta["height"]), fps, int(meta["frame_count"]) / fps, 0)


def clip_truth(name: str) -> tuple[Truth, ...]:
    """Ground truth in seconds from the clip's start."""
    meta = _meta(name)
    fps = float(meta["fps"])
    truth = meta["ground_truth"]
    intervals = truth.get("expected_motion_intervals")
    if intervals is None:
        intervals = _labelled_motion_runs(truth.get("frames") or [])
    return tuple(Truth("object", start / fps, end / fps) for start, end in intervals)


def iter_clip_frames(name: str) -> Iterator[np.ndarray]:
    """The clip's frames as gray arrays (the decoded Y plane)."""
    with av.open(str(_path(name))) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="gray")


def _labelled_motion_runs(frames: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Half-open ``[start, end)`` runs of CDnet frames labelled with motion (``bbox`` set)."""
    runs: list[tuple[int, int]] = []
    for entry in frames:
        if not entry or entry.get("bbox") is None:
            continue
        index = int(entry["i"])
        if runs and runs[-1][1] == index:
            runs[-1] = (runs[-1][0], index + 1)
        else:
            runs.append((index, index + 1))
    return runs


def _path(name: str) -> Path:
    if not name.startswith("clip-"):
        raise ValueError(f"{name!r} is not a clip name (clip-<stem>)")
    path = dataset_dir() / f"{name.removeprefix('clip-')}.mp4"
    if not path.exists() or not path.with_suffix(".json").exists():
        known = ", ".join(clip_names()) or f"none in {dataset_dir()}"
        raise ValueError(f"unknown clip {name!r}; known: {known}")
    return path


@cache
def _meta(name: str) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads(_path(name).with_suffix(".json").read_text())
    return meta

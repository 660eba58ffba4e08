"""Encode a scene once, cache its access units on disk, and load them for replay.

H.264 is encoded with PyAV's libx264 as Baseline, ``ultrafast``, ``zerolatency``, a keyframe
every second and ``repeat-headers=1`` (SPS/PPS before every IDR, so a client that joins at any
keyframe can decode at once). Access units are kept in Annex B form. ``mpeg4`` (MPEG-4 Part 2)
exists only so that a camera can offer a codec the hub does not take.

Cache layout, one folder per (scene, size, fps, length, seed, codec)::

    <cache_dir>/walk_640x360_5fps_60s_seed1_h264_v1/stream.bin   # access units
    <cache_dir>/walk_640x360_5fps_60s_seed1_h264_v1/truth.json   # ground truth of one loop

Both are written to a temporary name and renamed, so processes that encode the same scene at the
same time never read half a file.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from simulators.camera.scenes import SceneSpec, Truth, iter_frames, scene_truth

DEFAULT_CACHE_DIR = Path("var/camera-cache")
CODECS = ("h264", "mpeg4", "h264-resize")
_FORMAT_VERSION = 1
_RECORD = struct.Struct(">IB")


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One access unit (H.264 Annex B, or an MPEG-4 VOP with any headers before it)."""

    data: bytes
    keyframe: bool


@dataclass(frozen=True, slots=True)
class EncodedStream:
    """One loop of an encoded scene, with its ground truth; shared by every camera that plays it."""

    spec: SceneSpec
    codec: str
    frames: tuple[EncodedFrame, ...]
    truth: tuple[Truth, ...]

    @property
    def loop_s(self) -> float:
        return len(self.frames) / self.spec.fps


def load_stream(spec: SceneSpec, codec: str = "h264", cache_dir: Path | None = None) -> EncodedStream:
    """The encoded scene from the cache, encoding it first if it is not there yet.

    ``h264-resize`` plays the first half of the loop at the spec's size and the second half at half
    that size (new SPS/PPS at the switch), for a camera whose resolution changes mid-stream.
    """
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; known: {', '.join(CODECS)}")
    if spec.name.startswith("clip-"):
        from simulators.camera.clips import clip_spec

        spec = clip_spec(spec.name)
    folder = (cache_dir or DEFAULT_CACHE_DIR) / _cache_key(spec, codec)
    truth = scene_truth(spec)
    if not (folder / "stream.bin").exists():
        _write_atomic(folder / "truth.json", json.dumps([asdict(t) for t in truth], indent=1).encode())
        _write_atomic(folder / "stream.bin", _serialise(_encode(spec, codec)))
    return EncodedStream(spec, codec, tuple(_deserialise((folder / "stream.bin").read_bytes())), truth)


def encode_frames(frames: Iterable[np.ndarray], width: int, height: int, fps: float,
                  codec: str = "h264") -> list[EncodedFrame]:
    """Encode gray frames (uint8, height x width) with a keyframe every second."""
    context = _encoder(codec, width, height, fps)
    chroma = np.full((height // 2, width), 128, np.uint8)
    out: list[EncodedFrame] = []
    for index, gray in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(np.concatenate([gray, chroma]), format="yuv420p")
        frame.pts = index
        out.extend(EncodedFrame(bytes(p), p.is_keyframe) for p in context.encode(frame))
    out.extend(EncodedFrame(bytes(p), p.is_keyframe) for p in context.encode(None))
    return out


def _encoder(codec: str, width: int, height: int, fps: float) -> av.VideoCodecContext:
    rate = Fraction(fps).limit_denominator(1000)
    keyint = max(1, round(fps))
    context = av.CodecContext.create("libx264" if codec == "h264" else "mpeg4", "w")
    assert isinstance(context, av.VideoCodecContext)
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base, context.framerate, context.gop_size = 1 / rate, rate, keyint
    if codec == "h264":
        context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
            "x264-params": f"repeat-headers=1:keyint={keyint}:min-keyint={keyint}:scenecut=0",
        }
    else:
        context.bit_rate = 400_000
    return context


def _encode(spec: SceneSpec, codec: str) -> list[EncodedFrame]:
    if codec != "h264-resize":
        return encode_frames(iter_frames(spec), spec.width, spec.height, spec.fps, codec)
    half = spec.frame_count // 2
    small = replace(spec, width=_even(spec.width // 2), height=_even(spec.height // 2))
    first = [f for i, f in enumerate(iter_frames(spec)) if i < half]
    second = [f for i, f in enumerate(iter_frames(small)) if i >= half]
    return (encode_frames(first, spec.width, spec.height, spec.fps)
            + encode_frames(second, small.width, small.height, spec.fps))


def _even(value: int) -> int:
    return max(32, value - value % 2)


def _cache_key(spec: SceneSpec, codec: str) -> str:
    fps = f"{spec.fps:g}".replace(".", "p")
    length = f"{spec.duration_s:g}".replace(".", "p")
    size = f"{spec.width}x{spec.height}"
    return f"{spec.name}_{size}_{fps}fps_{length}s_seed{spec.seed}_{codec}_v{_FORMAT_VERSION}"


def _serialise(frames: list[EncodedFrame]) -> bytes:
    return b"".join(_RECORD.pack(len(f.data), f.keyframe) + f.data for f in frames)


def _deserialise(blob: bytes) -> list[EncodedFrame]:
    frames, offset = [], 0
    while offset < len(blob):
        length, keyframe = _RECORD.unpack_from(blob, offset)
        offset += _RECORD.size
        frames.append(EncodedFrame(blob[offset : offset + length], bool(keyframe)))
        offset += length
    return frames


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)

"""Simulated RTSP cameras with scripted scenes and ground truth (issue 3, item 1).

- ``scenes``: synthetic scenes rendered as gray frames with ``Truth`` intervals (``render_scene``).
- ``clips``: the real clips of ``../shared/datasets/motion`` as scenes ``clip-<stem>``.
- ``encode``: encode a scene once (libx264 Baseline), cache the access units, load them for replay.
- ``camera``: one live camera's timeline and broadcast; ``rtsp``: the RTSP/1.0 server.
- ``server``: ``CameraServer``, the whole thing in a background thread; ``python -m simulators.camera``.
"""

from simulators.camera.camera import CameraSpec
from simulators.camera.scenes import RenderedScene, SceneSpec, Truth, render_scene, scene_names, scene_truth
from simulators.camera.server import CameraServer

__all__ = [
    "CameraServer",
    "CameraSpec",
    "RenderedScene",
    "SceneSpec",
    "Truth",
    "render_scene",
    "scene_names",
    "scene_truth",
]

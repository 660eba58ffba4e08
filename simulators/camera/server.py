"""``CameraServer``: many simulated RTSP cameras from one process, run in a background thread.

Usage::

    with CameraServer([CameraSpec("cam1", scene="walk", width=320, height=180)]) as server:
        url = server.url("cam1")             # rtsp://127.0.0.1:PORT/cam1
        server.stall("cam1"); server.resume("cam1")
        server.stop(); server.start()        # the server vanishes and comes back on the same port
        server.truth("cam1")                 # [("object", start_epoch_s, end_epoch_s), ...]

Scenes are encoded when the server is built (once per scene, size, fps, length and codec; cached on
disk under ``cache_dir``), so construction may take a moment the first time and is fast after.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

from simulators.camera.camera import CameraSpec, LiveCamera, ReplayStream
from simulators.camera.encode import load_stream
from simulators.camera.rtsp import RtspServer
from simulators.camera.scenes import SceneSpec

T = TypeVar("T")
CALL_TIMEOUT_S = 30.0


class CameraServer:
    """An RTSP server for ``cameras`` on ``host:port`` (port 0: any free port, kept across restarts)."""

    def __init__(self, cameras: Sequence[CameraSpec], host: str = "127.0.0.1", port: int = 0,
                 cache_dir: Path | str | None = None) -> None:
        names = [spec.name for spec in cameras]
        if len(set(names)) != len(names):
            raise ValueError(f"camera names must be unique: {names}")
        self.host = host
        self.epoch = time.time()
        cache = Path(cache_dir) if cache_dir else None
        replays: dict[tuple[SceneSpec, str], ReplayStream] = {}
        self._cameras: dict[str, LiveCamera] = {}
        for spec in cameras:
            scene = SceneSpec(spec.scene, spec.width, spec.height, spec.fps, spec.duration_s, spec.seed)
            key = (scene, spec.codec)
            if key not in replays:
                replays[key] = ReplayStream(load_stream(scene, spec.codec, cache))
            self._cameras[spec.name] = LiveCamera(spec, replays[key], self.epoch)
        self._rtsp = RtspServer(self._cameras, host, port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="camera-server", daemon=True)
        self._tasks: list[asyncio.Task[None]] = []
        self._thread.start()
        for camera in self._cameras.values():
            self._loop.call_soon_threadsafe(self._spawn, camera)

    @property
    def port(self) -> int:
        return self._rtsp.port

    @property
    def names(self) -> list[str]:
        return list(self._cameras)

    def url(self, name: str, user: str | None = None, password: str | None = None) -> str:
        """``rtsp://[user:password@]host:port/name``."""
        self._camera(name)
        credentials = f"{quote(user, safe='')}:{quote(password or '', safe='')}@" if user is not None else ""
        return f"rtsp://{credentials}{self.host}:{self.port}/{name}"

    def truth(self, name: str) -> list[tuple[str, float, float]]:
        """``(kind, start, end)`` in epoch seconds for the loops played so far and the current one."""
        return self._camera(name).truth(time.time())

    def start(self) -> Self:
        """Listen (again, on the same port after a ``stop()``)."""
        self._call(self._rtsp.start())
        return self

    def stop(self) -> None:
        """Close the listening socket and every connection; cameras keep their timelines."""
        self._call(self._rtsp.stop())

    def stall(self, name: str) -> None:
        """The camera goes silent: connections stay open, no packets and no answers."""
        camera = self._camera(name)
        self._call(_set(camera, True))

    def resume(self, name: str) -> None:
        camera = self._camera(name)
        self._call(_set(camera, False))

    def close(self) -> None:
        """Stop serving and end the background thread."""
        if not self._thread.is_alive():
            return
        self.stop()
        self._call(self._cancel_tickers())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=CALL_TIMEOUT_S)
        self._loop.close()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _camera(self, name: str) -> LiveCamera:
        try:
            return self._cameras[name]
        except KeyError:
            raise KeyError(f"no camera {name!r}; known: {', '.join(self._cameras)}") from None

    def _spawn(self, camera: LiveCamera) -> None:
        self._tasks.append(self._loop.create_task(camera.run(), name=f"camera-{camera.spec.name}"))

    async def _cancel_tickers(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CALL_TIMEOUT_S)


async def _set(camera: LiveCamera, stalled: bool) -> None:
    camera.stalled = stalled

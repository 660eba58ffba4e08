"""Keeps one worker running per enabled camera, in step with the registry, and answers for them; a
small pool of threads analyses every camera's newest frame."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import tzinfo
from typing import Any

import cv2

from hub import metrics
from hub.cameras.evidence import EvidenceStore, Janitor
from hub.cameras.worker import CameraWorker
from hub.config import CameraSettings
from hub.errors import ConfigError
from hub.model import Camera
from hub.pipeline import Observed
from hub.secrets import Vault
from hub.store.store import Store

log = logging.getLogger(__name__)
_HEALTH_EVERY_S = 0.5


class AnalysisPool:
    """A few threads (not one per camera) analyse whichever camera has a new frame.

    Measured with 16 cameras: one analysis thread per camera made each frame cost 4x its own work
    (about 1.1 ms instead of 0.25 ms) in interpreter-lock handovers between the threads around every
    OpenCV call. A camera is queued once however many frames arrive meanwhile; it is then analysed at
    its newest frame (latest wins: the stream counts the others as dropped)."""

    def __init__(self, threads: int, workers: Callable[[], list[CameraWorker]]) -> None:
        self.workers = workers
        self._queue: queue.SimpleQueue[CameraWorker | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, name=f"camera-analysis-{i}", daemon=True)
                         for i in range(threads)]
        self._health_at = 0.0

    def start(self) -> None:
        # OpenCV's own thread pool splits each small resize or blur across the cores and spins while
        # it waits: on 100-pixel-high frames that doubled the motion step's CPU for nothing.
        cv2.setNumThreads(1)
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(5)

    def notify(self, worker: CameraWorker) -> None:
        """From a stream's thread: this camera has a new frame."""
        with self._lock:
            if worker.queued:
                return
            worker.queued = True
        self._queue.put(worker)

    def _run(self) -> None:
        while True:
            try:
                worker = self._queue.get(timeout=_HEALTH_EVERY_S)
            except queue.Empty:
                self._health()
                continue
            if worker is None:
                return
            with self._lock:
                worker.queued = False
            worker.analyse_latest()
            self._health()

    def _health(self) -> None:
        now = time.time()
        with self._lock:
            due = now - self._health_at >= _HEALTH_EVERY_S
            if due:
                self._health_at = now
        if due:
            for worker in self.workers():
                worker.check_health(now)


class CameraManager:
    def __init__(self, store: Store, vault: Vault, submit: Callable[[Observed], None], *,
                 evidence: EvidenceStore, settings: CameraSettings, zone: tzinfo) -> None:
        self.store = store
        self.vault = vault
        self.submit = submit
        self.evidence = evidence
        self.settings = settings
        self.zone = zone
        self.janitor = Janitor(evidence, store)
        self._workers: dict[str, tuple[CameraWorker, bytes]] = {}
        self._lock = threading.Lock()
        self.pool = AnalysisPool(settings.analysis_threads, self._all)

    def start(self) -> None:
        self.pool.start()
        for camera, sealed, online in self.store.camera_streams():
            if camera.enabled:
                self._start(camera.id, camera, sealed, online)
        metrics.FLEET.cameras = self.health
        self.janitor.start()
        log.info("%d cameras started", len(self._workers))

    def stop(self) -> None:
        self.janitor.stop()
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker, _ in workers:
            worker.stop()
        self.pool.stop()

    def reload(self, camera_id: str) -> None:
        """The API changed this camera: start, restart (new URL), update (settings) or stop its worker."""
        found = self.store.camera_streams(camera_id)
        with self._lock:
            current = self._workers.get(camera_id)
        if not found or not found[0][0].enabled:
            if current is not None:
                self._stop(camera_id)
            return
        camera, sealed, online = found[0]
        if current is not None and current[1] == sealed:
            current[0].update(camera)
            return
        if current is not None:
            self._stop(camera_id)
        self._start(camera_id, camera, sealed, online)

    def status(self, camera_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._workers.get(camera_id)
        return None if found is None else found[0].api_status()

    def snapshot(self, camera_id: str) -> bytes | None:
        with self._lock:
            found = self._workers.get(camera_id)
        return None if found is None else found[0].snapshot_jpeg()

    def health(self) -> list[metrics.CameraHealth]:
        return [w.health() for w in self._all()]

    def _all(self) -> list[CameraWorker]:
        with self._lock:
            return [w for w, _ in self._workers.values()]

    def _start(self, camera_id: str, camera: Camera, sealed: bytes, online: bool | None) -> None:
        try:
            url = self.vault.unseal(sealed)
        except ConfigError as exc:
            log.error("camera %s: %s", camera_id, exc)
            return
        worker = CameraWorker(camera, url, submit=self.submit, evidence=self.evidence,
                              settings=self.settings, zone=self.zone, was_online=online,
                              on_frame=self.pool.notify)
        worker.start()
        with self._lock:
            self._workers[camera_id] = (worker, sealed)

    def _stop(self, camera_id: str) -> None:
        with self._lock:
            found = self._workers.pop(camera_id, None)
        if found is not None:
            found[0].stop()

"""Keeps one worker running per enabled camera, in step with the registry, and answers for them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import tzinfo
from typing import Any

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

    def start(self) -> None:
        for camera, sealed, online in self.store.camera_streams():
            if camera.enabled:
                self._start(camera.id, camera, sealed, online)
        metrics.CAMERAS.source = self.health
        self.janitor.start()
        log.info("%d cameras started", len(self._workers))

    def stop(self) -> None:
        self.janitor.stop()
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker, _ in workers:
            worker.stop()

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
        with self._lock:
            workers = [w for w, _ in self._workers.values()]
        return [w.health() for w in workers]

    def _start(self, camera_id: str, camera: Camera, sealed: bytes, online: bool | None) -> None:
        try:
            url = self.vault.unseal(sealed)
        except ConfigError as exc:
            log.error("camera %s: %s", camera_id, exc)
            return
        worker = CameraWorker(camera, url, submit=self.submit, evidence=self.evidence,
                              settings=self.settings, zone=self.zone, was_online=online)
        worker.start()
        with self._lock:
            self._workers[camera_id] = (worker, sealed)

    def _stop(self, camera_id: str) -> None:
        with self._lock:
            found = self._workers.pop(camera_id, None)
        if found is not None:
            found[0].stop()

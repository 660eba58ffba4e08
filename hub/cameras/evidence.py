"""Snapshots and clips on disk, under `HUB_DATA_DIR/evidence`, and their retention limit.

Each camera event gets its own folder `{camera}/{YYYYMMDD}/{event id}/`; the store keeps paths relative
to the evidence root, so the data directory can move. Retention removes whole event folders, oldest
first, when they pass the age limit or the total size passes its limit, and marks their evidence rows
removed (the API then answers 410).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import update

from hub import metrics
from hub.ids import new_ulid
from hub.model import utcnow
from hub.store import schema as t
from hub.store.store import Store

log = logging.getLogger(__name__)
_SWEEP_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class EventFolder:
    """Where one camera event's files go: `rel` under the evidence root, `path` on disk."""

    rel: str
    path: Path

    def file(self, name: str) -> tuple[str, Path]:
        return f"{self.rel}/{name}", self.path / name


class EvidenceStore:
    def __init__(self, root: Path, *, max_age_s: float, max_bytes: int) -> None:
        self.root = root
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        root.mkdir(parents=True, exist_ok=True)

    def new_event(self, camera_id: str) -> EventFolder:
        day = datetime.now(UTC).strftime("%Y%m%d")
        rel = f"{camera_id}/{day}/{new_ulid()}"
        path = self.root / rel
        path.mkdir(parents=True, exist_ok=True)
        return EventFolder(rel, path)

    def write(self, folder: EventFolder, name: str, data: bytes) -> str:
        """Write a file atomically (a reader never sees half a JPEG); returns its relative path."""
        rel, path = folder.file(name)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        metrics.EVIDENCE_BYTES.inc(len(data))  # until the next sweep counts them all again
        metrics.EVIDENCE_FILES.inc()
        return rel

    def sweep(self, now: float | None = None) -> list[str]:
        """Remove event folders past the limits, oldest first; returns their relative paths."""
        now = time.time() if now is None else now
        events = []
        for folder in self.root.glob("*/*/*"):
            if folder.is_dir():
                kept = [f for f in folder.iterdir() if f.is_file()]
                size = sum(f.stat().st_size for f in kept)
                mtime = max((f.stat().st_mtime for f in kept), default=folder.stat().st_mtime)
                events.append((mtime, size, len(kept), folder))
        events.sort()
        total = sum(size for _, size, _, _ in events)
        files = sum(count for _, _, count, _ in events)
        removed = []
        for mtime, size, count, folder in events:
            if now - mtime <= self.max_age_s and total <= self.max_bytes:
                break
            shutil.rmtree(folder, ignore_errors=True)
            total -= size
            files -= count
            removed.append(folder.relative_to(self.root).as_posix())
        metrics.EVIDENCE_BYTES.set(total)
        metrics.EVIDENCE_FILES.set(files)
        return removed


class Janitor:
    """Runs the retention sweep every minute and records what it removed."""

    def __init__(self, evidence: EvidenceStore, store: Store) -> None:
        self.evidence = evidence
        self.store = store
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="evidence-janitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        metrics.EVIDENCE_LIMIT.set(self.evidence.max_bytes)
        while True:
            try:
                self.sweep()
            except Exception:  # a full disk or a database outage: the next sweep tries again
                log.exception("evidence retention sweep failed")
            if self._stop.wait(_SWEEP_EVERY_S):
                return

    def sweep(self) -> list[str]:
        removed = self.evidence.sweep()
        if removed:
            e = t.evidence.c
            with self.store.writing() as conn:
                for rel in removed:
                    gone = e.path.startswith(rel + "/") & e.removed_at.is_(None)
                    conn.execute(update(t.evidence).where(gone).values(removed_at=utcnow()))
            log.info("evidence retention removed %d event folders", len(removed))
        return removed

"""Wiring: builds every part of the hub from its configuration, starts them in order, stops them
in reverse. The whole list is here, flat, so the order of start and stop can be read at a glance."""

from __future__ import annotations

import gc
import logging
import sys
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from drivers import mqtt_cc, pingan_mqtt, sia_dc09, zigbee2mqtt
from drivers.base import Decoder
from hub import __version__, metrics, uptime
from hub.broker import EmbeddedBroker
from hub.cameras.evidence import EvidenceStore
from hub.cameras.live import LiveView
from hub.cameras.manager import CameraManager
from hub.config import HubConfig
from hub.engine import CC_SINK
from hub.engine import Engine as AlarmEngine
from hub.forwarder_process import ForwarderProcess, Spec
from hub.model import Camera, Device, Registered
from hub.mqtt import BrokerAddress
from hub.pipeline import Pipeline
from hub.secrets import Vault
from hub.sia_receiver import Accounts, SiaReceiver
from hub.site_link import SiteLink
from hub.status import StatusLink
from hub.store.db import migrate, open_engine
from hub.store.store import Store
from hub.supervisor import Supervisor
from hub.web.auth import bootstrap_admin
from hub.web.deps import WebContext
from hub.web.schemas import Health
from hub.writes import Writes

log = logging.getLogger(__name__)


@dataclass
class Hub:
    config: HubConfig
    db: Engine | None = None
    broker: EmbeddedBroker | None = None
    pipeline: Pipeline | None = None
    site: SiteLink | None = None
    forwarder: ForwarderProcess | None = None
    vault: Vault | None = None
    cameras: CameraManager | None = None
    evidence: EvidenceStore | None = None
    live: LiveView | None = None
    status: StatusLink | None = None
    board: uptime.Board | None = None
    sia: SiaReceiver | None = None
    accounts: Accounts | None = None
    new_admin_token: str | None = None
    _started: list[Any] = field(default_factory=list)

    def start(self) -> None:
        cfg = self.config
        # Several threads share the interpreter lock: a thread that gave it up for I/O otherwise waits up
        # to 5 ms to get it back from a busy one, on every commit and every packet. 1 ms keeps the alarm
        # path's latency low for a few percent more switching.
        sys.setswitchinterval(0.0002)
        metrics.BUILD.info({"version": __version__})
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = open_engine(cfg.database_url)
        migrate(self.db)
        self.vault = Vault.open(cfg.data_dir)
        admin = cfg.admin_token.get_secret_value() if cfg.admin_token else None
        self.new_admin_token = bootstrap_admin(self.db, admin)

        site_url, cc_url = cfg.mqtt.url, cfg.mqtt.cc_url
        if site_url is None:
            self.broker = EmbeddedBroker(cfg.data_dir, cfg.mqtt.embedded_port, cfg.mqtt.embedded_broker)
            self.broker.start()
            self._started.append(self.broker)
            site_url = self.broker.url
        cc_url = cc_url or site_url

        store = Store(self.db)
        self.accounts = Accounts(store.sia_accounts, self.vault)
        decoders: list[Decoder] = [pingan_mqtt.PinganMqtt(pingan_mqtt.Settings(prefix=cfg.mqtt.prefix)),
                                   zigbee2mqtt.Zigbee2Mqtt(zigbee2mqtt.Settings()),
                                   sia_dc09.SiaDc09(cfg.sia)]
        fw = cfg.forwarder
        self.forwarder = ForwarderProcess(Spec(
            database_url=cfg.database_url, sink_name=CC_SINK,
            sink=mqtt_cc.Settings(url=cc_url, client_id=f"{cfg.mqtt.client_id}-cc",
                                  keepalive_s=cfg.mqtt.keepalive_s),
            batch_max=fw.batch_max, publish_timeout_s=fw.publish_timeout_s,
            retry_initial_s=fw.retry_initial_s, retry_max_s=fw.retry_max_s,
            log_level=logging.getLogger().level), on_sent=self._sent)
        if cfg.monitoring.status_topics:
            self.status = StatusLink(BrokerAddress.parse(site_url), f"{cfg.mqtt.client_id}-status",
                                     cfg.mqtt.prefix, cfg.mqtt.keepalive_s, self._site_of)
        self.pipeline = Pipeline(
            store, AlarmEngine(prefix=cfg.mqtt.prefix, default_center=cfg.routing.default_center,
                               evidence_base=f"{cfg.api_base}/api/v1/alarms"),
            Supervisor(cfg.supervision.grace_s), decoders, batch_max=cfg.pipeline.batch_max,
            queue_max=cfg.pipeline.queue_max, max_payload_bytes=cfg.mqtt.max_payload_bytes,
            startup_grace_s=cfg.supervision.startup_grace_s, on_commit=self.forwarder.wake,
            on_states=self.status.states if self.status else lambda _rows: None, version=__version__)
        self.site = SiteLink(BrokerAddress.parse(site_url), cfg.mqtt.client_id,
                             [topic for d in decoders for topic in d.subscriptions()], self.pipeline,
                             cfg.mqtt.keepalive_s)
        if cfg.sia.enabled:
            self.sia = SiaReceiver(cfg.sia, self.accounts, self.pipeline.offer, self.pipeline.submit)
        metrics.FLEET.devices = self.pipeline.device_health
        metrics.ALARMS_OPEN.source = self.pipeline.open_counts
        board = self.board = uptime.Board(self.db, self._registered)
        metrics.FLEET.uptime = board.snapshot
        metrics.UPTIME_REFRESH.set_function(lambda: board.refresh_seconds)
        board_thread = uptime.BoardThread(board, cfg.monitoring.uptime_refresh_s,
                                          on_error=lambda: metrics.DATABASE_UP.set(0),
                                          on_refresh=metrics.FLEET.write_uptime)
        cams = cfg.cameras
        self.evidence = EvidenceStore(cfg.data_dir / "evidence", max_age_s=cams.evidence_max_age_days * 86400,
                                      max_bytes=cams.evidence_max_bytes)
        self.cameras = CameraManager(store, self.vault, self.pipeline.submit, evidence=self.evidence,
                                     settings=cams, zone=ZoneInfo(cfg.timezone))
        self.live = LiveView()  # WebRTC viewers; bound to uvicorn's loop by its first offer
        # The status link first (its will covers the rest); the SIA receiver after the pipeline it feeds.
        parts: list[Any] = [self.status, self.pipeline, self.forwarder, self.site, self.sia, self.cameras,
                            board_thread]
        for part in (p for p in parts if p is not None):
            part.start()
            self._started.append(part)
        # What start-up built (modules, the registry, the open alarms read back) lives as long as the
        # hub: out of the garbage collector's full passes, which otherwise scan it again and again.
        gc.freeze()
        log.info("hub %s started: database %s, site broker %s, command-center broker %s", __version__,
                 self.db.url.render_as_string(hide_password=True), BrokerAddress.parse(site_url),
                 BrokerAddress.parse(cc_url))

    def _registered(self) -> list[uptime.Key]:
        """Every registered camera and device (the things hub_uptime_ratio describes)."""
        assert self.pipeline is not None
        registry = self.pipeline.engine.registry
        return ([("camera", c) for c in list(registry.cameras)] +
                [("device", d) for d in list(registry.devices)])

    def _site_of(self, kind: str, object_id: str) -> str | None:
        assert self.pipeline is not None
        registry = self.pipeline.engine.registry
        found = (registry.cameras if kind == "camera" else registry.devices).get(object_id)
        return found.site_id if found else None

    def _sent(self, ids: list[int], at: datetime, first: list[str]) -> Future[Any]:
        """The sink confirmed these deliveries: stored by the pipeline with its next batch."""
        assert self.pipeline is not None

        def mark(engine: AlarmEngine, writes: Writes) -> None:
            writes.sent.append((ids, at))
            writes.delivered.extend(engine.mark_delivered(first))

        return self.pipeline.call(mark)

    def stop(self) -> None:
        """Reverse order. The pipeline finishes (commits and acknowledges) what it holds before the
        site link goes; whatever is left unacknowledged is redelivered by the broker next time."""
        if self.live is not None:  # viewers first: they hold camera connections of their own
            self.live.close()
        order = {id(p): p for p in self._started}
        if self.cameras is not None and id(self.cameras) in order:  # their last observations go in
            order.pop(id(self.cameras)).stop()
        if self.pipeline is not None and self.site is not None:
            self.pipeline.stop()
        for part in reversed(list(order.values())):
            if part is not self.pipeline:
                part.stop()
        self._started.clear()
        if self.db is not None:
            self.db.dispose()

    def web_context(self) -> WebContext:
        assert self.db is not None and self.vault is not None and self.pipeline is not None
        assert self.cameras is not None and self.evidence is not None
        return WebContext(db=self.db, vault=self.vault, refresh=self._refresh, health=self.health,
                          writing=self.pipeline.store.writing, act=self.pipeline.call,
                          timezone=self.config.timezone, camera_status=self.cameras.status,
                          camera_snapshot=self.cameras.snapshot, evidence_dir=self.evidence.root,
                          camera_stream=self._camera_stream, live_view=self.live)

    def _camera_stream(self, camera_id: str) -> tuple[str, bool] | None:
        """A camera's stream URL (unsealed) and whether it is enabled; None if there is no such camera."""
        assert self.pipeline is not None and self.vault is not None
        found = self.pipeline.store.camera_streams(camera_id)
        if not found:
            return None
        camera, sealed, _online = found[0]
        return self.vault.unseal(sealed), camera.enabled

    def _refresh(self, kind: type[Registered], item_id: str) -> Future[Any]:
        """The API changed one object: the engine re-reads it, and a camera's worker follows."""
        assert self.pipeline is not None and self.cameras is not None
        done = self.pipeline.refresh(kind, item_id)
        deleted = kind in (Camera, Device) and self.pipeline.store.one(kind, item_id) is None
        if self.status is not None and deleted:  # no retained status left behind
            self.status.forget("camera" if kind is Camera else "device", item_id)
        if kind is Camera:
            done.result(10)
            self.cameras.reload(item_id)
        if kind is Device and self.accounts is not None:  # its SIA account and key, for the receiver
            self.accounts.reload(item_id)
        return done

    def health(self) -> Health:
        database = True
        try:
            assert self.db is not None
            with self.db.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # any failure of the probe means "not healthy"; the reason is logged
            log.exception("health: database probe failed")
            database = False
        site = self.site.connected() if self.site else False
        cc = self.forwarder.ready() if self.forwarder else False
        ok = database and site and cc
        return Health(status="ok" if ok else "degraded", version=__version__, database=database,
                      site_broker=site, cc_broker=cc,
                      embedded_broker=self.broker.kind if self.broker else None)

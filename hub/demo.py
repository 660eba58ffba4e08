"""`hub demo`: the hub on its embedded defaults with a simulated fleet of alarm devices and cameras.

The fleet is registered through the API (as a technician would), then sends a gentle random stream of
events and a heartbeat a minute from every device; a few devices stay silent so supervision shows.
Simulated RTSP cameras (simulators.camera, in this process) show scripted scenes: people walking past
an armed camera raise video_motion alarms with snapshot and clip; a lighting change and waving trees
raise nothing; a camera whose lens gets covered raises a tamper alarm. A few SIA DC-09 panels
(simulators.sia_panel, one encrypting) send link tests every minute and now and then an event to the
hub's SIA receiver. A simulated command center counts what arrives on the 110 queue and the demo logs it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time

import httpx

from drivers.sia_dc09.codec import parse_key
from hub.app import Hub
from hub.config import HubConfig
from hub.web.auth import Role, issue
from simulators.camera import CameraServer, CameraSpec
from simulators.consumer import Consumer
from simulators.fleet import Fleet, device_ids
from simulators.provision import CITY_CENTER, provision
from simulators.sia_panel import Panel

log = logging.getLogger("hub.demo")
_HEARTBEAT_S = 60
_SILENT = 3
_REPORT_EVERY_S = 30.0
# (camera id, scene, armed): what the demo's cameras show.
_CAMERAS = (("demo-cam-gate", "walk", True), ("demo-cam-lobby", "lights", True),
            ("demo-cam-yard", "foliage", True), ("demo-cam-store", "covered", True),
            ("demo-cam-office", "walk", False))
# (device id, SIA account, AES key or None): the demo's DC-09 panels.
_PANELS = (("demo-sia-bank", "1A01", "00112233445566778899AABBCCDDEEFF"), ("demo-sia-shop", "1A02", None),
           ("demo-sia-home", "1A03", None))
_PANEL_EVENTS = ("BA", "BH", "OP", "CL", "TA", "TR", "YT", "YR", "RP", "FA", "FH")
_PANEL_EVENT_EVERY_S = 90.0


class Demo:
    def __init__(self, cfg: HubConfig, *, devices: int, rate: float) -> None:
        self.cfg = cfg
        self.devices = devices
        self.rate = rate
        self._stop = threading.Event()
        self._fleet_ref: Fleet | None = None
        self._cameras: CameraServer | None = None
        self._token = ""

    async def run(self, hub: Hub) -> None:
        try:
            await asyncio.to_thread(self._provision, hub)
            await asyncio.to_thread(self._start_cameras, hub)
            await asyncio.gather(asyncio.to_thread(self._fleet, hub), asyncio.to_thread(self._panels),
                                 self._report(hub))
        finally:
            self._stop.set()
            if self._fleet_ref is not None:
                self._fleet_ref.stop()
            if self._cameras is not None:
                self._cameras.close()

    def _provision(self, hub: Hub) -> None:
        assert hub.db is not None
        token = self._token = issue(hub.db, "demo", Role.TECHNICIAN)
        result = provision(f"http://{self.cfg.http}", token, self.devices, device_prefix="demo",
                           supervision_s=_HEARTBEAT_S * 2, stations=3)
        log.info("demo: %d devices registered (%d already there)", result.created, result.existing)
        station = issue(hub.db, "值班员 station-01", Role.OPERATOR, center_id="station-01")
        city = issue(hub.db, "值班长 110", Role.OPERATOR, center_id=CITY_CENTER)
        technician = issue(hub.db, "技术员", Role.TECHNICIAN)
        print(f"\nconsole: http://{self.cfg.http}/ — demo tokens (new each run):\n"
              f"  operator, station-01: {station}\n  operator, {CITY_CENTER}: {city}\n"
              f"  technician:           {technician}\n", flush=True)

    def _start_cameras(self, hub: Hub) -> None:
        """The simulated cameras (encoded once into data_dir/camera-cache), registered through the API."""
        assert hub.db is not None
        specs = [CameraSpec(camera_id, scene=scene, width=640, height=360, fps=5.0, duration_s=60.0)
                 for camera_id, scene, _armed in _CAMERAS]
        self._cameras = CameraServer(specs, "127.0.0.1", 0, self.cfg.data_dir / "camera-cache").start()
        token = issue(hub.db, "demo-cameras", Role.TECHNICIAN)
        with httpx.Client(base_url=f"http://{self.cfg.http}", timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as api:
            site = api.get("/api/v1/sites", params={"limit": 1}).json()["items"][0]["id"]
            for camera_id, _scene, armed in _CAMERAS:
                body = {"id": camera_id, "site_id": site, "name": camera_id.removeprefix("demo-cam-"),
                        "url": self._cameras.url(camera_id), "armed": armed, "offline_after_s": 60}
                answer = api.post("/api/v1/cameras", json=body)
                if answer.status_code == 409:  # registered by an earlier demo: its URL has a new port
                    answer = api.patch(f"/api/v1/cameras/{camera_id}", json={"url": body["url"]})
                answer.raise_for_status()
        log.info("demo: %d simulated cameras on rtsp://127.0.0.1:%d/ (%s)", len(specs), self._cameras.port,
                 ", ".join(f"{c} {scene}{'' if armed else ' (unarmed)'}" for c, scene, armed in _CAMERAS))

    def _panels(self) -> None:
        """The SIA panels: registered through the API, then a NULL every minute (their supervision) and
        an event now and then, each from a thread of its own."""
        with httpx.Client(base_url=f"http://{self.cfg.http}", timeout=30,
                          headers={"Authorization": f"Bearer {self._token}"}) as api:
            listed = api.get("/api/v1/sites", params={"limit": len(_PANELS)}).json()["items"]
            sites = [s["id"] for s in listed]
            for (device, account, key), site in zip(_PANELS, sites, strict=False):
                body = {"id": device, "site_id": site, "protocol": "sia", "account": account,
                        "supervision_s": _HEARTBEAT_S * 2, **({"key": key} if key else {})}
                if api.post("/api/v1/devices", json=body).status_code not in (201, 409):
                    log.warning("demo: panel %s could not be registered", device)
        host, _, port = self.cfg.sia.listen.rpartition(":")
        threads = [threading.Thread(target=self._panel, args=(host, int(port), account, key), daemon=True)
                   for _device, account, key in _PANELS]
        for thread in threads:
            thread.start()
        log.info("demo: %d SIA DC-09 panels report to %s (%s encrypted)", len(_PANELS), self.cfg.sia.listen,
                 ", ".join(d for d, _a, k in _PANELS if k) or "none")
        for thread in threads:
            thread.join()

    def _panel(self, host: str, port: int, account: str, key: str | None) -> None:
        rng = random.Random(account)
        with Panel(host, port, account, key=parse_key(key) if key else None, timeout=5.0) as panel:
            next_null = next_event = 0.0
            while not self._stop.wait(1.0):
                now = time.monotonic()
                if now >= next_null:
                    panel.null()
                    next_null = now + _HEARTBEAT_S
                if now >= next_event:
                    panel.event(rng.choice(_PANEL_EVENTS), rng.randint(1, 8))
                    next_event = now + rng.expovariate(1 / _PANEL_EVENT_EVERY_S)

    def _fleet(self, hub: Hub) -> None:
        assert hub.broker is not None or self.cfg.mqtt.url
        url = self.cfg.mqtt.url or (hub.broker.url if hub.broker else "")
        ids = device_ids(self.devices, "demo")
        with Fleet(url, ids, client_id="pingan-demo-fleet") as fleet:
            self._fleet_ref = fleet
            fleet.silent.update(ids[:_SILENT])
            log.info("demo: %s stay silent and will raise comm_fault after %d s", ", ".join(ids[:_SILENT]),
                     _HEARTBEAT_S * 2)
            while not self._stop.is_set():
                fleet.run(self.rate, 3600, heartbeat_s=_HEARTBEAT_S, seed=None)

    async def _report(self, hub: Hub) -> None:
        url = self.cfg.mqtt.cc_url or self.cfg.mqtt.url or (hub.broker.url if hub.broker else "")
        with Consumer(url, client_id="pingan-demo-cc", clean_session=True) as consumer:
            while True:
                await asyncio.sleep(_REPORT_EVERY_S)
                report = consumer.report()
                log.info("demo: the 110 queue has received %d alarms (%s)", report.alarms,
                         ", ".join(f"{k} {v}" for k, v in sorted(report.by_category.items())))

"""`hub demo`: the hub on its embedded defaults with a simulated fleet of alarm devices.

The fleet is registered through the API (as a technician would), then sends a gentle random stream of
events and a heartbeat a minute from every device; a few devices stay silent so supervision shows.
A simulated command center counts what arrives on the 110 queue and the demo logs it.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from hub.app import Hub
from hub.config import HubConfig
from hub.web.auth import Role, issue
from simulators.consumer import Consumer
from simulators.fleet import Fleet, device_ids
from simulators.provision import provision

log = logging.getLogger("hub.demo")
_HEARTBEAT_S = 60
_SILENT = 3
_REPORT_EVERY_S = 30.0


class Demo:
    def __init__(self, cfg: HubConfig, *, devices: int, rate: float) -> None:
        self.cfg = cfg
        self.devices = devices
        self.rate = rate
        self._stop = threading.Event()
        self._fleet_ref: Fleet | None = None

    async def run(self, hub: Hub) -> None:
        try:
            await asyncio.to_thread(self._provision, hub)
            await asyncio.gather(asyncio.to_thread(self._fleet, hub), self._report(hub))
        finally:
            self._stop.set()
            if self._fleet_ref is not None:
                self._fleet_ref.stop()

    def _provision(self, hub: Hub) -> None:
        assert hub.db is not None
        token = issue(hub.db, "demo", Role.TECHNICIAN)
        result = provision(f"http://{self.cfg.http}", token, self.devices, device_prefix="demo",
                           supervision_s=_HEARTBEAT_S * 2, stations=3)
        log.info("demo: %d devices registered (%d already there)", result.created, result.existing)

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

"""Register a simulated fleet in a running hub through its HTTP API (CONTRACT.md, "HTTP").

Creates the ``110-city`` center (and optionally station centers under it), one site per device
(``site-{i:05d}``, somewhere in Nanjing) and one MQTT device per site whose id matches the fleet's
(``{prefix}-{i:05d}``). A 409 (already exists) counts as success, so provisioning is re-runnable;
``--update`` PATCHes existing records instead, e.g. to change ``supervision_s``.

20,000 devices are 40,000 POSTs: requests reuse keep-alive connections (one ``httpx.Client``) and
a few worker threads each create a site and then its device, so the hub's latency overlaps.

Usage::

    python -m simulators.provision --url http://127.0.0.1:8080 --token $HUB_ADMIN_TOKEN --devices 1000
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

CITY_CENTER = "110-city"
DEFAULT_CENTERS: tuple[dict[str, Any], ...] = (
    {"id": CITY_CENTER, "name": "南京市公安局110指挥中心", "kind": "110", "parent_id": None},
)

SITE_KINDS: tuple[tuple[str, str], ...] = (
    ("shop", "商店"), ("home", "住宅"), ("shop", "便利店"), ("bank", "银行网点"), ("home", "住宅"),
    ("pharmacy", "药店"), ("warehouse", "仓库"), ("office", "办公室"), ("restaurant", "餐馆"),
    ("school", "学校"),
)
DISTRICTS = ("玄武区", "秦淮区", "鼓楼区", "建邺区", "栖霞区", "雨花台区")
STREETS = ("中山路", "汉中路", "北京东路", "珠江路", "太平南路", "湖南路", "中央路", "龙蟠路",
           "集庆路", "江东中路", "草场门大街", "应天大街")
CENTER_LAT, CENTER_LON = 32.05, 118.78


@dataclass
class ProvisionResult:
    """What happened to each record: created (201), existing (409, or updated with ``update``)."""

    created: int = 0
    existing: int = 0
    failed: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, outcome: str, detail: str = "") -> None:
        with self._lock:
            if outcome == "created":
                self.created += 1
            elif outcome == "existing":
                self.existing += 1
            else:
                self.failed.append(detail)

    def summary(self) -> str:
        text = (f"provisioned: {self.created} created, {self.existing} already there, "
                f"{len(self.failed)} failed")
        return text + (f"; first failure: {self.failed[0]}" if self.failed else "")


def station_centers(count: int) -> list[dict[str, Any]]:
    """Police-station centers under the city 110 center (``station-01``...)."""
    return [
        {"id": f"station-{j:02d}", "name": f"派出所 {j:02d}", "kind": "station", "parent_id": CITY_CENTER}
        for j in range(1, count + 1)
    ]


def site_body(i: int, center_id: str) -> dict[str, Any]:
    """A plausible site in Nanjing; deterministic per index so reruns send the same data."""
    rng = random.Random(i)
    kind, label = SITE_KINDS[i % len(SITE_KINDS)]
    district, street, number = rng.choice(DISTRICTS), rng.choice(STREETS), rng.randint(1, 399)
    return {
        "id": f"site-{i:05d}",
        "name": f"{label} {i:05d}",
        "kind": kind,
        "address": f"江苏省南京市{district}{street}{number}号",
        "lat": round(CENTER_LAT + rng.uniform(-0.08, 0.08), 6),
        "lon": round(CENTER_LON + rng.uniform(-0.10, 0.10), 6),
        "door_plate": f"{street}{number}号",
        "pole": f"NJ-{rng.randint(1, 9999):04d}-{rng.randint(1, 99):02d}",
        "center_id": center_id,
    }


def device_body(i: int, device_prefix: str, supervision_s: int | None) -> dict[str, Any]:
    """An MQTT alarm device with the fleet's id for site ``i``."""
    body: dict[str, Any] = {
        "id": f"{device_prefix}-{i:05d}",
        "site_id": f"site-{i:05d}",
        "protocol": "mqtt",
        "test_mode": False,
    }
    if supervision_s is not None:
        body["supervision_s"] = supervision_s
    return body


class _Api:
    """The few calls provisioning needs, with 409 meaning "already there"."""

    def __init__(self, client: httpx.Client, result: ProvisionResult, update: bool) -> None:
        self.client = client
        self.result = result
        self.update = update

    def create(self, collection: str, body: Mapping[str, Any]) -> bool:
        """POST a record; on 409 optionally PATCH it. Returns False (and records why) on failure."""
        path = f"/api/v1/{collection}"
        try:
            response = self.client.post(path, json=body)
            if response.status_code == 409 and self.update:
                changes = {key: value for key, value in body.items() if key != "id"}
                response = self.client.patch(f"{path}/{body['id']}", json=changes)
                if response.is_success:
                    self.result.count("existing")
                    return True
        except httpx.HTTPError as exc:
            self.result.count("failed", f"{collection}/{body['id']}: {exc!r}")
            return False
        if response.status_code == 409:
            self.result.count("existing")
            return True
        if response.is_success:
            self.result.count("created")
            return True
        reason = f"{response.status_code} {response.text[:200]}"
        self.result.count("failed", f"{collection}/{body['id']}: {reason}")
        return False


def provision(
    base_url: str,
    token: str,
    devices: int,
    device_prefix: str = "sim",
    supervision_s: int | None = None,
    centers: Iterable[Mapping[str, Any]] = DEFAULT_CENTERS,
    *,
    stations: int = 0,
    update: bool = False,
    workers: int = 8,
    timeout: float = 30.0,
) -> ProvisionResult:
    """Create centers, then sites and their devices; safe to run again (409 is fine).

    With ``stations`` > 0 the sites are spread round-robin over the station centers, otherwise
    they all belong to ``110-city``.
    """
    result = ProvisionResult()
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    # httpx writes request headers and body separately: without TCP_NODELAY the body can wait for
    # the server's delayed ACK (tens of ms per request).
    transport = httpx.HTTPTransport(
        retries=2, limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    )
    with httpx.Client(base_url=base_url, headers=headers, timeout=timeout, transport=transport) as client:
        api = _Api(client, result, update)
        all_centers = [*centers, *station_centers(stations)]
        for center in all_centers:
            api.create("centers", center)
        site_centers = [c["id"] for c in all_centers if c.get("kind") == "station"] or [CITY_CENTER]

        def one(i: int) -> None:
            if api.create("sites", site_body(i, site_centers[(i - 1) % len(site_centers)])):
                api.create("devices", device_body(i, device_prefix, supervision_s))

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, range(1, devices + 1)))
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.provision",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://" + os.environ.get("HUB_HTTP", "127.0.0.1:8080"),
                        help="hub base URL (default http://$HUB_HTTP)")
    parser.add_argument("--token", default=os.environ.get("HUB_ADMIN_TOKEN"), help="env HUB_ADMIN_TOKEN")
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--device-prefix", default="sim")
    parser.add_argument("--supervision", type=int, default=None, metavar="SECONDS", help="supervision_s")
    parser.add_argument("--stations", type=int, default=0, help="station centers to spread sites over")
    parser.add_argument("--update", action="store_true", help="PATCH records that already exist")
    parser.add_argument("--workers", type=int, default=8, help="concurrent requests")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.token:
        print("a token is needed: --token or HUB_ADMIN_TOKEN", file=sys.stderr)
        return 2
    result = provision(args.url, args.token, args.devices, args.device_prefix, args.supervision,
                       stations=args.stations, update=args.update, workers=args.workers)
    print(result.summary())
    return 1 if result.failed else 0


if __name__ == "__main__":
    sys.exit(main())

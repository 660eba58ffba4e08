"""Fixtures: real servers on 127.0.0.1 (Mosquitto, PostgreSQL), the hub as a process, simulators.

Integration tests run on SQLite and, through the `database_url` parameter, on PostgreSQL too.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from simulators.consumer import Consumer
from tests.fixtures.browser import chromium
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.servers import Mosquitto, Postgres

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    if not Path("/usr/lib/postgresql/15/bin/postgres").exists() and not shutil.which("pg_ctl"):
        pytest.fail("PostgreSQL 15 is not installed: `make test` installs it (apt-get install postgresql)")
    server = Postgres(tmp_path_factory.mktemp("pg"))
    server.start()
    yield server
    server.close()


_db_counter = iter(range(1, 10**6))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/hub.db"
    server: Postgres = request.getfixturevalue("postgres")
    return server.create_database(f"hub_{os.getpid()}_{next(_db_counter)}")


@pytest.fixture
def site_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "site-broker") as broker:
        broker.start()
        yield broker


@pytest.fixture
def cc_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "cc-broker") as broker:
        broker.start()
        yield broker


@pytest.fixture
def hub(tmp_path: Path, database_url: str, site_broker: Mosquitto,
        cc_broker: Mosquitto) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path / "hub", database_url=database_url, mqtt_url=site_broker.url,
                         cc_mqtt_url=cc_broker.url,
                         config={"supervision": {"grace_s": 1.0}})
    process.start()
    yield process
    process.close()


@pytest.fixture
def consumer(cc_broker: Mosquitto) -> Iterator[Consumer]:
    with Consumer(cc_broker.url) as c:
        yield c


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium for the whole session; each test opens its own pages (`new_page`)."""
    with chromium() as b:
        yield b

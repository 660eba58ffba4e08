"""The embedded default: `hub run` with no broker URL starts its own broker (Mosquitto, else amqtt)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.consumer import Consumer
from simulators.fleet import Fleet
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.servers import free_port


@pytest.fixture(params=["mosquitto", "amqtt"])
def embedded_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubProcess]:
    port = free_port()
    process = HubProcess(tmp_path / "hub", database_url=f"sqlite:///{tmp_path}/hub.db", mqtt_url="",
                         config={"mqtt": {"embedded_broker": request.param, "embedded_port": port}})
    process.env.pop("HUB_MQTT_URL")
    process.env.pop("HUB_CC_MQTT_URL")
    process.embedded_url = f"mqtt://127.0.0.1:{port}"  # type: ignore[attr-defined]
    process.start()
    yield process
    process.close()


def test_embedded_broker_carries_alarms_to_the_queue(embedded_hub: HubProcess) -> None:
    url: str = embedded_hub.embedded_url  # type: ignore[attr-defined]
    health = embedded_hub.api.get("/healthz").json()
    kind = health["embedded_broker"]
    assert kind in ("mosquitto", "amqtt") and health["status"] == "ok"
    embedded_hub.register(["e-1"])
    with Consumer(url, clean_session=True) as consumer, Fleet(url, ["e-1"]) as fleet:
        fleet.publish_event("e-1", "fire")
        assert consumer.wait_count(1, timeout=15)
    assert consumer.messages()[0].data["category"] == "fire"  # type: ignore[index]
    if kind == "amqtt":
        assert "does not redeliver" in embedded_hub.log(), "the hub must say what the fallback lacks"
    assert embedded_hub.stop() == 0
    assert not os.path.exists(f"/proc/{embedded_hub.proc.pid}")  # type: ignore[union-attr]

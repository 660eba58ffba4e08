"""Random and mutated frames into a real hub's SIA receiver (hypothesis): no crash, no hang, memory
bounded, and a good frame is still answered afterwards."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.sia_dc09 import codec
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.servers import Mosquitto

pytestmark = pytest.mark.slow

ACCOUNT = "F00D"
KEY = "0123456789ABCDEF"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    root = tmp_path_factory.mktemp("sia-fuzz")
    with Mosquitto(root / "broker") as broker:
        broker.start()
        process = HubProcess(root / "hub", database_url=f"sqlite:///{root}/hub.db", mqtt_url=broker.url,
                             config={"sia": {"frame_timeout_s": 1.0, "max_rejected": 1000}})
        try:
            process.start()
            process.post("/api/v1/centers", {"id": "110", "name": "110", "kind": "110"})
            process.post("/api/v1/sites", {"id": "s", "name": "S", "address": "A", "lat": None, "lon": None,
                                           "door_plate": "", "pole": "", "center_id": "110"})
            process.post("/api/v1/devices", {"id": "fuzzed", "site_id": "s", "protocol": "sia",
                                             "account": ACCOUNT, "key": KEY})
            yield process
        finally:
            process.close()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def valid_frames() -> st.SearchStrategy[bytes]:
    key = codec.parse_key(KEY)
    return st.builds(
        lambda seq, code, zone, encrypted, binary: codec.build(
            "SIA-DCS", seq, ACCOUNT, f"#{ACCOUNT}|Nri1/{code}{zone:03d}", key=key if encrypted else None,
            binary_crc=binary),
        st.integers(1, 9999), st.sampled_from(["BA", "FA", "PA", "ZZ", "OP"]), st.integers(0, 999),
        st.booleans(), st.booleans())


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    frame = bytearray(draw(valid_frames()))
    for _ in range(draw(st.integers(1, 4))):
        if not frame:
            break
        at = draw(st.integers(0, len(frame) - 1))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        if action == "flip":
            frame[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "insert":
            frame[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and len(frame) > 2:
            del frame[at]
        elif action == "truncate":
            del frame[at:]
        else:
            frame += frame[: at + 1]
    return bytes(frame)


def garbage() -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=3000), mutated(),
                     st.lists(st.one_of(valid_frames(), mutated()), min_size=2, max_size=5).map(b"".join))


def send(port: int, data: bytes, udp: bool) -> None:
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.settimeout(2)
        sock.connect(("127.0.0.1", port))
        try:
            sock.sendall(data[:65000] if udp else data)
            if not udp:
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(4096):  # replies to whatever was valid, then the receiver's close
                    pass
        except (TimeoutError, ConnectionResetError):
            pass  # a frame left unfinished: the receiver waits for the rest up to frame_timeout_s


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(data=garbage(), udp=st.booleans())
def test_receiver_survives_random_and_mutated_frames(hub: HubProcess, data: bytes, udp: bool) -> None:
    send(hub.sia_port, data, udp)


def test_after_the_fuzz_the_receiver_answers_and_memory_stayed_bounded(hub: HubProcess) -> None:
    assert hub.proc is not None
    before = rss_mib(hub.proc.pid)
    for _ in range(3):
        for n in range(100):
            send(hub.sia_port, bytes([n % 256]) * 2000 + b"\n0000", udp=False)  # junk, then a frame begun
    time.sleep(2)
    assert hub.proc.poll() is None, hub.log()[-2000:]
    assert rss_mib(hub.proc.pid) - before < 64, "memory grew with junk"
    good = codec.build("NULL", 1, ACCOUNT)
    with socket.create_connection(("127.0.0.1", hub.sia_port), timeout=5) as sock:
        sock.sendall(good)
        reply = sock.recv(4096)
    assert codec.parse(reply).token == "ACK"
    assert hub.api.get("/healthz").status_code == 200
    # The fuzz reached the receiver, and nothing in it raised (asyncio would only log it).
    assert hub.metric("hub_sia_frames_total", transport="tcp", outcome="malformed") > 50
    assert "Traceback" not in hub.log() and "Exception in callback" not in hub.log(), hub.log()[-3000:]

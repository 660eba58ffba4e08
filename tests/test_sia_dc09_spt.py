"""A second, independent SIA DC-09 transmitter against a real hub's receiver: `dc09-spt` (PyPI, the
dialler library of van Ovost, who write DC-09 receivers), installed by scripts/setup.sh without its
dependencies (it declares pycrypto; pycryptodome provides the `Crypto` module). Clear text only: its
encryption does not work on pycryptodome.

dc09-spt's own API does the talking: `dc09_spt(account, receiver, line)`, `set_path(...)` for a TCP or
UDP path, `send_msg("SIA-DCS" | "ADM-CID", {...})` (queued, sent by its event thread, repeated every
0.5 s until the receiver ACKs it), `start_poll(...)` for its NULL link test (its poll thread), `state()`.
It reports an acknowledgement only as the boolean `transfer_msg` returns (and in a debug log line with
the receiver's answer): `Spt` below notes both and changes nothing else.

Two quirks of dc09-spt: it writes the sequence number in hex (`"000A"` is its 10th message), which
DC-09 does not allow but the receiver reads and echoes (refused, dc09-spt would repeat that message
forever and send nothing after it); and it puts the area, not the zone, after area codes such as `BA`
when an area is given (`{"code": "BA", "zone": 3, "area": 1}` is `NBA1`): the events here carry no area.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from dc09_spt.dc09_spt import dc09_spt

from simulators.consumer import Consumer, Received
from tests.fixtures.hubproc import HubProcess
from tests.fixtures.servers import Mosquitto
from tests.fixtures.stored import Stack
from tests.fixtures.waiting import wait

CENTER = "110-dc09"
RECEIVER, LINE = 0x12, 3  # dc09-spt writes them in hex: R12 L3
DEVICES = {  # device → the SIA account it is registered with
    "spt-tcp": "7001",
    "spt-udp": "7002",
    "spt-link-tcp": "7003",
    "spt-link-udp": "7004",
    "spt-long": "7005",
}
SENT_LOG = "Sent message nr"  # dc09-spt's debug line after each exchange; its last argument is the answer


@dataclass(frozen=True)
class Transfer:
    """One exchange of dc09-spt with the receiver: its message number, type and transport, and whether
    dc09-spt took the answer for an ACK (`error`: what it raised reading the answer)."""

    msg_nr: int
    mtype: str
    message: str
    transport: str
    acked: bool
    error: str | None = None


class Spt(dc09_spt):  # type: ignore[misc]  # dc09-spt has no type hints
    """dc09-spt's dialler, unchanged, with a note of each exchange it makes (from its threads)."""

    def __init__(self, account: str) -> None:
        super().__init__(account, RECEIVER, LINE)
        self.transfers: list[Transfer] = []
        self._noted = threading.Lock()

    def transfer_msg(self, msg_nr: int, mtype: str, message: str, path: Any) -> bool:
        error = None
        try:
            acked = bool(super().transfer_msg(msg_nr, mtype, message, path))
        except Exception as exc:  # dc09-spt raises on an answer it cannot read: noted, then retried
            acked, error = False, repr(exc)
        with self._noted:
            self.transfers.append(Transfer(msg_nr, mtype, message, path.type, acked, error))
        return acked

    def exchanges(self, mtype: str, msg_nr: int | None = None) -> list[Transfer]:
        with self._noted:
            return [t for t in self.transfers if t.mtype == mtype and msg_nr in (None, t.msg_nr)]

    def deliver(self, mtype: str, params: dict[str, Any], timeout: float = 15.0) -> Transfer:
        """send_msg, then wait for dc09-spt's event thread to have it acknowledged."""
        self.send_msg(mtype, params)
        msg_nr = self.msg_nr
        acked = wait(lambda: [t for t in self.exchanges(mtype, msg_nr) if t.acked], timeout)
        assert acked, f"dc09-spt got no ACK for its {mtype} nr {msg_nr}: {self.exchanges(mtype, msg_nr)}"
        return acked[0]

    def stop(self, timeout: float = 15.0) -> None:
        """Stop its poll thread, and its event thread (`self.send`) by emptying its queue: it puts a message
        it could not deliver back, then sleeps 0.5 s before looking again, so empty it until it ends."""
        self.stop_poll()  # waits for a poll in progress (a TCP answer: 5 s at most)
        deadline = time.monotonic() + timeout
        while self.send is not None and self.send.is_alive() and time.monotonic() < deadline:
            with self.queuelock:
                self.queue.clear()
            self.send.join(0.1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("dc09spt")
    with Mosquitto(root / "site") as site, Mosquitto(root / "cc") as cc:
        site.start()
        cc.start()
        database_url = f"sqlite:///{root}/hub.db"
        hub = HubProcess(root / "hub", database_url=database_url, mqtt_url=site.url, cc_mqtt_url=cc.url)
        try:
            hub.start()
            hub.post("/api/v1/centers", {"id": CENTER, "name": "Suzhou 110", "kind": "110"})
            for device, account in DEVICES.items():
                hub.post("/api/v1/sites", {
                    "id": f"site-{device}", "name": f"Jewellery {device}", "address": "8 Guanqian St, Suzhou",
                    "lat": 31.31, "lon": 120.62, "door_plate": "No. 8", "pole": "P-8", "center_id": CENTER})
                hub.post("/api/v1/devices", {"id": device, "site_id": f"site-{device}", "protocol": "sia",
                                             "account": account})
            with Consumer(cc.url) as consumer:
                yield Stack(hub, consumer, database_url)
        finally:
            hub.close()


@pytest.fixture
def transmitters() -> Iterator[list[Spt]]:
    """The dc09-spt diallers a test makes; their threads are stopped, and checked stopped, afterwards."""
    made: list[Spt] = []
    yield made
    for spt in made:
        spt.stop()
    running = [t for t in threading.enumerate() if type(t).__module__.startswith("dc09_spt")]
    assert not running, f"dc09-spt threads still running: {running}"


def new_alarm(consumer: Consumer, device: str, zone: str, timeout: float = 15.0) -> dict[str, Any]:
    def mine(m: Received) -> bool:
        return bool(m.data and m.data["change"] == "new"
                    and m.data["source"] == {"kind": "device", "id": device, "zone": zone})

    assert consumer.wait_for(lambda messages: any(mine(m) for m in messages), timeout), \
        [m.data for m in consumer.messages()][-5:]
    found = next(m.data for m in consumer.messages() if mine(m))
    assert found is not None
    return found


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_events_from_dc09_spt_are_acknowledged_stored_and_queued(
        stack: Stack, transmitters: list[Spt], caplog: pytest.LogCaptureFixture, transport: str) -> None:
    device = f"spt-{transport}"
    account = DEVICES[device]
    accepted = stack.hub.metric("hub_signals_total", source="sia", result="accepted")
    acks = stack.hub.metric("hub_sia_frames_total", transport=transport, outcome="ack")
    spt = Spt(account)
    transmitters.append(spt)
    spt.set_path("main", "primary", "127.0.0.1", stack.hub.sia_port, type=transport)

    with caplog.at_level(logging.DEBUG):
        burglary = spt.deliver("SIA-DCS", {"code": "BA", "zone": 3})
        fire = spt.deliver("ADM-CID", {"code": 110, "zone": 7})
    assert (burglary.message, fire.message) == (f"#{account}|NBA3]", f"#{account}|1110 00 007]")
    assert all(t.transport == transport for t in spt.transfers)
    # What dc09-spt read back: the receiver's ACK echoing its sequence, receiver, line and account.
    answers = [r.args[-1] for r in caplog.records if isinstance(r.msg, str) and r.msg.startswith(SENT_LOG)
               and isinstance(r.args, tuple)]
    for nr in (1, 2):
        expected = re.compile(rb'\A\n[0-9A-F]{8}"ACK"%04dR12L3#%b\[\]\r\Z' % (nr, account.encode()))
        assert any(isinstance(a, bytes) and expected.match(a) for a in answers), answers

    alarm = new_alarm(stack.consumer, device, "3")
    assert (alarm["category"], alarm["priority"], alarm["center_id"]) == ("burglary", 2, CENTER)
    assert alarm["site"]["id"] == f"site-{device}"
    alarm = new_alarm(stack.consumer, device, "7")
    assert (alarm["category"], alarm["priority"], alarm["agency"]) == ("fire", 1, "119")

    # Stored before the ACK (a repeat after a lost answer is recorded once: still two signals). The hub
    # counts them just after it answers, hence the wait.
    assert stack.signals(device) == [("BA", "3"), ("110", "7")]
    assert wait(lambda: stack.hub.metric("hub_signals_total", source="sia", result="accepted")
                == accepted + 2, 5)
    assert stack.hub.metric("hub_sia_frames_total", transport=transport, outcome="ack") >= acks + 2


def test_dc09_spt_link_test_over_tcp_and_udp(stack: Stack, transmitters: list[Spt]) -> None:
    """dc09-spt's poll thread sends NULL over its main path (TCP) and its back-up path (UDP, another
    account) and marks each path good on the ACK; the hub counts each NULL as a sign of life."""
    assert stack.online("spt-link-tcp") is not True and stack.online("spt-link-udp") is not True
    udp_acks = stack.hub.metric("hub_sia_frames_total", transport="udp", outcome="ack")
    spt = Spt(DEVICES["spt-link-tcp"])
    transmitters.append(spt)
    spt.set_path("main", "primary", "127.0.0.1", stack.hub.sia_port, type="tcp")
    spt.set_path("back-up", "primary", "127.0.0.1", stack.hub.sia_port, account=DEVICES["spt-link-udp"],
                 type="udp")
    spt.start_poll(600, 600, retry_delay=0.1)  # one poll of each path now, the next ones in 10 min

    state = wait(lambda: (s := spt.state())["main primary path ok"] == 1
                 and s["back-up primary path ok"] == 1 and s, 15)
    assert state, (spt.state(), spt.transfers)
    assert state["poll count"] >= 2
    polls = spt.exchanges("NULL")
    acked = {(t.transport, t.msg_nr, t.message) for t in polls if t.acked}
    assert acked == {("tcp", 0, "]"), ("udp", 0, "]")}, polls
    assert spt.isConnected()
    spt.stop_poll()
    assert spt.poll is None

    assert wait(lambda: stack.online("spt-link-tcp") is True and stack.online("spt-link-udp") is True, 10)
    assert stack.hub.metric("hub_sia_frames_total", transport="udp", outcome="ack") >= udp_acks + 1
    assert stack.signals("spt-link-tcp") == [] and stack.signals("spt-link-udp") == []  # heartbeats only


def test_a_dozen_messages_with_hex_numbers_and_text_blocks_get_through(
        stack: Stack, transmitters: list[Spt]) -> None:
    """dc09-spt's 10th to 12th messages are numbered `000A` to `000C`, and its text goes in a `|A` block."""
    spt = Spt(DEVICES["spt-long"])
    transmitters.append(spt)
    spt.set_path("main", "primary", "127.0.0.1", stack.hub.sia_port, type="tcp")
    for zone in range(1, 13):
        spt.deliver("SIA-DCS", {"code": "BA", "zone": zone, "text": f"door {zone}"})
    assert spt.msg_nr == 12
    assert stack.signals("spt-long") == [("BA", str(zone)) for zone in range(1, 13)]
    alarm = new_alarm(stack.consumer, "spt-long", "12")
    assert alarm["category"] == "burglary"

"""What the benchmarks share: servers, publisher processes, CPU and metric readings, statistics, and
the writing of ``docs/benchmarks.md``.

Everything runs on 127.0.0.1: real Mosquitto brokers (``tests.fixtures.servers.Mosquitto``) and the
hub as a real process (``tests.fixtures.hubproc.HubProcess``) on a SQLite file (WAL,
``synchronous=FULL``: every commit is durable). Publishers are ``simulators.fleet.Fleet`` instances in
a child process, so that publishing and receiving do not share one interpreter lock; receivers are
``simulators.consumer.Consumer`` in the benchmark's own process.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import multiprocessing
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import insert, update

from hub.store import schema
from hub.store.db import open_engine
from simulators.consumer import Consumer, Received, percentile
from simulators.fleet import Fleet, Step
from simulators.provision import CITY_CENTER, ProvisionResult, device_body, provision, site_body
from tests.fixtures.hubproc import ADMIN_TOKEN, HubProcess
from tests.fixtures.servers import Mosquitto

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"  # scratch space (git-ignored), on the same disk as a real deployment
DOC = ROOT / "docs" / "benchmarks.md"
SECTIONS = ("throughput", "latency", "supervision", "camera_capacity", "camera_latency",
            "console_latency", "live_latency", "scrape_cost",
            "sia_throughput")  # order of the sections in the document
DEVICE_PREFIX = "sim"
CC_PREFIX = "pingan"
_SPAWN = multiprocessing.get_context("spawn")


def log(text: str) -> None:
    """Progress on stderr, with the time since the benchmark started."""
    print(f"[{time.monotonic() - _T0:7.1f} s] {text}", file=sys.stderr, flush=True)


_T0 = time.monotonic()


# -- statistics ------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (the consumer's definition), of unsorted values."""
    return percentile(sorted(values), p) if values else float("nan")


def rates(first_publish: float, arrivals: Sequence[float]) -> tuple[float, float]:
    """(overall, steady): messages/s from the first publish to the last arrival, and over the middle
    80 % of arrivals (from the arrival of the 10th percentile message to that of the 90th)."""
    ordered = sorted(arrivals)
    n = len(ordered)
    if n < 10:
        return float("nan"), float("nan")
    overall = n / (ordered[-1] - first_publish)
    lo, hi = n // 10, (9 * n) // 10 - 1
    steady = (hi - lo) / (ordered[hi] - ordered[lo]) if ordered[hi] > ordered[lo] else float("nan")
    return overall, steady


def fmt(value: float, digits: int = 0) -> str:
    if value != value:  # NaN
        return "n/a"
    return f"{value:,.{digits}f}"


def ms(seconds: float) -> str:
    return fmt(seconds * 1000, 1)


# -- the machine -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Machine:
    date: str
    nproc: int
    python: str
    cpu: str
    kernel: str
    mosquitto: str
    load: str
    code: str

    @classmethod
    def now(cls) -> Machine:
        cpu = "unknown"
        with contextlib.suppress(OSError):
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        mosquitto = "unknown"
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-h"],
                                 capture_output=True, text=True, timeout=5, check=False).stdout
            found = re.search(r"mosquitto version (\S+)", out)
            mosquitto = found.group(1) if found else mosquitto
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        return cls(date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), nproc=os.cpu_count() or 0,
                   python=platform.python_version(), cpu=cpu, kernel=platform.release(),
                   mosquitto=mosquitto, load=load, code=code_version())

    def markdown(self) -> str:
        """The date, code and machine lines of a section; call it when the run is over: it warns if
        the code under test changed meanwhile."""
        now = code_version()
        changed = ("" if now == self.code else
                   f"\n- **warning: the code changed while this ran** (at the start: {self.code}; at the "
                   f"end: {now}): parts of the run may have measured different code")
        return (f"- date: {self.date}; code: {self.code}\n"
                f"- machine: nproc {self.nproc} ({self.cpu}), Linux {self.kernel}, Python {self.python}, "
                f"Mosquitto {self.mosquitto}; load average at start {self.load}" + changed)


_CODE = ("hub", "drivers", "simulators")  # the code under test (not docs, tests or benchmarks)


def code_version() -> str:
    """The last commit that changed the code under test, and whether it has uncommitted changes."""
    def git(*argv: str) -> str:
        return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, timeout=10,
                              check=False).stdout.strip()

    try:
        commit = git("log", "-1", "--format=%h", "--", *_CODE)
        dirty = git("status", "--porcelain", "--", *_CODE)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not commit:
        return "unknown"
    return f"hub as of commit {commit}" + (", with uncommitted changes" if dirty else "")


# -- docs/benchmarks.md ----------------------------------------------------------------------------

_HEADER = """# Benchmarks

Written by the benchmarks themselves (`bench/`): each one replaces its own section when it runs.
Run them all with `.venv/bin/python -m bench.run_all` (add `--quick` for a short smoke run), or one
with `.venv/bin/python -m bench.<name>`.

The machines are shared and noisy, so every figure stands beside a baseline measured in the same run,
and figures are medians of several repetitions. Every benchmark starts its own servers on free ports
of 127.0.0.1 (real Mosquitto brokers, the hub as a process: `python -m hub run` on SQLite in WAL mode
with `synchronous=FULL`) and stops them at the end. Publishers are `simulators.fleet.Fleet` in a child
process; the command center is `simulators.consumer.Consumer`; both run with Python's cyclic garbage
collector off while a stream runs (their own pauses stamped arrivals late before). Everything, the load
generator included, shares the same cores: a figure is what the whole chain achieves on one machine. Each
section names the last commit that changed the code it measured (`hub/`, `drivers/`, `simulators/`),
and warns if that code changed while it ran.
"""

_MARK = re.compile(r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->\n", re.S)


def write_section(name: str, body: str, doc: Path = DOC) -> None:
    """Replace (or add) the section of benchmark ``name``; sections keep the order of SECTIONS."""
    sections: dict[str, str] = {}
    if doc.exists():
        sections = {m.group(1): m.group(2) for m in _MARK.finditer(doc.read_text(encoding="utf-8"))}
    sections[name] = body.rstrip("\n") + "\n"
    order = [s for s in SECTIONS if s in sections] + sorted(s for s in sections if s not in SECTIONS)
    text = _HEADER + "".join(f"\n<!-- bench:{s} -->\n{sections[s]}<!-- /bench:{s} -->\n" for s in order)
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
    log(f"wrote the {name} section of {doc.relative_to(ROOT)}")


def command_line(module: str, argv: Sequence[str]) -> str:
    return " ".join([".venv/bin/python", "-m", module, *argv])


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


# -- servers ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def scratch(name: str, keep: bool = False) -> Iterator[Path]:
    """A fresh directory under bench/out/ (the disk the hub would use), removed afterwards."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=OUT))
    try:
        yield path
    finally:
        if keep:
            log(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


class SimulatorProcess:
    """Camera simulators in a spawned child process, off the benchmark's own interpreter: `serve(arg,
    conn)` sends `(port, epoch)` once it serves and stops when it receives "stop"."""

    def __init__(self, serve: Callable[[Any, Connection], None], arg: object) -> None:
        self._conn, child = _SPAWN.Pipe()
        self._process = _SPAWN.Process(target=serve, args=(arg, child), name="camera-simulator")
        self._process.start()
        child.close()
        if not self._conn.poll(300):
            self.close()
            raise TimeoutError("the camera simulator did not start")
        self.port, self.epoch = self._conn.recv()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send("stop")
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


class Stack:
    """Site broker, command-center broker (a second Mosquitto, or the same one) and the hub."""

    def __init__(self, workdir: Path, *, two_brokers: bool = True, hub_config: dict[str, Any] | None = None
                 ) -> None:
        self.workdir = workdir
        self.two_brokers = two_brokers
        self.hub_config = hub_config or {}
        self.database_url = f"sqlite:///{workdir / 'hub.db'}"
        self.site = Mosquitto(workdir / "site-broker")
        self.cc = Mosquitto(workdir / "cc-broker") if two_brokers else self.site
        self.hub: HubProcess | None = None
        self._generation = 0

    @property
    def topology(self) -> str:
        return ("two Mosquittos (site broker, command-center broker)" if self.two_brokers
                else "one Mosquitto for both the site and the command center")

    def start(self) -> Self:
        self.site.start()
        if self.cc is not self.site:
            self.cc.start()
        self.start_hub()
        return self

    def start_hub(self, config: dict[str, Any] | None = None) -> HubProcess:
        """(Re)start the hub on the same database and brokers, with this config (default: the
        stack's). Each start gets a fresh HTTP port and log."""
        if self.hub is not None:
            self.hub.close()
        self._generation += 1
        self.hub = HubProcess(self.workdir / f"hub-{self._generation}", database_url=self.database_url,
                              mqtt_url=self.site.url, cc_mqtt_url=self.cc.url,
                              config=config if config is not None else self.hub_config)
        self.hub.start(timeout=120)
        return self.hub

    @property
    def hub_pid(self) -> int:
        assert self.hub is not None and self.hub.proc is not None
        return self.hub.proc.pid

    def close(self) -> None:
        errors: list[BaseException] = []
        for stop in (self._stop_hub, self.cc.close, self.site.close):
            try:
                stop()
            except Exception as exc:  # keep stopping the rest; report the first failure
                errors.append(exc)
        if errors:
            raise errors[0]

    def _stop_hub(self) -> None:
        if self.hub is not None:
            try:
                self.hub.close()
            except Exception:
                self.hub.kill()
                raise
            finally:
                self.hub = None

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def pid_of(broker: Mosquitto) -> int | None:
    """The broker's process id (the fixture keeps its Popen private; read-only use)."""
    proc = getattr(broker, "_proc", None)
    return proc.pid if proc is not None else None


def register(hub: HubProcess, devices: int, *, supervision_s: int | None = None, workers: int = 8
             ) -> tuple[float, ProvisionResult]:
    """Register ``devices`` sites and devices (``sim-00001``...) through the HTTP API; returns
    (seconds, result). Raises if any failed."""
    started = time.monotonic()
    result = provision(hub.base_url, ADMIN_TOKEN, devices, device_prefix=DEVICE_PREFIX,
                       supervision_s=supervision_s, workers=workers, timeout=120)
    took = time.monotonic() - started
    if result.failed:
        raise RuntimeError(f"registration failed: {result.summary()}")
    return took, result


def bulk_register(database_url: str, first: int, last: int, supervision_s: int) -> float:
    """Sites and devices ``first..last`` written straight into the hub's tables (hub stopped)."""
    started = time.monotonic()
    now = datetime.now(UTC)
    stamps = {"created_at": now, "updated_at": now}
    sites = [{**site_body(i, CITY_CENTER), **stamps} for i in range(first, last + 1)]
    extra = {"account": None, "key_enc": None, "topic": None, "online": None, "last_seen_at": None, **stamps}
    devices = [{**device_body(i, DEVICE_PREFIX, supervision_s), **extra} for i in range(first, last + 1)]
    engine = open_engine(database_url)
    try:
        with engine.begin() as conn:
            if sites:
                conn.execute(insert(schema.sites), sites)
                conn.execute(insert(schema.devices), devices)
            conn.execute(update(schema.devices).values(supervision_s=supervision_s))
    finally:
        engine.dispose()
    return time.monotonic() - started


# -- CPU -------------------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(path: str) -> list[str]:
    """The fields of a /proc stat file after the command name (field 3 onwards)."""
    return Path(path).read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """utime + stime of a process (all its threads), or of one of its threads, in seconds."""
    fields = _stat(f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat")
    return (int(fields[11]) + int(fields[12])) / _TICK


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (the hub may run parts of itself as child processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                children.setdefault(int(_stat(f"/proc/{entry.name}/stat")[1]), []).append(int(entry.name))
    tree = [pid]
    for parent in tree:  # grows while iterating: breadth first
        tree.extend(children.get(parent, []))
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its descendants: of each live one its own time and that of the
    children it has already reaped (cutime + cstime)."""
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = _stat(f"/proc/{member}/stat")
            total += sum(int(x) for x in fields[11:15]) / _TICK
    return total


def thread_cpu(pid: int) -> dict[int, tuple[float, float]]:
    """Per thread of a process and of its descendants: (seconds on a CPU, seconds runnable but
    waiting for a CPU), from /proc/<pid>/task/<tid>/schedstat. The second is how much a busy machine
    holds the thread back."""
    out: dict[int, tuple[float, float]] = {}
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{member}/task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    ran, waited, _slices = (int(x) for x in (task / "schedstat").read_text().split())
                    out[int(task.name)] = (ran / 1e9, waited / 1e9)
    return out


class CpuMeter:
    """CPU used by a few processes between ``start()`` and ``stop()``, as fractions of one core;
    those named in ``trees`` with their child processes."""

    def __init__(self, pids: dict[str, int | None], trees: Sequence[str] = ("hub",)) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self.trees = set(trees)
        self._before: dict[str, float] = {}
        self._t0 = 0.0
        self.share: dict[str, float] = {}
        self.wall = 0.0

    def seconds(self, name: str) -> float:
        pid = self.pids[name]
        return tree_cpu_seconds(pid) if name in self.trees else cpu_seconds(pid)

    def start(self) -> Self:
        self._t0 = time.monotonic()
        self._before = {name: self.seconds(name) for name in self.pids}
        return self

    def stop(self) -> dict[str, float]:
        self.wall = time.monotonic() - self._t0
        for name in self.pids:
            try:
                self.share[name] = (self.seconds(name) - self._before[name]) / self.wall
            except OSError:  # the process has ended (a publisher that finished early)
                self.share[name] = float("nan")
        return self.share

    def markdown(self) -> str:
        return ", ".join(f"{name} {fmt(share * 100)} %" for name, share in self.share.items())


def machine_busy() -> float:
    """Seconds of busy CPU time of the whole machine so far (all cores), from /proc/stat."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / _TICK


# -- metrics ---------------------------------------------------------------------------------------


def metrics(hub: HubProcess) -> dict[str, float]:
    """Every sample of /metrics as ``name{labels}`` (labels sorted, as printed) → value."""
    out: dict[str, float] = {}
    for line in hub.api.get("/metrics").text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            out[key] = float(value)
    return out


def metric_delta(after: dict[str, float], before: dict[str, float], key: str) -> float:
    return after.get(key, 0.0) - before.get(key, 0.0)


def hub_internals(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """What the hub's /metrics say about a stretch of work: pipeline turns, signals per turn, time
    per commit, mean forward latency (hub receive → PUBACK of the command-center broker)."""
    turns = metric_delta(after, before, "hub_pipeline_commit_seconds_count")  # observed every turn
    commit_s = metric_delta(after, before, "hub_pipeline_commit_seconds_sum")
    signals = metric_delta(after, before, 'hub_signals_total{result="accepted",source="mqtt"}') or \
        metric_delta(after, before, 'hub_signals_total{source="mqtt",result="accepted"}')
    forwarded = metric_delta(after, before, 'hub_forward_latency_seconds_count{sink="cc"}')
    forward_s = metric_delta(after, before, 'hub_forward_latency_seconds_sum{sink="cc"}')
    nan = float("nan")
    return {"commits": turns, "signals": signals, "batch": signals / turns if turns else nan,
            "commit_ms": 1000 * commit_s / turns if turns else nan,
            "forward_mean_s": forward_s / forwarded if forwarded else nan}


# -- receivers -------------------------------------------------------------------------------------


class TopicConsumer(Consumer):
    """The simulator's consumer subscribed to any topic, so the raw-broker baseline receives through
    exactly the same code (and cost per message) as the command center does from the hub."""

    def __init__(self, url: str, topic: str, **kwargs: Any) -> None:
        self._topic = topic
        super().__init__(url, **kwargs)

    @property
    def topic(self) -> str:
        return self._topic

    @topic.setter
    def topic(self, _value: str) -> None:  # Consumer.__init__ derives the 110 topic: keep ours
        pass


def wait_messages(consumer: Consumer, count: int, *, timeout: float, stalled_after: float = 15.0,
                  predicate: Callable[[Received], bool] = lambda _m: True) -> list[Received]:
    """Poll until ``count`` messages matching ``predicate`` arrived, or nothing new came for
    ``stalled_after`` s, or ``timeout``. Polling (not ``wait_for``) keeps the waiter from copying the
    whole list on every message, which would steal CPU from the receiving thread."""
    deadline = time.monotonic() + timeout
    seen, last_change = -1, time.monotonic()
    while True:
        messages = consumer.messages()
        matching = [m for m in messages if predicate(m)]
        if len(matching) >= count:
            return matching
        now = time.monotonic()
        if len(messages) != seen:
            seen, last_change = len(messages), now
        if now > deadline or now - last_change > stalled_after:
            return matching
        time.sleep(0.2)


# -- publishers in a child process -----------------------------------------------------------------


@dataclass(slots=True)
class Published:
    """What a publisher process did: per event (message id, device, zone, publish time, acked)."""

    records: list[tuple[str, str, str, float, bool]]
    stats: dict[str, Any]
    pid: int
    cpu_s: float = 0.0  # CPU seconds the publisher process used from "go" to its last PUBACK

    @property
    def first(self) -> float:
        return min(r[3] for r in self.records)

    @property
    def last(self) -> float:
        return max(r[3] for r in self.records)

    @property
    def acked(self) -> int:
        return sum(1 for r in self.records if r[4])


@dataclass(slots=True)
class EventPlan:
    """Events for ``Fleet.scripted``: ``(device, zone, at)``; one distinct (device, zone) each."""

    url: str
    topic_prefix: str
    steps: list[tuple[str, str, float]]
    id_tag: str
    event: str = "burglary"
    tick: float = 0.001


def _event_publisher(plan: EventPlan, conn: Connection) -> None:
    steps = [Step(device_id=d, event=plan.event, zone=z, at=at) for d, z, at in plan.steps]
    devices = sorted({d for d, _z, _at in plan.steps})
    with Fleet(plan.url, devices, topic_prefix=plan.topic_prefix, id_tag=plan.id_tag, tick=plan.tick,
               client_id=f"bench-pub-{os.getpid()}", ack_timeout=120) as fleet:
        conn.send("ready")
        conn.recv()
        cpu0 = _process_cpu()
        with no_gc():
            stats = fleet.scripted(steps)
        cpu_s = _process_cpu() - cpu0
        records = [(r.id, r.device_id, r.zone, r.published_at, r.acked) for r in fleet.records]
    conn.send(Published(records, asdict(stats), os.getpid(), cpu_s))


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """No cyclic garbage collection while a stream runs in a load generator or the consumer: the
    messages they keep (tens of thousands of parsed dicts) made full collections of 50-150 ms that
    stamped arrivals late and were counted as the hub's latency. Garbage is collected afterwards."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _process_cpu() -> float:
    """CPU seconds of this whole process (all threads: paho's network thread too)."""
    times = os.times()
    return times.user + times.system


@dataclass(slots=True)
class HeartbeatPlan:
    """Heartbeats of every device every ``heartbeat_s`` for ``duration`` s; each device of ``silence``
    stops at its offset (seconds after the fleet starts)."""

    url: str
    devices: list[str]
    heartbeat_s: float
    duration: float
    silence: dict[str, float] = field(default_factory=dict)


def _heartbeat_publisher(plan: HeartbeatPlan, conn: Connection) -> None:
    with Fleet(plan.url, plan.devices, client_id=f"bench-hb-{os.getpid()}", tick=0.005) as fleet:
        conn.send("ready")
        conn.recv()
        started = time.monotonic()
        cpu0 = _process_cpu()

        def silencer() -> None:
            for device, at in sorted(plan.silence.items(), key=lambda item: item[1]):
                delay = started + at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                fleet.silent.add(device)

        threading.Thread(target=silencer, daemon=True).start()
        stats = fleet.heartbeats(plan.heartbeat_s, plan.duration)
        cpu_s = _process_cpu() - cpu0
    conn.send(Published([], asdict(stats), os.getpid(), cpu_s))


class Publisher:
    """A Fleet in a child process: started and connected first, then told to go, so its start-up
    is outside every measurement."""

    def __init__(self, plan: EventPlan | HeartbeatPlan) -> None:
        target = _event_publisher if isinstance(plan, EventPlan) else _heartbeat_publisher
        self._conn, child = _SPAWN.Pipe()
        self.process = _SPAWN.Process(target=target, args=(plan, child), daemon=True)
        self.process.start()
        child.close()
        if not self._conn.poll(60) or self._conn.recv() != "ready":
            self.close()
            raise RuntimeError("the publisher process did not connect")
        self.started_at = 0.0

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def go(self) -> None:
        self.started_at = time.time()
        self._conn.send("go")

    def result(self, timeout: float) -> Published:
        if not self._conn.poll(timeout):
            raise TimeoutError(f"the publisher did not finish within {timeout:.0f} s")
        published: Published = self._conn.recv()
        self.process.join(10)
        return published

    def close(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def distinct_steps(devices: int, count: int, tag: str, rate: float | None = None
                   ) -> list[tuple[str, str, float]]:
    """``count`` events, each on its own (device, zone) so each one raises its own alarm: device
    ``i mod devices``, zone ``{tag}-{i div devices}``; all due at once (``rate`` None) or paced."""
    ids = [f"{DEVICE_PREFIX}-{i:05d}" for i in range(1, devices + 1)]
    return [(ids[i % devices], f"{tag}-{i // devices}", 0.0 if rate is None else i / rate)
            for i in range(count)]


# -- one stream of events: publisher → (raw broker | hub) → consumer --------------------------------

RAW_PREFIX = "rawbench"  # a topic tree the hub does not subscribe to: the raw-broker baseline


@dataclass
class Stream:
    """One stream of distinct events and what arrived of it."""

    kind: str  # "raw": publisher → site broker → subscriber; "hub": ... → hub → cc broker → consumer
    steps: list[tuple[str, str, float]]
    published: Published
    messages: list[Received]  # raw: every message; hub: the `new` messages
    cpu: dict[str, float]  # share of one core per process while the stream ran
    machine_cores: float  # busy cores of the whole machine meanwhile (other users included)
    wall: float
    before: dict[str, float] = field(default_factory=dict)  # the hub's /metrics before and after
    after: dict[str, float] = field(default_factory=dict)
    profile: Profile | None = None
    # hub thread id → (share of one core used, share of the time it waited for a CPU)
    threads: dict[int, tuple[float, float]] = field(default_factory=dict)

    def key(self, message: Received) -> tuple[str, str]:
        """(device, zone) of an arrival: raw from the device's own topic and payload, hub from the
        110 message's ``source``."""
        data = message.data or {}
        if self.kind == "raw":
            return (message.topic.split("/")[-2], str(data.get("zone")))
        source = data.get("source") or {}
        return (str(source.get("id")), str(source.get("zone")))

    def first_arrivals(self) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = {}
        for message in self.messages:
            out.setdefault(self.key(message), message.arrival)
        return out

    def check(self) -> tuple[int, int, int]:
        """(distinct expected events that arrived, duplicates, expected events missing)."""
        expected = {(d, z) for d, z, _ in self.steps}
        keys = [self.key(m) for m in self.messages]
        arrived = set(keys)
        return len(arrived & expected), len(keys) - len(arrived), len(expected - arrived)

    @property
    def complete(self) -> bool:
        distinct, duplicates, missing = self.check()
        return (distinct == len(self.steps) and duplicates == 0 and missing == 0
                and self.published.acked == len(self.steps))

    def latencies(self) -> list[float]:
        """Publish → first arrival, seconds, per event that arrived."""
        arrivals = self.first_arrivals()
        return [arrivals[(d, z)] - at for _id, d, z, at, _acked in self.published.records
                if (d, z) in arrivals]


def stream(stack: Stack, kind: str, steps: list[tuple[str, str, float]], tag: str, *, timeout: float,
           profile_seconds: float = 0.0, profile_path: Path | None = None, profile_mode: str = "gil"
           ) -> Stream:
    """Publish ``steps`` (a Fleet in a child process, started before the clock runs), wait until
    every event arrived (or nothing came for a while), and measure CPU meanwhile."""
    assert stack.hub is not None
    if kind == "raw":
        consumer: Consumer = TopicConsumer(stack.site.url, f"{RAW_PREFIX}/v1/devices/+/event",
                                           client_id=f"bench-raw-{tag}-{os.getpid()}", clean_session=True)
        prefix = RAW_PREFIX
    else:
        consumer = Consumer(stack.cc.url, topic_prefix=CC_PREFIX, client_id=f"bench-cc-{tag}-{os.getpid()}",
                            clean_session=True)
        prefix = CC_PREFIX
    profile = None
    try:
        with Publisher(EventPlan(stack.site.url, prefix, steps, id_tag=tag)) as publisher:
            pids = {"hub": stack.hub_pid, "site broker": pid_of(stack.site),
                    "cc broker": pid_of(stack.cc) if stack.two_brokers else None,
                    "publisher": publisher.pid, "consumer": os.getpid()}
            before = metrics(stack.hub) if kind == "hub" else {}
            cpu = CpuMeter(pids).start()
            busy0 = machine_busy()
            threads0 = thread_cpu(stack.hub_pid)
            with no_gc():
                publisher.go()
                if profile_path is not None:
                    profile = Profile(stack.hub_pid, profile_seconds, profile_path, profile_mode)
                published = publisher.result(timeout=timeout)
                messages = wait_messages(
                    consumer, len(steps), timeout=timeout, stalled_after=20,
                    predicate=lambda m: kind == "raw" or bool(m.data and m.data.get("change") == "new"))
            cpu.stop()
            threads1 = thread_cpu(stack.hub_pid)
            cores = (machine_busy() - busy0) / cpu.wall
            shares = dict(cpu.share)
            shares["publisher"] = published.cpu_s / cpu.wall  # it has exited: it reports its own
            after = metrics(stack.hub) if kind == "hub" else {}
    finally:
        consumer.close()
        if profile is not None:
            profile.stop()
    threads = {tid: ((ran - threads0.get(tid, (0.0, 0.0))[0]) / cpu.wall,
                     (waited - threads0.get(tid, (0.0, 0.0))[1]) / cpu.wall)
               for tid, (ran, waited) in threads1.items()}
    return Stream(kind, steps, published, messages, shares, cores, cpu.wall, before, after, profile, threads)


def settle(pid: int, timeout: float = 60.0, below: float = 0.05) -> float:
    """Wait until a process is idle (under ``below`` of a core for a second), so that the tail of
    one repetition (the hub's forwarder, its `delivered` bookkeeping) does not overlap the next."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        c0 = tree_cpu_seconds(pid)
        time.sleep(1.0)
        if tree_cpu_seconds(pid) - c0 < below:
            break
    return time.monotonic() - started


# -- profiling -------------------------------------------------------------------------------------


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


PROFILE_MODES = {
    "gil": "only the thread holding the interpreter lock (py-spy `--gil`): where the hub's Python time goes",
    "active": "every thread that is not waiting",
    "wall": "every thread, waiting or not (py-spy `--idle`): where each thread's wall-clock time goes",
}


class Profile:
    """``py-spy record`` of a process, all threads, in collapsed-stack form; ``mode`` is one of
    PROFILE_MODES."""

    def __init__(self, pid: int, seconds: float, out: Path, mode: str = "gil", rate: int = 100) -> None:
        exe = py_spy()
        if exe is None:
            raise RuntimeError("py-spy is not installed (.venv/bin/pip install py-spy)")
        self.out = out
        self.mode = mode
        self.pid = pid
        flags = {"gil": ["--gil"], "active": [], "wall": ["--idle"]}[mode]
        self.process = subprocess.Popen(
            [exe, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(rate),
             "--format", "raw", "--output", str(out), "--threads", "--subprocesses", *flags],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self, timeout: float = 60.0) -> None:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(10)

    def read(self, components: Sequence[tuple[str, str]] = (), thread: str | None = None) -> dict[str, Any]:
        """Samples per thread, and the functions with the most samples: self (on top of the stack)
        and inclusive (anywhere on it), each as a share of all samples (of ``thread`` only, if
        given). ``components`` are ``(label, marker)``: a sample belongs to the first whose marker
        is the name of one of its functions (``Class.method``) or, as ``thread:NAME``, its
        thread's name."""
        only = thread
        threads: dict[str, int] = {}
        own: dict[str, int] = {}
        inclusive: dict[str, int] = {}
        parts: dict[str, int] = {}
        tids: dict[int, str] = {}
        total = 0
        if not self.out.exists():
            return {"total": 0, "threads": {}, "self": [], "inclusive": [], "components": [], "tids": {}}
        for line in self.out.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            # With --subprocesses a stack starts with `process PID:"command line";` (the command
            # line may hold semicolons) for the process and each parent, then `thread (TID): name`.
            process = self.pid
            while (found_process := _PROCESS_FRAME.match(stack)) is not None:
                process, stack = int(found_process.group(1)), stack[found_process.end():]
            frames = stack.split(";")
            thread = _thread_label(frames[0].split("): ", 1)[-1].strip(), process, self.pid)
            found = re.match(r"thread \((0x[0-9a-fA-F]+|\d+)\)", frames[0].strip())
            if found:
                tids[int(found.group(1), 0)] = thread
            if only is not None and not _same_thread(thread, only):
                continue
            names = [_frame(f) for f in frames[1:]]
            total += count
            threads[thread] = threads.get(thread, 0) + count
            if names:
                own[names[-1]] = own.get(names[-1], 0) + count
                for name in set(names):
                    inclusive[name] = inclusive.get(name, 0) + count
            bare = {name.split(" (", 1)[0] for name in names}
            label = next((label for label, marker in components if _matches(marker, thread, bare)), "other")
            parts[label] = parts.get(label, 0) + count

        def top(table: dict[str, int], n: int) -> list[tuple[str, float]]:
            return [(name, c / total) for name, c in sorted(table.items(), key=lambda kv: -kv[1])[:n]]

        order = list(dict.fromkeys([label for label, _ in components] + ["other"]))
        return {"total": total, "threads": dict(top(threads, 20)), "self": top(own, 25),
                "inclusive": top(inclusive, 40),
                "components": [(label, parts[label] / total) for label in order if parts.get(label)],
                "tids": tids}


def thread_names(pid: int) -> dict[int, str]:
    """Thread id → Python thread name in a process and its children (``name [child PID]``), from
    ``py-spy dump`` (empty without py-spy)."""
    exe = py_spy()
    if exe is None:
        return {}
    try:
        out = subprocess.run([exe, "dump", "--pid", str(pid), "--subprocesses"], capture_output=True,
                             text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    names: dict[int, str] = {}
    process = pid
    for line in out.splitlines():
        found_process = re.match(r"^Process (\d+):", line)
        if found_process:
            process = int(found_process.group(1))
        found = re.match(r'^Thread (0x[0-9a-fA-F]+|\d+) \([^)]*\): "(.*)"', line)
        if found:
            names[int(found.group(1), 0)] = _thread_label(found.group(2), process, pid)
    return names


_PROCESS_FRAME = re.compile(r'process (\d+):"(?:[^"\\]|\\.)*";')


def _thread_label(name: str, process: int, root: int) -> str:
    return name if process == root else f"{name} [child {process}]"


def _same_thread(label: str, name: str) -> bool:
    """A thread label is that thread's name, in the hub's process or in a child of it."""
    return label == name or label.startswith(f"{name} [child ")


def _matches(marker: str, thread: str, functions: set[str]) -> bool:
    if marker.startswith("thread:"):
        return _same_thread(thread, marker.removeprefix("thread:"))
    return marker in functions


def _frame(frame: str) -> str:
    """``function (path/to/file.py:123)`` → ``function (file.py)``: lines merged per function."""
    found = re.match(r"(.*?) \((.*?)(?::\d+)?\)$", frame.strip())
    if not found:
        return frame.strip()
    function, path = found.groups()
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if len(parts) >= 2 else path
    for marker in ("site-packages/",):
        if marker in path:
            short = path.split(marker, 1)[1]
    return f"{function} ({short})"


# -- command line ----------------------------------------------------------------------------------


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a short smoke run (small sizes, one repetition)")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory under bench/out/")
    p.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    return p


def profile_possible(args: argparse.Namespace) -> None:
    """`--profile` asked for and py-spy missing: say so, and run without."""
    if args.profile and py_spy() is None:
        log("py-spy is not installed (.venv/bin/pip install py-spy): no profile")
        args.profile = None


def publish(name: str, text: str, ok: bool, args: argparse.Namespace) -> int:
    """Print a benchmark's section, write it into docs/benchmarks.md (unless --no-doc): its exit code."""
    print(text)
    if not args.no_doc:
        write_section(name, text)
    return 0 if ok else 1

"""Supervision at city scale: 20,000 devices heartbeating every 60 s, a known few going silent.

1. Register: the first ``--api-devices`` (2,000) through the HTTP API, timed — that gives the API's
   registration rate; the rest are written straight into the hub's database while the hub is
   stopped (the same site and device bodies as ``simulators.provision``), because registering
   20,000 through the API takes several minutes (``--api-all`` does it anyway, to measure it).
   Devices are registered unsupervised, then ``supervision_s`` is set on all of them in the
   database: otherwise the first ones registered would fall silent (nothing heartbeats yet) while
   the last are registered, and the measured run would start with thousands of open comm_faults.
2. Idle baseline: the hub started on that database with every device registered and no heartbeats
   (a startup grace of an hour, so that no deadline falls due); its CPU from /proc/<pid>/stat
   (utime + stime) over a few windows.
3. The hub restarted with ``grace_s`` 5 and a short startup grace (time for the fleet to begin); a
   Fleet (child process, connected beforehand) sends a heartbeat for every device every 60 s,
   spread evenly (333/s). 200 devices go silent half-way between their first and second heartbeat.
   The hub's CPU is measured over 60 s after a warm-up, in 10 s windows.
4. For each silent device: its deadline is its last heartbeat (the arrival time at an independent
   subscriber of the site broker) + supervision_s + grace_s; its lateness is the arrival of its
   `comm_fault` message (`new`) at the 110 consumer minus that deadline. The hub's own
   ``hub_supervision_lateness_seconds`` histogram is read as a cross-check.

    .venv/bin/python -m bench.supervision [--quick] [--api-all] [--profile]
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    CC_PREFIX,
    DEVICE_PREFIX,
    PROFILE_MODES,
    HeartbeatPlan,
    Machine,
    Profile,
    Publisher,
    Stack,
    TopicConsumer,
    bulk_register,
    command_line,
    cpu_seconds,
    fmt,
    log,
    machine_busy,
    median,
    metric_delta,
    metrics,
    parser,
    pct,
    pid_of,
    process_tree,
    profile_possible,
    publish,
    register,
    scratch,
    settle,
    tree_cpu_seconds,
    verdict,
)
from simulators.consumer import Consumer, Received
from simulators.fleet import device_ids

GOAL_CPU = 0.25
GOAL_LATE_S = 2.0
LATENESS = "hub_supervision_lateness_seconds"
COMPONENTS = (
    ("pipeline: Store.write (the batch's device rows, commit)", "Store.write"),
    ("pipeline: decode (drivers.pingan_mqtt)", "PinganMqtt.decode"),
    ("pipeline: supervision (heard, due, comm_fault alarms)", "Supervisor.heard"),
    ("pipeline: supervision (heard, due, comm_fault alarms)", "Supervisor.due"),
    ("pipeline: supervision (heard, due, comm_fault alarms)", "Pipeline._fault"),
    ("pipeline: waiting for input (queue.get with timeout)", "Pipeline._take"),
    ("pipeline: the rest of the turn (tally, metrics, acks)", "Pipeline._run"),
    ("forwarder", "Forwarder._run"),
    ("site link: paho network thread (receive, queue, PUBACK)", "thread:paho-mqtt-client-pingan-hub"),
    ("command-center link: paho network thread", "thread:paho-mqtt-client-pingan-hub-cc"),
    ("HTTP server and event loop (main thread)", "thread:MainThread"),
)


@dataclass
class Plan:
    quick: bool
    devices: int
    api_devices: int
    silent_count: int
    supervision_s: int
    grace_s: float
    window: float
    sub: float  # CPU sub-window: the median of these is quoted
    idle_windows: int
    idle_sub: float
    warm: float  # heartbeats before the CPU window opens
    # The measured hub starts with a short startup grace: every device's first check is at
    # start + startup_grace + supervision_s + grace_s, which leaves the fleet startup_grace + grace_s
    # seconds to get going. The supervisor checks lazily (one heap entry per device, re-armed when
    # it falls due), so a device that goes silent before that first check would only be flagged at
    # it: the silent devices are those whose first heartbeat comes after the startup grace.
    startup_grace: float
    silent_span: float
    ids: list[str] = field(default_factory=list)
    silent: dict[str, float] = field(default_factory=dict)  # device → when it goes quiet (s)
    last_deadline: float = 0.0
    duration: float = 0.0

    @classmethod
    def of(cls, args: Any) -> Plan:
        q = args.quick
        n = args.devices or (2000 if q else 20000)
        plan = cls(quick=q, devices=n,
                   api_devices=n if args.api_all else min(n, args.api_devices or (500 if q else 2000)),
                   silent_count=args.silent or (20 if q else 200),
                   supervision_s=args.supervision or (10 if q else 60),
                   grace_s=args.grace if args.grace is not None else (2.0 if q else 5.0),
                   window=args.window or (10.0 if q else 60.0), sub=2.0 if q else 10.0,
                   idle_windows=4 if q else 3, idle_sub=2.5 if q else 6.0, warm=5.0 if q else 15.0,
                   startup_grace=5.0 if q else 10.0, silent_span=3.0 if q else 10.0)
        plan.ids = device_ids(n, DEVICE_PREFIX)
        step = plan.interval / n
        lo = int(plan.startup_grace / step) + 1
        hi = int((plan.startup_grace + plan.silent_span) / step)
        chosen = sorted({lo + int(j * (hi - lo) / plan.silent_count) for j in range(plan.silent_count)})
        plan.silent = {plan.ids[k]: k * step + plan.interval / 2 for k in chosen}
        plan.last_deadline = max(k * step for k in chosen) + plan.supervision_s + plan.grace_s
        plan.duration = max(plan.warm + plan.window, plan.last_deadline + 8.0)
        return plan

    @property
    def interval(self) -> float:
        """Heartbeat interval of the fleet: the supervision interval itself (the tightest case)."""
        return float(self.supervision_s)

    @property
    def rate(self) -> float:
        return self.devices / self.interval

    def hub_config(self, startup_grace: float) -> dict[str, Any]:
        return {"supervision": {"grace_s": self.grace_s, "startup_grace_s": startup_grace}}


def rss_mib(pid: int) -> float:
    """Resident memory of the hub: its process and any child process of its own."""
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
    return total


def cpu_windows(pids: dict[str, int | None], start: float, count: int, length: float
                ) -> dict[str, list[float]]:
    """Share of one core used by each process in ``count`` consecutive windows of ``length`` s from
    monotonic time ``start``; "machine" is the busy cores of the whole machine."""
    live = {name: pid for name, pid in pids.items() if pid}
    shares: dict[str, list[float]] = {name: [] for name in [*live, "machine"]}
    time.sleep(max(0.0, start - time.monotonic()))
    t_prev = time.monotonic()
    first = t_prev
    def seconds(name: str, pid: int) -> float:  # the hub with any child process of its own
        return tree_cpu_seconds(pid) if name == "hub" else cpu_seconds(pid)

    before = {name: seconds(name, pid) for name, pid in live.items()}
    busy = machine_busy()
    for n in range(1, count + 1):
        time.sleep(max(0.0, first + n * length - time.monotonic()))
        now = time.monotonic()
        after = {name: seconds(name, pid) for name, pid in live.items()}
        busy_after = machine_busy()
        for name in live:
            shares[name].append((after[name] - before[name]) / (now - t_prev))
        shares["machine"].append((busy_after - busy) / (now - t_prev))
        before, busy, t_prev = after, busy_after, now
    return shares


def faults_of(messages: list[Received]) -> dict[str, float]:
    """Device → arrival of its first `comm_fault` message that puts it in fault (`new`, or `updated`:
    an open alarm re-armed)."""
    out: dict[str, float] = {}
    for m in messages:
        data = m.data or {}
        if data.get("category") == "comm_fault" and data.get("change") in ("new", "updated"):
            out.setdefault(str((data.get("source") or {}).get("id")), m.arrival)
    return out


def run(plan: Plan, args: Any, workdir: Path) -> dict[str, Any]:
    r: dict[str, Any] = {}
    with Stack(workdir, hub_config=plan.hub_config(3600.0)) as stack:
        assert stack.hub is not None
        r["topology"] = stack.topology
        log(f"registering {plan.api_devices} devices through the API (unsupervised for now)")
        # Unsupervised while registering: a registration of several minutes would otherwise see the
        # first devices fall silent (nothing heartbeats yet) while the last are being registered.
        r["api_s"], _ = register(stack.hub, plan.api_devices, supervision_s=None)
        rate = plan.api_devices / r["api_s"]
        log(f"{plan.api_devices} devices through the API in {r['api_s']:.1f} s ({rate:.0f} devices/s); "
            f"20,000 would take ≈{20000 / rate:.0f} s")
        stack.hub.stop()
        first = plan.api_devices + 1
        r["bulk_s"] = bulk_register(stack.database_url, first, plan.devices, plan.supervision_s)
        log(f"devices {first}..{plan.devices} written into the database, all supervised every "
            f"{plan.supervision_s} s, in {r['bulk_s']:.1f} s")

        # Idle baseline: the same devices, no heartbeats, no deadline due (startup grace of an hour).
        started = time.monotonic()
        hub = stack.start_hub(plan.hub_config(3600.0))
        r["hub_start_s"] = time.monotonic() - started
        listed = len(hub.api.get("/api/v1/devices", params={"limit": 1000}).json()["items"])
        log(f"hub started with {plan.devices} devices in {r['hub_start_s']:.1f} s (API lists {listed} of "
            "the first 1,000); idle baseline")
        settle(stack.hub_pid, timeout=20)
        pids = {"hub": stack.hub_pid, "site broker": pid_of(stack.site), "cc broker": pid_of(stack.cc)}
        r["idle"] = cpu_windows(pids, time.monotonic(), plan.idle_windows, plan.idle_sub)
        r["idle_rss"] = rss_mib(stack.hub_pid)
        log(f"idle hub: {[fmt(100 * x, 1) for x in r['idle']['hub']]} % of a core")

        consumer = Consumer(stack.cc.url, topic_prefix=CC_PREFIX, client_id=f"bench-cc-sup-{os.getpid()}",
                            clean_session=True)
        monitor = TopicConsumer(stack.site.url, f"{CC_PREFIX}/v1/devices/+/heartbeat",
                                client_id=f"bench-hb-monitor-{os.getpid()}", clean_session=True)
        try:
            beats = HeartbeatPlan(stack.site.url, plan.ids, plan.interval, plan.duration, plan.silent)
            with Publisher(beats) as fleet:  # connected before the hub restarts: it starts at once
                hub = stack.start_hub(plan.hub_config(plan.startup_grace))
                pids["hub"] = pid = stack.hub_pid
                pids["fleet"] = fleet.pid
                before = metrics(hub)
                fleet.go()
                t0 = time.monotonic()
                log(f"hub restarted; fleet: {plan.devices} devices every {plan.interval:.0f} s "
                    f"({plan.rate:.0f}/s) for {plan.duration:.0f} s; {len(plan.silent)} go silent; "
                    f"CPU window {plan.warm:.0f}–{plan.warm + plan.window:.0f} s")
                r["active"] = cpu_windows(pids, t0 + plan.warm, int(plan.window / plan.sub), plan.sub)
                r["active_rss"] = rss_mib(pid)
                mid = metrics(hub)
                log(f"active hub: {[fmt(100 * x, 1) for x in r['active']['hub']]} % of a core")
                until = t0 + plan.last_deadline + 6.0
                profile = None
                if args.profile:
                    seconds = max(3.0, min(15.0, until - time.monotonic() - 1))
                    log(f"profiling the hub with py-spy for {seconds:.0f} s")
                    profile = Profile(pid, seconds, workdir / "profile.txt", args.profile)
                while time.monotonic() < until:
                    if set(plan.silent) <= set(faults_of(consumer.messages())):
                        break
                    time.sleep(0.5)
                if profile is not None:
                    profile.stop()
                    r["profile"] = profile.read(COMPONENTS)
                    r["profile"]["seconds"], r["profile"]["mode"] = seconds, args.profile
                r["metrics"] = (before, mid, metrics(hub))
                r["faults"] = faults_of(consumer.messages())
                r["heartbeats"] = monitor.messages()
                r["stats"] = fleet.result(timeout=plan.duration + 60).stats
        finally:
            consumer.close()
            monitor.close()
    return r


def report(plan: Plan, r: dict[str, Any], machine: Machine, argv: list[str]) -> tuple[str, bool]:
    sup, grace, n = plan.supervision_s, plan.grace_s, plan.devices
    last_beat: dict[str, float] = {}
    for m in r["heartbeats"]:
        device = m.topic.split("/")[-2]
        if device in plan.silent:
            last_beat[device] = max(last_beat.get(device, 0.0), m.arrival)
    faults: dict[str, float] = r["faults"]
    late = [faults[d] - (last_beat[d] + sup + grace) for d in plan.silent if d in faults and d in last_beat]
    flagged = sum(1 for d in plan.silent if d in faults)
    false_faults = sorted(d for d in faults if d not in plan.silent)
    within = sum(1 for x in late if x <= GOAL_LATE_S)
    before, mid, after = r["metrics"]
    hist = {k: metric_delta(after, before, f"{LATENESS}_{k}") for k in ("count", "sum")}
    for le in ("1.0", "2.0", "5.0"):
        hist[le] = metric_delta(after, before, f'{LATENESS}_bucket{{le="{le}"}}')
    commits = metric_delta(mid, before, "hub_pipeline_commit_seconds_count")
    commit_s = metric_delta(mid, before, "hub_pipeline_commit_seconds_sum")
    beats = metric_delta(mid, before, 'hub_heartbeats_total{source="mqtt"}')
    idle, active = r["idle"]["hub"], r["active"]["hub"]
    hub_idle, hub_active = median(idle), median(active)
    api_rate = plan.api_devices / r["api_s"]
    sent, acked = r["stats"].get("heartbeats_sent", 0), r["stats"].get("heartbeats_acked", 0)
    max_late = max(late, default=float("nan"))
    ok_cpu = hub_active < GOAL_CPU
    ok_late = flagged == len(plan.silent) and within == len(plan.silent) and not false_faults

    def cpus(values: list[float]) -> str:
        return ", ".join(fmt(100 * x, 1) for x in values)

    registration = (f"- registration: {plan.api_devices:,} devices (a site and a device each) through the "
                    f"API with `simulators.provision` (8 workers): **{r['api_s']:.1f} s, {api_rate:.0f} "
                    f"devices/s ({2 * api_rate:.0f} POSTs/s)**")
    if n > plan.api_devices:
        registration += (f"; at that rate 20,000 devices take ≈{20000 / api_rate / 60:.1f} min, so the other "
                         f"{n - plan.api_devices:,} were written straight into the database with the hub "
                         f"stopped ({r['bulk_s']:.1f} s; the same bodies as `simulators.provision`)")
    registration += (f". They were registered unsupervised (else the first ones fall silent while the last "
                     f"are registered) and `supervision_s: {sup}` was then set on all of them in the "
                     "database, hub stopped")
    registration += f"; the hub starts on {n:,} devices in {r['hub_start_s']:.1f} s"
    lines = [
        f"## Supervision: {n:,} devices, heartbeats every {sup} s{' (quick)' if plan.quick else ''}", "",
        f"Command: `{command_line('bench.supervision', argv)}`", "", machine.markdown(),
        f"- topology: {r['topology']}; hub config `supervision: {{grace_s: {grace:g}, startup_grace_s: "
        f"{plan.startup_grace:g}}}` (the startup grace leaves the fleet time to begin after the hub "
        "starts), SQLite WAL synchronous=FULL; the idle baseline is the same hub on the same database just "
        "before, started with `startup_grace_s: 3600` so that no deadline falls due",
        registration,
        f"- load: a Fleet (child process) sends a heartbeat for each device every {plan.interval:.0f} s, "
        f"spread evenly ({plan.rate:.0f}/s), for {plan.duration:.0f} s: {sent:,} sent, {acked:,} "
        f"acknowledged by the broker; {len(plan.silent)} devices whose first heartbeat falls "
        f"{plan.startup_grace:g}–{plan.startup_grace + plan.silent_span:g} s into the run go silent half-way "
        "to their second one", "",
        "| hub process CPU, % of one core | median of windows | windows | RSS |",
        "| --- | ---: | --- | ---: |",
        f"| idle baseline: {n:,} devices, no heartbeats | {fmt(100 * hub_idle, 1)} | "
        f"{plan.idle_windows} × {plan.idle_sub:g} s: {cpus(idle)} | {r['idle_rss']:.0f} MiB |",
        f"| {plan.rate:.0f} heartbeats/s ({plan.warm:.0f}–{plan.warm + plan.window:.0f} s into the run) | "
        f"**{fmt(100 * hub_active, 1)}** | {len(active)} × {plan.sub:g} s: {cpus(active)} | "
        f"{r['active_rss']:.0f} MiB |", "",
        f"Net cost of the heartbeats: {fmt(100 * (hub_active - hub_idle), 1)} % of a core "
        f"({hub_active / hub_idle:.0f}× idle), {1e6 * (hub_active - hub_idle) / plan.rate:.0f} µs of hub CPU "
        f"per heartbeat. Inside the hub meanwhile: {commits / (plan.warm + plan.window):.0f} pipeline "
        f"turns/s, {beats / commits if commits else float('nan'):.1f} heartbeats per turn, "
        f"{1000 * commit_s / commits if commits else float('nan'):.2f} ms per commit (`hub_pipeline_commit_"
        "seconds`, which counts every turn). Other processes "
        f"(medians, % of one core): site broker {fmt(100 * median(r['active']['site broker']), 1)}, fleet "
        f"{fmt(100 * median(r['active'].get('fleet', [])), 1)}; whole machine "
        f"{fmt(100 * median(r['active']['machine']))} of {100 * (os.cpu_count() or 1)} (other users of the "
        "machine included).", "",
        f"Silent devices: {flagged}/{len(plan.silent)} flagged with a `comm_fault` on the 110 queue"
        + (f" ({len(plan.silent) - len(last_beat)} never heard)" if len(last_beat) < len(plan.silent) else "")
        + f"; false `comm_fault`s of devices that kept heartbeating: {len(false_faults)}"
        + (f" (e.g. {', '.join(false_faults[:5])})" if false_faults else "") + ".", "",
        "| seconds after the deadline (last heartbeat + supervision_s + grace_s) | p50 | p90 | p99 | max | "
        f"within {GOAL_LATE_S:g} s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        f"| `comm_fault` arrival at the 110 consumer | {fmt(pct(late, 50), 3)} | {fmt(pct(late, 90), 3)} | "
        f"{fmt(pct(late, 99), 3)} | {fmt(max_late, 3)} | {within}/{len(plan.silent)} |",
        f"| the hub's `{LATENESS}` (when it raised it) | mean "
        f"{fmt(hist['sum'] / hist['count'], 3) if hist['count'] else 'n/a'} over {hist['count']:.0f} | | | | "
        f"≤ 1 s: {hist['1.0']:.0f}, ≤ 2 s: {hist['2.0']:.0f}, ≤ 5 s: {hist['5.0']:.0f} |", "",
        f"Goals: hub CPU < {100 * GOAL_CPU:.0f} % of one core with {n:,} devices: {verdict(ok_cpu)} "
        f"({fmt(100 * hub_active, 1)} %); every silent device flagged within {GOAL_LATE_S:g} s of its "
        f"deadline: {verdict(ok_late)} ({within}/{len(plan.silent)}, max {fmt(max_late, 3)} s).", ""]
    profile = r.get("profile")
    if profile and profile["total"]:
        sampled = PROFILE_MODES[profile["mode"]]
        lines += [f"Profile of the hub after the CPU window (py-spy, {profile['seconds']:.0f} s at 100 Hz, "
                  f"{sampled}; {profile['total']:,} samples):", "",
                  "| part of the hub | share of samples |", "| --- | ---: |",
                  *[f"| {label} | {100 * share:.1f} % |" for label, share in profile["components"]], "",
                  "| top functions (self) | % |", "| --- | ---: |",
                  *[f"| `{name}` | {100 * share:.1f} |" for name, share in profile["self"][:12]], ""]
    return "\n".join(lines), flagged == len(plan.silent) and not false_faults


def main(argv: list[str] | None = None) -> int:
    p = parser("Supervision: 20,000 devices heartbeating, a few going silent")
    p.add_argument("--devices", type=int, default=None, help="devices (20,000; quick 2,000)")
    p.add_argument("--api-devices", type=int, default=None,
                   help="how many of them to register through the API, timed (2,000; quick 500)")
    p.add_argument("--api-all", action="store_true", help="register every device through the API (slow)")
    p.add_argument("--silent", type=int, default=None, help="devices that go silent (200; quick 20)")
    p.add_argument("--supervision", type=int, default=None, help="supervision_s (60; quick 10)")
    p.add_argument("--grace", type=float, default=None, help="the hub's supervision grace_s (5; quick 2)")
    p.add_argument("--window", type=float, default=None, help="seconds of the CPU window (60; quick 10)")
    p.add_argument("--profile", nargs="?", const="gil", choices=sorted(PROFILE_MODES), default=None,
                   help="py-spy the hub after the CPU window (gil, the default: the thread holding the "
                        "interpreter lock; wall: every thread, waiting or not; active: threads not waiting)")
    args = p.parse_args(argv)
    argv_text = sys.argv[1:] if argv is None else argv
    profile_possible(args)
    plan = Plan.of(args)
    machine = Machine.now()
    with scratch("supervision", keep=args.keep) as workdir:
        result = run(plan, args, workdir)
    text, ok = report(plan, result, machine, argv_text)
    return publish("supervision", text, ok, args)


if __name__ == "__main__":
    sys.exit(main())

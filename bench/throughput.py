"""Sustained events/s from publish to the 110 queue, every event committed durably on the way.

Baseline, same run, same site Mosquitto: the raw broker round trip — the same publisher (a Fleet in
a child process, QoS 1, as fast as the broker acknowledges) → a QoS 1 subscriber using the same
consumer code, on a topic the hub does not read. Then the hub: each of N events is a `burglary` on
its own (device, zone), so each one raises its own alarm (no merging) and becomes one `new` message
on ``pingan/v1/cc/110-city/alarms``. Rates run from the first publish to the last arrival (overall)
and over the middle 80 % of arrivals (steady). Raw and hub repetitions alternate; medians are quoted.

    .venv/bin/python -m bench.throughput [--quick] [--profile [gil|wall|active ...]] [--topology two|one|both]

``--profile`` needs py-spy (``.venv/bin/pip install py-spy``); without it the profile is skipped.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    PROFILE_MODES,
    RAW_PREFIX,
    Machine,
    Stack,
    Stream,
    command_line,
    distinct_steps,
    fmt,
    hub_internals,
    log,
    median,
    parser,
    py_spy,
    rates,
    register,
    scratch,
    settle,
    stream,
    thread_names,
    verdict,
    write_section,
)

#: Where each thread's wall-clock time goes (profile mode "wall"), by part.
THREAD_PARTS = {
    "pipeline": (
        ("waiting for input (queue.get)", "Condition.wait"),
        ("Store.write: the batch's rows, commit and fsync", "Store.write"),
        ("Engine.apply: alarm decision, 110 message, ULID", "Engine.apply"),
        ("decode (drivers.pingan_mqtt, pydantic)", "PinganMqtt.decode"),
        ("Engine.mark_delivered", "Engine.mark_delivered"),
        ("acknowledging (client.ack)", "SiteLink._on_message.<locals>.ack"),
        ("the rest of the turn", "Pipeline._run")),
    "forwarder-cc": (
        ("MqttSink.send: publish, wait for the PUBACKs", "MqttSink.send"),
        ("idle, waiting to be woken", "Event.wait"),
        ("Store.pending: read the outbox", "Store.pending"),
        ("Store.mark_sent", "Store.mark_sent"),
        ("Store.outbox_stats", "Store.outbox_stats"),
        ("on_delivered: hand mark_delivered to the pipeline", "Hub._delivered"),
        ("the rest", "Forwarder._run")),
}
#: Where the hub's time goes, by part: a sample counts for the first whose function (or thread) it has.
COMPONENTS = (
    ("pipeline: Store.write (SQLAlchemy executemany of the batch, commit)", "Store.write"),
    ("pipeline: decode (drivers.pingan_mqtt, pydantic)", "PinganMqtt.decode"),
    ("pipeline: Engine.apply (alarm decision, 110 message, ULID, rows)", "Engine.apply"),
    ("pipeline: Engine.mark_delivered (new → delivered after the PUBACK)", "Engine.mark_delivered"),
    ("pipeline: the rest of the turn (supervisor, tally, metrics, acks)", "Pipeline._run"),
    ("forwarder: Store.pending (read the outbox)", "Store.pending"),
    ("forwarder: MqttSink.send (publish, wait for PUBACKs)", "MqttSink.send"),
    ("forwarder: Store.mark_sent", "Store.mark_sent"),
    ("forwarder: the rest", "Forwarder._run"),
    ("site link: paho network thread (receive, queue, PUBACK)", "thread:paho-mqtt-client-pingan-hub"),
    ("command-center link: paho network thread (send)", "thread:paho-mqtt-client-pingan-hub-cc"),
    ("HTTP server and event loop (main thread)", "thread:MainThread"),
)
GOAL_RATE = 5000.0
GOAL_RATIO = 0.5


@dataclass
class Rep:
    kind: str  # "raw" or "hub"
    events: int
    acked: int = 0
    distinct: int = 0
    duplicates: int = 0
    missing: int = 0
    overall: float = float("nan")
    steady: float = float("nan")
    seconds: float = float("nan")
    cpu: dict[str, float] = field(default_factory=dict)
    machine_cores: float = float("nan")
    extra: dict[str, float] = field(default_factory=dict)
    threads: dict[int, tuple[float, float]] = field(default_factory=dict)  # hub: (cpu, waiting for cpu)

    @property
    def complete(self) -> bool:
        return (self.acked == self.events and self.distinct == self.events and self.missing == 0
                and self.duplicates == 0)

    def problem(self) -> str:
        return (f"{self.kind}: {self.distinct}/{self.events} arrived, {self.duplicates} duplicates, "
                f"{self.acked} acked by the broker")


def run_rep(stack: Stack, kind: str, devices: int, events: int, tag: str, *,
            profile_seconds: float = 0.0, profile_path: Path | None = None, profile_mode: str = "gil"
            ) -> tuple[Rep, Stream]:
    """One repetition: publish ``events`` distinct events at once, wait for them all to arrive."""
    s = stream(stack, kind, distinct_steps(devices, events, tag), tag, timeout=events / 200 + 120,
               profile_seconds=profile_seconds, profile_path=profile_path, profile_mode=profile_mode)
    rep = Rep(kind, events, acked=s.published.acked, cpu=s.cpu, machine_cores=s.machine_cores,
              threads=s.threads)
    rep.distinct, rep.duplicates, rep.missing = s.check()
    arrivals = [m.arrival for m in s.messages]
    rep.overall, rep.steady = rates(s.published.first, arrivals)
    if arrivals:
        rep.seconds = max(arrivals) - s.published.first
    if kind == "hub":
        rep.extra = hub_internals(s.before, s.after)
    return rep, s


def run_topology(two_brokers: bool, args: Any, workdir: Any) -> dict[str, Any]:
    with Stack(workdir / ("two" if two_brokers else "one"), two_brokers=two_brokers) as stack:
        assert stack.hub is not None
        log(f"{stack.topology}: registering {args.devices} devices through the API")
        took, _ = register(stack.hub, args.devices)
        log(f"registered {args.devices} devices in {took:.1f} s ({args.devices / took:.0f}/s)")
        warm = min(args.events, 2000)
        log(f"warm-up: {warm} events through the hub and the raw broker (not counted)")
        run_rep(stack, "raw", args.devices, warm, "warmraw")
        run_rep(stack, "hub", args.devices, warm, "warmhub")
        settle(stack.hub_pid)
        reps: list[tuple[Rep, Rep]] = []
        for i in range(args.reps):
            raw, _ = run_rep(stack, "raw", args.devices, args.events, f"raw{i}")
            log(f"rep {i + 1}/{args.reps} raw: {fmt(raw.overall)} msg/s overall, {fmt(raw.steady)} steady, "
                f"{raw.distinct}/{raw.events} arrived")
            settle(stack.hub_pid)
            hub, _ = run_rep(stack, "hub", args.devices, args.events, f"hub{i}")
            log(f"rep {i + 1}/{args.reps} hub: {fmt(hub.overall)} events/s overall, {fmt(hub.steady)} "
                f"steady, {hub.distinct}/{hub.events} arrived, dup {hub.duplicates}; "
                f"hub cpu {fmt(100 * hub.cpu['hub'])} %")
            settle(stack.hub_pid)
            reps.append((raw, hub))
        profiles: list[dict[str, Any]] = []
        names = thread_names(stack.hub_pid)
        # Profiles of the real topology only (of the other too when it is the only one measured).
        for mode in args.profile if (two_brokers or args.topology == "one") else []:
            events = min(args.events, 20000)
            seconds = max(3.0, 0.8 * events / median([h.overall for _, h in reps]))
            log(f"profiling one more hub repetition ({events} events) with py-spy ({mode}), {seconds:.0f} s")
            prep, s = run_rep(stack, "hub", args.devices, events, f"prof{mode}", profile_seconds=seconds,
                              profile_path=workdir / f"profile-{mode}.txt", profile_mode=mode)
            settle(stack.hub_pid)
            if s.profile is None:
                continue
            profile = s.profile.read(COMPONENTS)
            profile.update(mode=mode, seconds=seconds, rate=prep.steady, threads_of={
                name: s.profile.read(parts, thread=name) for name, parts in THREAD_PARTS.items()})
            names.update(profile["tids"])
            profiles.append(profile)
        return {"two_brokers": two_brokers, "topology": stack.topology, "register_s": took,
                "reps": reps, "profiles": profiles, "names": names}


def summarize(result: dict[str, Any], args: Any) -> tuple[str, bool]:
    reps: list[tuple[Rep, Rep]] = result["reps"]
    raws, hubs = [r for r, _ in reps], [h for _, h in reps]
    raw_steady, hub_steady = median([r.steady for r in raws]), median([h.steady for h in hubs])
    raw_overall, hub_overall = median([r.overall for r in raws]), median([h.overall for h in hubs])
    ratios = [h.steady / r.steady for r, h in reps]
    ratio = median(ratios)
    complete = all(r.complete and h.complete for r, h in reps)
    lines = [f"### {result['topology']}", "",
             f"{args.devices} devices registered through the API before timing "
             f"({result['register_s']:.1f} s, {args.devices / result['register_s']:.0f} devices/s). "
             f"{args.reps} repetitions of {args.events:,} events each, raw and hub alternating, after a "
             "warm-up of each.", "",
             "| repetition | raw broker, msg/s overall | raw, steady (middle 80 %) | hub, events/s overall "
             "| hub, steady (middle 80 %) | hub/raw (steady) | hub run, s | all arrived once |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for i, (r, h) in enumerate(reps, 1):
        ok = "yes" if (r.complete and h.complete) else "no: " + "; ".join(
            x.problem() for x in (r, h) if not x.complete)
        lines.append(f"| {i} | {fmt(r.overall)} | {fmt(r.steady)} | {fmt(h.overall)} | {fmt(h.steady)} | "
                     f"{h.steady / r.steady:.2f} | {h.seconds:.1f} | {ok} |")
    lines.append(f"| **median** | **{fmt(raw_overall)}** | **{fmt(raw_steady)}** | **{fmt(hub_overall)}** | "
                 f"**{fmt(hub_steady)}** | **{ratio:.2f}** | {median([h.seconds for h in hubs]):.1f} | "
                 f"{'yes' if complete else 'NO'} |")
    cpu_names = list(hubs[0].cpu)
    cpu_hub = {n: median([h.cpu.get(n, float('nan')) for h in hubs]) for n in cpu_names}
    cpu_raw = {n: median([r.cpu.get(n, float('nan')) for r in raws]) for n in cpu_names}
    lines += ["",
              "CPU while a repetition ran (median, % of one core; the machine has "
              f"{os.cpu_count()} cores = {100 * (os.cpu_count() or 1)} %):", "",
              "| run | " + " | ".join(cpu_names) + " | whole machine |",
              "| --- |" + " ---: |" * (len(cpu_names) + 1),
              "| raw | " + " | ".join(fmt(100 * cpu_raw[n]) for n in cpu_names) +
              f" | {fmt(100 * median([r.machine_cores for r in raws]))} |",
              "| hub | " + " | ".join(fmt(100 * cpu_hub[n]) for n in cpu_names) +
              f" | {fmt(100 * median([h.machine_cores for h in hubs]))} |", ""]
    batch = median([h.extra.get("batch", float("nan")) for h in hubs])
    commit_ms = median([h.extra.get("commit_ms", float("nan")) for h in hubs])
    fwd = median([h.extra.get("forward_mean_s", float("nan")) for h in hubs])
    hub_cpu_s_per_event = median([h.cpu.get("hub", 0) * h.seconds / h.events for h in hubs])
    lines += [f"Inside the hub (its /metrics, median over repetitions): {fmt(batch)} signals per pipeline "
              "turn, "
              f"{commit_ms:.1f} ms per commit, mean forward latency (receive → PUBACK from the "
              f"command-center broker) {fwd:.2f} s under this overload; hub CPU per event "
              f"{1e6 * hub_cpu_s_per_event:.0f} µs.", ""]
    lines += budget_markdown(raws, hubs)
    met_rate = hub_steady >= GOAL_RATE
    met_ratio = ratio >= GOAL_RATIO
    lines += [f"Goals: ≥ {GOAL_RATE:,.0f} events/s sustained: {verdict(met_rate)} ({fmt(hub_steady)} steady, "
              f"{fmt(hub_overall)} overall); ≥ half the raw broker rate: {verdict(met_ratio)} "
              f"({ratio:.2f}). Every event arrived exactly once: {'yes' if complete else '**no**'}.", ""]
    lines += threads_markdown(hubs, result["names"])
    for profile in result["profiles"]:
        lines += profile_markdown(profile)
    return "\n".join(lines), complete


def budget_markdown(raws: list[Rep], hubs: list[Rep]) -> list[str]:
    """Where the machine's CPU goes per event, and what the goals leave for the hub. When the machine
    is saturated (it is, in both runs) a rate is the cores divided by the CPU time per event."""
    def per_event(reps: list[Rep], names: tuple[str, ...]) -> float:
        return median([sum(r.cpu.get(n, 0.0) for n in names) * r.seconds / r.events for r in reps])

    outside = ("site broker", "cc broker", "publisher", "consumer")
    raw_us = 1e6 * per_event(raws, outside)
    hub_outside_us = 1e6 * per_event(hubs, outside)
    hub_us = 1e6 * per_event(hubs, ("hub",))
    cores = os.cpu_count() or 1
    for_rate = 1e6 * cores / GOAL_RATE - hub_outside_us
    for_ratio = raw_us / GOAL_RATIO - hub_outside_us
    return [f"CPU per event (median): the raw path {raw_us:.0f} µs (publisher, broker, consumer); the hub "
            f"path {hub_outside_us:.0f} µs outside the hub (publisher, two brokers, consumer) plus "
            f"{hub_us:.0f} µs in the hub. Everything shares {cores} cores, so {GOAL_RATE:,.0f} events/s "
            f"leaves the hub at most {for_rate:.0f} µs per event, and half the raw rate leaves it "
            f"{for_ratio:.0f} µs: about what the raw publisher and consumer spend together, while the hub "
            "does their MQTT work (receive and PUBACK, publish and wait for the PUBACK) with the same "
            "client library, and decodes, decides and commits durably besides.", ""]


def threads_markdown(hubs: list[Rep], names: dict[int, str]) -> list[str]:
    """Per thread of the hub, median over the hub repetitions: CPU used and time spent runnable but
    waiting for a CPU (the machine's other processes holding it back)."""
    tids = sorted({tid for h in hubs for tid, (cpu, _w) in h.threads.items() if cpu >= 0.005})
    if not tids:
        return []
    rows = []
    for tid in tids:
        cpu = median([h.threads.get(tid, (0.0, 0.0))[0] for h in hubs])
        wait = median([h.threads.get(tid, (0.0, 0.0))[1] for h in hubs])
        rows.append((cpu, f"| {names.get(tid, f'thread {tid}')} | {fmt(100 * cpu)} | {fmt(100 * wait)} |"))
    return ["The hub's threads during the hub repetitions (median, % of the wall time; from "
            "/proc/<pid>/task/<tid>/schedstat):", "",
            "| thread | on a CPU | runnable, waiting for a CPU |", "| --- | ---: | ---: |",
            *[row for _cpu, row in sorted(rows, key=lambda r: -r[0])], ""]


def profile_markdown(profile: dict[str, Any]) -> list[str]:
    by_thread = list(profile["threads"].items())[:6]
    lines = [f"Profile of the hub during one more repetition (py-spy at 100 Hz for {profile['seconds']:.0f} "
             f"s, {PROFILE_MODES[profile['mode']]}; {profile['total']:,} samples; that repetition ran at "
             f"{fmt(profile['rate'])} events/s). Samples by thread: "
             + ", ".join(f"{name} {100 * share:.0f} %" for name, share in by_thread)
             + ".", ""]
    if profile["mode"] == "wall":
        lines = [*lines[:-2], lines[-2].split(" Samples by thread")[0], ""]
        pipeline = profile["threads_of"].get("pipeline", {})
        if pipeline.get("total"):
            waiting = dict(pipeline["components"]).get("waiting for input (queue.get)", 0.0)
            lines += [f"The pipeline thread (the single writer) waited for input {100 * waiting:.0f} % of "
                      "its "
                      "time" + (": it is the bottleneck; everything upstream waits for it."
                                if waiting < 0.1 else "."), ""]
        for thread, part in profile["threads_of"].items():
            if not part["total"]:
                continue
            lines += [f"Where the `{thread}` thread's time goes:", "", "| part | share of its time |",
                      "| --- | ---: |",
                      *[f"| {label} | {100 * share:.1f} % |" for label, share in part["components"]], ""]
        return lines
    lines += ["| part of the hub | share of samples |", "| --- | ---: |",
              *[f"| {label} | {100 * share:.1f} % |" for label, share in profile["components"]], "",
              "Top functions:", "",
              "| self (on top of the stack) | % | inclusive (anywhere on the stack) | % |",
              "| --- | ---: | --- | ---: |"]
    own, incl = profile["self"][:15], [x for x in profile["inclusive"] if not _boring(x[0])][:15]
    for i in range(max(len(own), len(incl))):
        a = own[i] if i < len(own) else ("", 0.0)
        b = incl[i] if i < len(incl) else ("", 0.0)
        lines.append(f"| `{a[0]}` | {100 * a[1]:.1f} | `{b[0]}` | {100 * b[1]:.1f} |")
    return [*lines, ""]


def _boring(name: str) -> bool:
    return name.startswith(("Thread.", "_bootstrap", "<module>", "_run_code", "_run_module_as_main", "run (",
                            "Runner.", "BaseEventLoop.run_", "main (hub/cli", "_worker ("))


def main(argv: list[str] | None = None) -> int:
    p = parser("Throughput: events/s from publish to the 110 queue, against the raw broker")
    p.add_argument("--events", type=int, default=None, help="events per repetition (30,000; quick 5,000)")
    p.add_argument("--devices", type=int, default=None, help="registered devices (2,000; quick 500)")
    p.add_argument("--reps", type=int, default=None, help="repetitions (3; quick 1)")
    p.add_argument("--topology", choices=["two", "one", "both"], default="two",
                   help="two Mosquittos (site, command center: the real topology), one for both, or both")
    p.add_argument("--profile", nargs="*", choices=sorted(PROFILE_MODES), default=None, metavar="MODE",
                   help="profile one extra hub repetition per MODE with py-spy (gil: the thread holding the "
                        "interpreter lock; wall: every thread, waiting or not; active: threads not "
                        "waiting); --profile alone: gil and wall")
    args = p.parse_args(argv)
    argv_text = sys.argv[1:] if argv is None else argv
    args.events = args.events or (5000 if args.quick else 30000)
    args.devices = args.devices or (500 if args.quick else 2000)
    args.reps = args.reps or (1 if args.quick else 3)
    if args.profile is not None and not args.profile:
        args.profile = ["gil", "wall"]
    if args.profile and py_spy() is None:
        log("py-spy is not installed (.venv/bin/pip install py-spy): no profile")
        args.profile = None
    args.profile = args.profile or []
    machine = Machine.now()
    results = []
    with scratch("throughput", keep=args.keep) as workdir:
        for two in {"two": [True], "one": [False], "both": [True, False]}[args.topology]:
            results.append(run_topology(two, args, workdir))
    body = [f"## Throughput: publish → 110 queue, durable commit{' (quick)' if args.quick else ''}", "",
            f"Command: `{command_line('bench.throughput', argv_text)}`", "", machine.markdown(),
            "- each event: a `burglary` of device `sim-NNNNN` in its own zone, so each one raises its own "
            "alarm (no merging) and yields exactly one `new` message on the 110 queue; published by one "
            "paho client (QoS 1, up to 1,000 in flight) as fast as the broker acknowledges",
            "- raw baseline: the same publisher and the same consumer code through the same site Mosquitto, "
            f"on `{RAW_PREFIX}/v1/devices/+/event`, which the hub does not read",
            "- hub: default configuration (pipeline batch_max 1,000, forwarder batch_max 500), SQLite WAL "
            "with synchronous=FULL; the rate is that of `new` messages arriving at a consumer of "
            "`pingan/v1/cc/+/alarms`", ""]
    ok = True
    for result in results:
        text, complete = summarize(result, args)
        body.append(text)
        ok = ok and complete
    report = "\n".join(body)
    print(report)
    if not args.no_doc:
        write_section("throughput", report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

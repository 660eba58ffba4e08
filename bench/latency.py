"""Latency from publish to arrival on the 110 queue at a steady 1,000 events/s.

Each event is a `burglary` on its own (device, zone), published by a Fleet paced on a 1 ms tick
(``Fleet.scripted`` with one step every 1/rate s); its publish time is recorded just before the
publish, and the `new` message it raises is matched on ``source.id`` and ``source.zone`` at the
consumer, whose arrival time is taken in its receive callback. Baseline, same run: the same paced
stream through the raw site broker (publish → subscribe), no hub. Repetitions alternate raw and hub;
percentiles are quoted per repetition, as medians over repetitions, and pooled.

    .venv/bin/python -m bench.latency [--quick] [--rate 1000] [--duration 20] [--reps 3]
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from bench.common import (
    Machine,
    Stack,
    Stream,
    command_line,
    distinct_steps,
    fmt,
    hub_internals,
    log,
    median,
    ms,
    parser,
    pct,
    register,
    scratch,
    settle,
    stream,
    verdict,
    write_section,
)
from simulators.consumer import parse_time

GOAL_P99 = 0.050


@dataclass
class Rep:
    kind: str
    events: int
    latencies: list[float] = field(default_factory=list)
    internal: list[float] = field(default_factory=list)  # hub only: its received_at → arrival
    complete: bool = False
    problem: str = ""
    rate: float = float("nan")  # achieved publish rate
    pacing_p99: float = float("nan")  # how late publishes were against their schedule
    cpu: dict[str, float] = field(default_factory=dict)
    machine_cores: float = float("nan")
    extra: dict[str, float] = field(default_factory=dict)

    def p(self, q: float) -> float:
        return pct(self.latencies, q)


def run_rep(stack: Stack, kind: str, devices: int, rate: float, duration: float, tag: str) -> Rep:
    steps = distinct_steps(devices, int(rate * duration), tag, rate=rate)
    s: Stream = stream(stack, kind, steps, tag, timeout=duration + 120)
    rep = Rep(kind, len(steps), latencies=s.latencies(), complete=s.complete, cpu=s.cpu,
              machine_cores=s.machine_cores)
    distinct, duplicates, _missing = s.check()
    if not rep.complete:
        rep.problem = (f"{distinct}/{len(steps)} arrived, {duplicates} duplicates, "
                       f"{s.published.acked} acked")
    times = sorted(r[3] for r in s.published.records)
    if len(times) > 1:
        rep.rate = (len(times) - 1) / (times[-1] - times[0])
        # Schedule: event n is due n/rate after the first; lateness of each publish against it.
        due = {(d, z): at for d, z, at in steps}
        first = min(r[3] - due[(r[1], r[2])] for r in s.published.records)
        rep.pacing_p99 = pct([r[3] - due[(r[1], r[2])] - first for r in s.published.records], 99)
    if kind == "hub":
        rep.extra = hub_internals(s.before, s.after)
        for message in s.messages:
            received = parse_time((message.data or {}).get("received_at"))
            if received is not None:
                rep.internal.append(message.arrival - received)
    return rep


def summarize(reps: list[tuple[Rep, Rep]], args: Any, register_s: float) -> tuple[str, bool]:
    raws, hubs = [r for r, _ in reps], [h for _, h in reps]
    lines = [f"{args.devices} devices registered through the API before timing ({register_s:.1f} s). "
             f"{args.reps} repetitions of {args.duration:.0f} s at {args.rate:,.0f} events/s "
             f"({int(args.rate * args.duration):,} events each), raw and hub alternating, after a warm-up "
             "of each. Latency in ms, from the publish call to the consumer's receive callback.", "",
             "| repetition | path | events | p50 | p90 | p99 | p99.9 | max | publish rate achieved | "
             "publish pacing p99 late | all arrived once |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for i, pair in enumerate(reps, 1):
        for rep in pair:
            lines.append(f"| {i} | {rep.kind} | {len(rep.latencies):,} | {ms(rep.p(50))} | {ms(rep.p(90))} | "
                         f"{ms(rep.p(99))} | {ms(rep.p(99.9))} | {ms(rep.p(100))} | "
                         f"{fmt(rep.rate)}/s | {ms(rep.pacing_p99)} | "
                         f"{'yes' if rep.complete else 'no: ' + rep.problem} |")
    groups = (("raw", raws), ("hub", hubs))
    pooled = {kind: [x for rep in group for x in rep.latencies] for kind, group in groups}
    for kind, group in groups:
        def m(q: float, group: list[Rep] = group) -> str:
            return ms(median([r.p(q) for r in group]))
        lines.append(f"| **median** | **{kind}** | | **{m(50)}** | {m(90)} | **{m(99)}** | {m(99.9)} | "
                     f"{m(100)} | | | |")
    for kind in ("raw", "hub"):
        values = pooled[kind]
        lines.append(f"| pooled | {kind} | {len(values):,} | {ms(pct(values, 50))} | {ms(pct(values, 90))} | "
                     f"{ms(pct(values, 99))} | {ms(pct(values, 99.9))} | {ms(pct(values, 100))} | | | |")
    hub_p99 = median([h.p(99) for h in hubs])
    raw_p99 = median([r.p(99) for r in raws])
    hub_p50, raw_p50 = median([h.p(50) for h in hubs]), median([r.p(50) for r in raws])
    internal = [x for h in hubs for x in h.internal]
    cpu_names = list(hubs[0].cpu)
    lines += ["",
              f"Hub over raw broker: p50 {ms(hub_p50 - raw_p50)} ms more ({hub_p50 / raw_p50:.1f}×), "
              f"p99 {ms(hub_p99 - raw_p99)} ms more ({hub_p99 / raw_p99:.1f}×). Secondary figure, from the "
              "110 message's `received_at` (the hub's receive time, which has millisecond resolution) to "
              f"arrival: p50 {ms(pct(internal, 50))} ms, p99 {ms(pct(internal, 99))} ms.", "",
              "CPU while a repetition ran (median, % of one core): " + "; ".join(
                  f"{kind}: " + ", ".join(f"{n} {fmt(100 * median([r.cpu.get(n, float('nan')) for r in g]))}"
                                          for n in cpu_names)
                  + f", whole machine {fmt(100 * median([r.machine_cores for r in g]))}"
                  for kind, g in (("raw", raws), ("hub", hubs))) + ".", ""]
    complete = all(r.complete and h.complete for r, h in reps)
    hub_cpu = median([h.cpu.get("hub", float("nan")) for h in hubs])

    def inside(key: str) -> float:
        return median([h.extra.get(key, float("nan")) for h in hubs])

    lines += [f"Inside the hub (median over repetitions): {fmt(100 * hub_cpu)} % of a core for "
              f"{args.rate:,.0f} events/s, i.e. {fmt(1e6 * hub_cpu / args.rate)} µs of hub CPU per event; "
              f"{fmt(inside('batch'), 1)} signals per pipeline turn, {inside('commit_ms'):.1f} ms per "
              "commit, "
              f"mean forward latency (receive → PUBACK) {ms(inside('forward_mean_s'))} ms.", ""]
    lines += [f"Goal: p99 < {GOAL_P99 * 1000:.0f} ms at {args.rate:,.0f} events/s: "
              f"{verdict(hub_p99 < GOAL_P99)} "
              f"(median p99 {ms(hub_p99)} ms, pooled {ms(pct(pooled['hub'], 99))} ms). "
              f"Every event arrived exactly once: {'yes' if complete else '**no**'}.", ""]
    return "\n".join(lines), complete


def main(argv: list[str] | None = None) -> int:
    p = parser("Latency: publish → 110 queue at a steady rate, against the raw broker")
    p.add_argument("--rate", type=float, default=1000.0, help="events per second (1,000)")
    p.add_argument("--duration", type=float, default=None, help="seconds per repetition (20; quick 5)")
    p.add_argument("--devices", type=int, default=None, help="registered devices (1,000; quick 500)")
    p.add_argument("--reps", type=int, default=None, help="repetitions (3; quick 1)")
    args = p.parse_args(argv)
    argv_text = sys.argv[1:] if argv is None else argv
    args.duration = args.duration or (5.0 if args.quick else 20.0)
    args.devices = args.devices or (500 if args.quick else 1000)
    args.reps = args.reps or (1 if args.quick else 3)
    machine = Machine.now()
    reps: list[tuple[Rep, Rep]] = []
    with scratch("latency", keep=args.keep) as workdir, Stack(workdir) as stack:
        assert stack.hub is not None
        log(f"{stack.topology}: registering {args.devices} devices through the API")
        register_s, _ = register(stack.hub, args.devices)
        log(f"registered in {register_s:.1f} s; warm-up (2 s of each path, not counted)")
        run_rep(stack, "raw", args.devices, args.rate, 2.0, "warmraw")
        run_rep(stack, "hub", args.devices, args.rate, 2.0, "warmhub")
        settle(stack.hub_pid)
        for i in range(args.reps):
            pair = []
            for kind in ("raw", "hub"):
                rep = run_rep(stack, kind, args.devices, args.rate, args.duration, f"{kind}{i}")
                log(f"rep {i + 1}/{args.reps} {kind}: p50 {ms(rep.p(50))} ms, p99 {ms(rep.p(99))} ms, "
                    f"max {ms(rep.p(100))} ms, {len(rep.latencies)} events, "
                    f"publish rate {fmt(rep.rate)}/s{'' if rep.complete else ', INCOMPLETE: ' + rep.problem}")
                settle(stack.hub_pid)
                pair.append(rep)
            reps.append((pair[0], pair[1]))
        topology = stack.topology
    text, complete = summarize(reps, args, register_s)
    report = "\n".join([
        f"## Latency: publish → 110 queue at {args.rate:,.0f} events/s{' (quick)' if args.quick else ''}", "",
        f"Command: `{command_line('bench.latency', argv_text)}`", "", machine.markdown(),
        f"- topology: {topology}; hub on its default configuration, SQLite WAL with synchronous=FULL",
        "- each event: a `burglary` of device `sim-NNNNN` in its own zone (one `new` alarm each), published "
        "at QoS 1 by one paho client paced on a 1 ms tick; matched at the consumer on (source.id, "
        "source.zone); raw baseline: the same paced publisher and the same consumer code through the site "
        "Mosquitto, on a topic the hub does not read", "", text])
    print(report)
    if not args.no_doc:
        write_section("latency", report)
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())

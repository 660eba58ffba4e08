"""Run every benchmark, one after the other, each writing its section of docs/benchmarks.md.

    .venv/bin/python -m bench.run_all [--quick] [--profile] [--no-doc] [--keep]

Each benchmark runs in its own process (a crash or a leftover thread of one cannot spoil the next)
with the same flags; the exit status is non-zero if any of them failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

BENCHMARKS = ("throughput", "latency", "supervision", "camera_capacity", "camera_latency", "console_latency",
              "live_latency", "scrape_cost", "sia_throughput")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short smoke runs")
    p.add_argument("--profile", action="store_true", help="py-spy profiles (throughput, supervision)")
    p.add_argument("--no-doc", action="store_true", help="do not write docs/benchmarks.md")
    p.add_argument("--keep", action="store_true", help="keep the scratch directories under bench/out/")
    p.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    args = p.parse_args(argv)
    failed = []
    for name in args.only:
        chosen = (("--quick", args.quick), ("--no-doc", args.no_doc), ("--keep", args.keep))
        flags = [flag for flag, on in chosen if on]
        if args.profile and name != "latency":
            flags.append("--profile")
        command = [sys.executable, "-m", f"bench.{name}", *flags]
        print(f"== {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        code = subprocess.call(command)
        print(f"== bench.{name}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

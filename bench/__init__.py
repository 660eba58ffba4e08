"""Benchmarks of the hub (issue 2): throughput, latency, supervision at city scale.

Each one is ``python -m bench.<name> [--quick]`` and writes its section of ``docs/benchmarks.md``;
``python -m bench.run_all`` runs them all. They start their own servers (Mosquitto, the hub as a
process) on free ports of 127.0.0.1 and stop them at the end.
"""

"""``python -m simulators.camera serve``: simulated RTSP cameras in the foreground.

    python -m simulators.camera serve --port 8554 --cameras 16 --scene walk --size 640x360 --fps 5 --clips

Camera ``i`` (from 1) is named ``cam-<i:03d>`` and plays the scenes of ``--scene`` (comma list) in turn;
``--clips`` adds one camera per dataset clip, named like the clip (``clip-<stem>``). It prints
``epoch <seconds>`` (the start of every camera's timeline), one URL per line, then ``ready``, and
serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from simulators.camera.camera import MODES, CameraSpec
from simulators.camera.clips import clip_names
from simulators.camera.encode import DEFAULT_CACHE_DIR
from simulators.camera.server import CameraServer


def camera_specs(args: argparse.Namespace) -> list[CameraSpec]:
    """The cameras the command line asks for."""
    width, height = (int(v) for v in args.size.lower().split("x"))
    scenes = [s.strip() for s in args.scene.split(",") if s.strip()]
    specs = [
        CameraSpec(f"cam-{i:03d}", scenes[(i - 1) % len(scenes)], width, height, args.fps,
                   args.user, args.password, args.mode, args.duration, args.seed)
        for i in range(1, args.cameras + 1)
    ]
    if args.clips:
        specs += [CameraSpec(name, name, user=args.user, password=args.password) for name in clip_names()]
    return specs


def serve(args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with CameraServer(camera_specs(args), args.host, args.port, args.cache_dir) as server:
        print(f"epoch {server.epoch:.6f}")
        for name in server.names:
            print(server.url(name))
        print("ready", flush=True)
        stop.wait()
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m simulators.camera", description=__doc__.split("\n\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("serve", help="serve simulated RTSP cameras until SIGINT/SIGTERM")
    cmd.add_argument("--host", default="127.0.0.1")
    cmd.add_argument("--port", type=int, default=8554)
    cmd.add_argument("--cameras", type=int, default=1, help="number of synthetic cameras")
    cmd.add_argument("--scene", default="walk", help="scene name, or a comma list played in turn")
    cmd.add_argument("--size", default="640x360", help="WIDTHxHEIGHT of the synthetic cameras")
    cmd.add_argument("--fps", type=float, default=5.0)
    cmd.add_argument("--duration", type=float, default=60.0, help="scene loop length in seconds")
    cmd.add_argument("--seed", type=int, default=1)
    cmd.add_argument("--mode", choices=MODES, default="normal")
    cmd.add_argument("--user", default=None)
    cmd.add_argument("--password", default=None)
    cmd.add_argument("--clips", action="store_true", help="also serve the dataset clips as clip-<stem>")
    cmd.add_argument("--cache-dir", default=str(DEFAULT_CACHE_DIR))
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return serve(args)
    except (ValueError, OSError) as exc:
        print(f"camera simulator: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""An asyncio RTSP/1.0 server (RFC 2326), RTP over the RTSP connection only (``RTP/AVP/TCP``).

Methods: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER and SET_PARAMETER (keep-alive).
The first path segment names the camera (``rtsp://host:port/<camera>[/trackID=0]``); an unknown
one is a 404. A stalled camera answers nothing at all, like a hung device: the connection stays
open and silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from simulators.camera import auth
from simulators.camera.camera import LiveCamera, Viewer
from simulators.camera.payload import sdp

METHODS = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
SESSION_TIMEOUT_S = 60
WRITE_BUFFER_LIMIT = 8 * 1024 * 1024  # a viewer this far behind is cut off
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 454: "Session Not Found",
           455: "Method Not Valid in This State", 461: "Unsupported Transport", 501: "Not Implemented"}


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    camera: str
    headers: Mapping[str, str]

    @property
    def cseq(self) -> str:
        return self.headers.get("cseq", "0")


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def encode(self, cseq: str) -> bytes:
        lines = [f"RTSP/1.0 {self.status} {REASONS.get(self.status, 'Error')}", f"CSeq: {cseq}",
                 "Server: pingan-camera-simulator"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        if self.body:
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


class Session:
    """One RTSP connection: at most one camera, set up and played over this connection."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.id = secrets.token_hex(8)
        self.camera: LiveCamera | None = None
        self.viewer: Viewer | None = None
        self.channel: int | None = None
        self.first_frame = 0

    def write(self, data: bytes) -> None:
        transport = self.writer.transport
        if transport.is_closing():
            return
        if transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
            transport.abort()
            return
        transport.write(data)

    def stop_playing(self) -> None:
        if self.camera is not None and self.viewer is not None:
            self.camera.remove_viewer(self.viewer)
        self.viewer = None


class RtspServer:
    """Serves ``cameras`` (by name) on ``host:port`` until ``stop()``; ``start()`` may be called again."""

    def __init__(self, cameras: Mapping[str, LiveCamera], host: str, port: int) -> None:
        self.cameras = cameras
        self.host = host
        self.port = port
        self._nonce = secrets.token_hex(16)
        self._server: asyncio.Server | None = None
        self._sessions: set[Session] = set()

    async def start(self) -> int:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
            self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Close the listening socket and every connection: the server vanishes."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for session in list(self._sessions):
            session.stop_playing()
            session.writer.transport.abort()
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(writer)
        self._sessions.add(session)
        try:
            while (request := await _read_request(reader)) is not None:
                camera = self.cameras.get(request.camera)
                if camera is not None and camera.stalled:
                    continue  # a hung camera answers nothing
                response = self._respond(session, request, camera)
                session.write(response.encode(request.cseq))
                if request.method == "PLAY" and response.status == 200 and session.viewer is not None:
                    assert session.camera is not None
                    session.camera.play(session.viewer, session.first_frame)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            session.stop_playing()
            self._sessions.discard(session)
            writer.transport.abort()

    def _respond(self, session: Session, request: Request, camera: LiveCamera | None) -> Response:
        if request.method == "OPTIONS" and camera is None and request.camera in ("", "*"):
            return Response(200, [("Public", METHODS)])
        if camera is None:
            return Response(404)
        if request.method not in ("OPTIONS", "GET_PARAMETER", "SET_PARAMETER", "TEARDOWN"):
            denied = self._check_auth(request, camera)
            if denied is not None:
                return denied
        handler = {
            "OPTIONS": lambda: Response(200, [("Public", METHODS)]),
            "DESCRIBE": lambda: self._describe(request, camera),
            "SETUP": lambda: self._setup(session, request, camera),
            "PLAY": lambda: self._play(session, request, camera),
            "TEARDOWN": lambda: self._teardown(session),
            "GET_PARAMETER": lambda: Response(200, [("Session", session.id)]),
            "SET_PARAMETER": lambda: Response(200, [("Session", session.id)]),
        }.get(request.method)
        return handler() if handler is not None else Response(501, [("Public", METHODS)])

    def _check_auth(self, request: Request, camera: LiveCamera) -> Response | None:
        spec = camera.spec
        if spec.user is None:
            return None
        if auth.authorised(request.headers.get("authorization"), request.method, spec.user,
                           spec.password or "", self._nonce):
            return None
        return Response(401, [("WWW-Authenticate", value) for value in auth.challenges(self._nonce)])

    def _describe(self, request: Request, camera: LiveCamera) -> Response:
        base = request.url.rstrip("/") + "/"
        body = sdp(camera.replay.stream, self.host).encode()
        return Response(200, [("Content-Base", base), ("Content-Type", "application/sdp")], body)

    def _setup(self, session: Session, request: Request, camera: LiveCamera) -> Response:
        transport = request.headers.get("transport", "")
        channel = _interleaved_channel(transport)
        if "RTP/AVP/TCP" not in transport.upper():
            return Response(461)
        session.stop_playing()
        session.camera, session.channel = camera, channel
        reply = f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1};ssrc={camera.ssrc:08X}"
        return Response(200, [("Transport", reply), ("Session", f"{session.id};timeout={SESSION_TIMEOUT_S}")])

    def _play(self, session: Session, request: Request, camera: LiveCamera) -> Response:
        if session.camera is not camera or session.channel is None:
            return Response(455 if session.camera is None else 454)
        session.stop_playing()
        session.viewer = Viewer(session.channel, session.write)
        session.first_frame = camera.first_frame()
        seq, rtptime = camera.rtp_position(session.first_frame)
        track = request.url.rstrip("/")
        if not track.endswith("trackID=0"):
            track += "/trackID=0"
        return Response(200, [("Session", session.id), ("Range", "npt=now-"),
                              ("RTP-Info", f"url={track};seq={seq};rtptime={rtptime}")])

    def _teardown(self, session: Session) -> Response:
        session.stop_playing()
        session.camera = None
        return Response(200, [("Session", session.id)])


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on the connection, skipping interleaved RTCP from the client; None at EOF."""
    while True:
        first = await reader.read(1)
        if not first:
            return None
        if first == b"$":
            header = await reader.readexactly(3)
            await reader.readexactly(int.from_bytes(header[1:3], "big"))
            continue
        if first in b"\r\n":
            continue
        head = (first + await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request = _parse(head)
        length = int(request.headers.get("content-length", "0") or 0)
        if length:
            await reader.readexactly(length)
        return request


def _parse(head: str) -> Request:
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("RTSP/"):
        raise ValueError(f"not an RTSP request line: {lines[0]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    method, url = parts[0].upper(), parts[1]
    path = urlsplit(url).path if "://" in url else url
    return Request(method, url, path.strip("/").split("/")[0], headers)


def _interleaved_channel(transport: str) -> int:
    """The RTP channel the client asked for (``interleaved=0-1``), 0 if it left the choice to us."""
    for part in transport.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "interleaved":
            with contextlib.suppress(ValueError):
                return int(value.split("-")[0])
    return 0

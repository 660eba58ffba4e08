"""Live view over WebRTC: a camera's own H.264 passed through to browsers, one RTSP pull per camera.

A viewer posts an SDP offer (`LiveView.answer`); the hub answers with H.264 only and sends the
camera's packets as they arrive, neither decoded nor re-encoded (aiortc's `MediaPlayer(decode=False)`):
a viewer costs the hub a copy of each packet, and the operator sees exactly what the camera sent.
Viewers of one camera share one RTSP connection, a *feed* (`MediaRelay`, unbuffered: a slow viewer
skips packets rather than queueing them). A feed opens with its first viewer and closes when its last
one leaves: the viewer's connection failed or closed, it never connected (`connect_timeout_s`), it
outlived `max_session_s`, the camera's stream ended, or the hub stops. At most `max_sessions` viewers
per hub.

Everything here runs on one asyncio loop, uvicorn's: the first `answer()` binds it and every later
call must come from it (`close()` is the one entry from another thread). Blocking work, opening the
stream and joining aiortc's demuxer thread, runs on a small thread pool of this module's own. ICE
gathers the hub's host addresses only (no STUN server unless given): consoles are on the hub's network.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import av
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaPlayer, MediaRelay
from aiortc.exceptions import OperationError
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from drivers.rtsp_camera import failures
from drivers.rtsp_camera.driver import OPEN_OPTIONS
from hub import metrics
from hub.errors import HubError, Unavailable
from hub.secrets import public_url, redact

log = logging.getLogger(__name__)


class _Redacting(logging.Filter):
    """aiortc's MediaPlayer names itself by its URL in its log lines, password and all."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


logging.getLogger("aiortc.contrib.media").addFilter(_Redacting())

PASS_THROUGH = ("video/h264", "video/rtx")  # what the answer may carry: the camera's codec, resent
# The driver's quick open; only the video is set up (a camera's audio would pile up unread).
_PLAYER_OPTIONS = {**OPEN_OPTIONS, "allowed_media_types": "video"}


@dataclass(frozen=True, slots=True)
class Limits:
    """What live view may cost the hub."""

    max_sessions: int = 16  # viewers at once, over all cameras
    max_session_s: float = 600.0  # a viewer is hung up after this; the console offers again
    connect_timeout_s: float = 20.0  # answered but not connected by then: hung up
    open_timeout_s: float = 5.0  # connecting to the camera, and each read from it
    threads: int = 4  # for opening streams and stopping their readers


class BadOffer(HubError):
    """The offer cannot be answered (API 422): not SDP, no video, no H.264."""


class LiveUnavailable(Unavailable):
    """No live view now (API 503). `reason`: a camera failure code (`unreachable`, …), `busy` or
    `stopping`; the message never carries the stream's password."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class _Source(MediaStreamTrack):
    """The feed's track: the player's packets, with the stream's parameter sets put back in front of
    keyframes that lack them; `end()` ends it at once (the relay then lets every viewer go)."""

    kind = "video"

    def __init__(self, player: MediaStreamTrack) -> None:
        super().__init__()
        self._player = player
        self.on_end: Callable[[], object] | None = None  # called when the camera's stream ends
        self._pending: asyncio.Future[Any] | None = None
        self._ending = False

    async def recv(self) -> av.Packet[Any]:  # pass-through: packets, never frames
        if self.readyState != "live" or self._ending:
            raise MediaStreamError
        pending = self._pending = asyncio.ensure_future(self._player.recv())
        try:
            data = await pending
        except asyncio.CancelledError:
            if self._ending:
                raise MediaStreamError from None
            raise
        except MediaStreamError:
            if self.on_end is not None:
                self.on_end()  # the camera's stream ended or failed
            raise
        finally:
            self._pending = None
        assert isinstance(data, av.Packet)
        return with_parameter_sets(data)

    def end(self) -> None:
        self._ending = True
        if self._pending is not None:
            self._pending.cancel()
        self.stop()


def with_parameter_sets(packet: av.Packet[Any]) -> av.Packet[Any]:
    """`packet`, with the stream's SPS/PPS (from the SDP) put before a keyframe that does not carry its
    own: a browser joining a running stream can only start at a keyframe it can decode. Cameras that
    repeat their headers in band (most) pass untouched."""
    stream = packet.stream
    if not packet.is_keyframe or stream is None:
        return packet
    data = parameter_sets_added(bytes(packet), stream.codec_context.extradata)
    if data is None:
        return packet
    fixed = av.Packet(data)
    fixed.pts, fixed.dts, fixed.time_base = packet.pts, packet.dts, packet.time_base
    fixed.is_keyframe = True
    return fixed


def parameter_sets_added(keyframe: bytes, extradata: bytes | None) -> bytes | None:
    """`extradata + keyframe` if the keyframe (Annex B) has no SPS of its own and `extradata` holds them
    in Annex B (as FFmpeg's RTSP demuxer gives them); None if nothing is to be added."""
    if not extradata or not extradata.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")) \
            or _has_sps(keyframe):
        return None
    return extradata + keyframe


def _has_sps(data: bytes) -> bool:
    """Whether an Annex B access unit has an SPS before its first slice."""
    at = data.find(b"\x00\x00\x01")
    while 0 <= at < len(data) - 3:
        kind = data[at + 3] & 0x1F
        if kind == 7:
            return True
        if kind in (1, 5):
            return False
        at = data.find(b"\x00\x00\x01", at + 3)
    return False


@dataclass(eq=False)
class _Feed:
    """One camera's stream, shared by its viewers."""

    camera_id: str
    url: str
    player: MediaPlayer
    source: _Source
    relay: MediaRelay = field(default_factory=MediaRelay)
    sessions: set[_Session] = field(default_factory=set)
    joining: int = 0  # viewers negotiating
    closed: bool = False

    @property
    def unused(self) -> bool:
        return not self.sessions and not self.joining


@dataclass(eq=False)
class _Session:
    """One viewer: its peer connection and the timers that bound it."""

    feed: _Feed
    pc: RTCPeerConnection
    started: float = field(default_factory=time.monotonic)
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    ended: bool = False


class LiveView:
    """Live viewers of every camera of one hub."""

    def __init__(self, limits: Limits | None = None, ice_servers: Sequence[RTCIceServer] = ()) -> None:
        self.limits = limits or Limits()
        self._ice = list(ice_servers)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._feeds: dict[str, _Feed] = {}
        self._opening: dict[str, asyncio.Task[_Feed]] = {}
        self._sessions: set[_Session] = set()
        self._reserved = 0  # answers under way
        self._tasks: set[asyncio.Task[None]] = set()
        self._executor = ThreadPoolExecutor(self.limits.threads, thread_name_prefix="live-view")
        self._closing = False
        metrics.LIVE_SESSIONS.set_function(lambda: len(self._sessions))
        metrics.LIVE_FEEDS.set_function(lambda: len(self._feeds))

    # -- what the API calls --------------------------------------------------------------------------

    @property
    def sessions(self) -> int:
        return len(self._sessions)

    @property
    def feeds(self) -> int:
        return len(self._feeds)

    async def answer(self, camera_id: str, url: str, offer_sdp: str) -> str:
        """The SDP answer to a browser's offer to watch `camera_id`, whose stream is at `url`.
        Raises BadOffer or LiveUnavailable."""
        self._bind()
        if self._closing:
            raise LiveUnavailable("stopping", "the hub is stopping")
        if len(self._sessions) + self._reserved >= self.limits.max_sessions:
            raise LiveUnavailable("busy", f"{self.limits.max_sessions} live views are open: close one first")
        self._reserved += 1
        try:
            feed = await self._feed(camera_id, url)
            return await self._session(feed, offer_sdp)
        finally:
            self._reserved -= 1

    def close(self, timeout: float = 10.0) -> None:
        """Hang up every viewer and close every feed; from any thread but the loop's (the hub's stop)."""
        loop = self._loop
        with contextlib.suppress(RuntimeError):
            if asyncio.get_running_loop() is loop:  # on the loop itself: cannot wait for it here
                self._spawn(self.aclose())
                return
        if loop is not None and not loop.is_closed() and loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self.aclose(), loop).result(timeout)
            except Exception:  # the hub stops anyway; what is left goes with the process
                log.exception("live view: closing failed")
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        self._closing = True
        for task in list(self._opening.values()):
            task.cancel()
        await asyncio.gather(*self._opening.values(), return_exceptions=True)
        await asyncio.gather(*(self._end(s, "the hub stops") for s in list(self._sessions)),
                             return_exceptions=True)
        await asyncio.gather(*(self._close_feed(f) for f in list(self._feeds.values())),
                             return_exceptions=True)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- feeds ----------------------------------------------------------------------------------------

    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise RuntimeError("LiveView is bound to another event loop")

    async def _feed(self, camera_id: str, url: str) -> _Feed:
        feed = self._feeds.get(camera_id)
        if feed is not None and not feed.closed and feed.url == url:
            return feed
        opening = self._opening.get(camera_id)
        if opening is None:
            # A task of its own: a viewer who hangs up while the stream opens does not leave it half open.
            opening = asyncio.ensure_future(self._open(camera_id, url))
            self._opening[camera_id] = opening
            opening.add_done_callback(self._opened)
        return await asyncio.shield(opening)

    def _opened(self, task: asyncio.Task[_Feed]) -> None:
        for camera_id, opening in list(self._opening.items()):
            if opening is task:
                del self._opening[camera_id]
        if not task.cancelled():
            task.exception()  # retrieved: the viewers who waited for it got it, if any still waited

    async def _open(self, camera_id: str, url: str) -> _Feed:
        assert self._loop is not None
        limits = self.limits
        options = {**_PLAYER_OPTIONS, "timeout": str(int(limits.open_timeout_s * 1_000_000))}
        started = time.monotonic()
        try:
            player = await self._loop.run_in_executor(self._executor, lambda: MediaPlayer(
                url, format="rtsp", options=options, timeout=max(1, round(limits.open_timeout_s)),
                decode=False))
        except Exception as exc:
            out_of_time = time.monotonic() - started >= 0.95 * limits.open_timeout_s
            failure = failures.on_open(exc, urlsplit(url).password, out_of_time=out_of_time)
            raise LiveUnavailable(failure.reason, f"the camera's stream: {failure}") from None
        if player.video is None:  # the player holds no track to stop: dropping it closes the connection
            raise LiveUnavailable(failures.Reason.UNSUPPORTED_CODEC,
                                  "the camera does not stream H.264, which live view passes through")
        feed = _Feed(camera_id, url, player, _Source(player.video))
        feed.source.on_end = lambda: self._spawn(self._stream_ended(feed))
        previous = self._feeds.get(camera_id)
        self._feeds[camera_id] = feed  # a feed on an old URL keeps its viewers until they leave
        if previous is not None and previous.unused:
            self._spawn(self._close_feed(previous))
        log.info("live view of camera %s: streaming from %s", camera_id, public_url(url))
        # A viewer who never comes (hung up while it opened) must not keep the stream open.
        self._after(limits.connect_timeout_s, lambda: self._spawn(self._close_if_unused(feed)))
        return feed

    async def _stream_ended(self, feed: _Feed) -> None:
        if not feed.closed:
            log.warning("live view of camera %s: the camera's stream ended", feed.camera_id)
            await asyncio.gather(*(self._end(s, "the camera's stream ended") for s in list(feed.sessions)))
            await self._close_feed(feed)

    async def _close_if_unused(self, feed: _Feed) -> None:
        if feed.unused:
            await self._close_feed(feed)

    async def _close_feed(self, feed: _Feed) -> None:
        if feed.closed:
            return
        feed.closed = True
        if self._feeds.get(feed.camera_id) is feed:
            del self._feeds[feed.camera_id]
        feed.source.end()
        assert self._loop is not None
        # Stopping the player joins its demuxer thread (up to a read): never on the loop.
        await self._loop.run_in_executor(self._executor, _stop_player, feed.player)
        log.info("live view of camera %s: stream closed", feed.camera_id)

    # -- sessions -------------------------------------------------------------------------------------

    async def _session(self, feed: _Feed, offer_sdp: str) -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=self._ice))
        session = _Session(feed, pc)
        feed.joining += 1
        try:
            answer = await self._negotiate(pc, feed, offer_sdp)
        except BaseException:
            feed.joining -= 1
            await pc.close()
            if feed.unused:
                await self._close_feed(feed)
            raise
        feed.joining -= 1
        if feed.closed:  # the stream ended while this viewer negotiated
            await pc.close()
            raise LiveUnavailable(failures.Reason.ENDED, "the camera's stream ended")
        feed.sessions.add(session)
        self._sessions.add(session)

        @pc.on("connectionstatechange")
        def changed() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._spawn(self._end(session, f"connection {pc.connectionState}"))
            elif pc.connectionState == "connected":
                log.info("live view of camera %s: viewer connected (%d viewers)", feed.camera_id,
                         len(feed.sessions))

        limits = self.limits

        def unconnected() -> None:
            if pc.connectionState != "connected":
                self._spawn(self._end(session, f"not connected within {limits.connect_timeout_s:g} s"))

        self._after(limits.connect_timeout_s, unconnected, session)
        self._after(limits.max_session_s, lambda: self._spawn(
            self._end(session, f"open for {limits.max_session_s:g} s")), session)
        return answer

    async def _negotiate(self, pc: RTCPeerConnection, feed: _Feed, offer_sdp: str) -> str:
        # The transceiver first, H.264 only: aiortc picks the codecs when it reads the offer.
        track = feed.relay.subscribe(feed.source, buffered=False)
        transceiver = pc.addTransceiver(track, direction="sendonly")
        capabilities = RTCRtpSender.getCapabilities("video").codecs
        transceiver.setCodecPreferences([c for c in capabilities if c.mimeType.lower() in PASS_THROUGH])
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except OperationError as exc:  # no codec in common
            raise BadOffer(f"the browser does not offer to receive H.264 ({str(exc)[:200]})") from None
        except Exception as exc:  # aiortc's SDP parser raises whatever it trips on
            raise BadOffer(f"not a usable SDP offer ({type(exc).__name__}: {str(exc)[:200]})") from None
        if transceiver.mid is None:
            raise BadOffer("the offer has no video to receive")
        try:
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            raise BadOffer(f"cannot answer this offer ({type(exc).__name__}: {str(exc)[:200]})") from None
        return pc.localDescription.sdp

    async def _end(self, session: _Session, why: str) -> None:
        if session.ended:
            return
        session.ended = True
        for timer in session.timers:
            timer.cancel()
        feed = session.feed
        feed.sessions.discard(session)
        self._sessions.discard(session)
        log.info("live view of camera %s: viewer left after %.0f s (%s)", feed.camera_id,
                 time.monotonic() - session.started, why)
        try:
            await session.pc.close()
        finally:
            if feed.unused:
                await self._close_feed(feed)

    # -- plumbing -------------------------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("live view: %s", task.exception(), exc_info=task.exception())

    def _after(self, delay: float, callback: Callable[[], object], session: _Session | None = None) -> None:
        assert self._loop is not None
        timer = self._loop.call_later(delay, callback)
        if session is not None:
            session.timers.append(timer)


def _stop_player(player: MediaPlayer) -> None:
    """Stop the demuxer thread and close the RTSP connection (blocking: joins the thread)."""
    track = player.video
    if track is not None:
        with contextlib.suppress(Exception):
            track.stop()

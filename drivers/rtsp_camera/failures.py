"""Why a camera failed, as one short code, with FFmpeg's errors translated at this boundary.

The codes are bounded (fit for a metric label) and carry retry meaning for the supervisor: all of
them are retried with backoff, but `not_found`, `auth_refused` and `unsupported_codec` will not heal
without a technician. Every message passes through `redact`: FFmpeg echoes the URL, password and all.
"""

from __future__ import annotations

import errno
from enum import StrEnum

import av.error

from hub.errors import Unavailable
from hub.secrets import redact


class Reason(StrEnum):
    UNREACHABLE = "unreachable"  # no connection: refused, no route, name unknown
    NOT_FOUND = "not_found"  # RTSP 404: wrong path
    AUTH_REFUSED = "auth_refused"  # RTSP 401/403: wrong or missing credentials
    UNSUPPORTED_CODEC = "unsupported_codec"  # a video stream, but not H.264
    BAD_STREAM = "bad_stream"  # bytes arrive but do not decode into pictures
    STALLED = "stalled"  # connected, then nothing (no bytes or no frame) for the stall timeout
    ENDED = "ended"  # the server closed the stream quietly
    TIMEOUT = "timeout"  # the open (connect, handshake, probe) took longer than its timeout


NEEDS_A_TECHNICIAN = frozenset({Reason.NOT_FOUND, Reason.AUTH_REFUSED, Reason.UNSUPPORTED_CODEC})
_UNREACHABLE_ERRNOS = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ECONNRESET,
                       errno.EADDRNOTAVAIL, errno.ECONNABORTED, errno.EPIPE}


class CameraFailure(Unavailable):
    """One failure of one stream session; `str()` is safe to log (no password)."""

    def __init__(self, reason: Reason, detail: str = "", *, password: str | None = None) -> None:
        self.reason = reason
        self.detail = redact(detail, password)
        super().__init__(f"{reason}: {self.detail}" if self.detail else str(reason))


def on_open(exc: Exception, password: str | None, *, out_of_time: bool = False) -> CameraFailure:
    """Translate an error raised while opening the stream. `out_of_time`: the open timeout had passed
    (FFmpeg reports an RTSP request cut short by it as invalid data, not as a timeout)."""
    reason = _open_reason(exc)
    if out_of_time and reason == Reason.BAD_STREAM:
        reason = Reason.TIMEOUT
    return CameraFailure(reason, _describe(exc), password=password)


def on_read(exc: Exception, password: str | None, *, undecodable: bool = False) -> CameraFailure:
    """Translate an error raised while reading or decoding an open stream. `undecodable`: the session
    never gave a picture, nor even its size (garbage can keep FFmpeg's RTSP demuxer waiting for the end
    of a bogus interleaved frame until the read timeout: that is a bad stream, not a stall)."""
    if isinstance(exc, av.error.TimeoutError | av.error.ExitError):
        # PyAV's read timeout fired before the watchdog: no packet for that long
        reason = Reason.BAD_STREAM if undecodable else Reason.STALLED
    elif isinstance(exc, av.error.EOFError):
        reason = Reason.ENDED
    elif isinstance(exc, av.error.InvalidDataError):
        reason = Reason.BAD_STREAM
    elif isinstance(exc, OSError) and exc.errno in _UNREACHABLE_ERRNOS:
        reason = Reason.ENDED  # the connection broke under a running stream
    else:
        reason = Reason.BAD_STREAM
    return CameraFailure(reason, _describe(exc), password=password)


def _open_reason(exc: Exception) -> Reason:
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return Reason.AUTH_REFUSED
    if isinstance(exc, av.error.HTTPNotFoundError):
        return Reason.NOT_FOUND
    if isinstance(exc, av.error.TimeoutError | av.error.ExitError):
        return Reason.TIMEOUT
    if isinstance(exc, av.error.InvalidDataError | av.error.EOFError):
        return Reason.BAD_STREAM
    if isinstance(exc, av.error.DecoderNotFoundError):
        return Reason.UNSUPPORTED_CODEC
    if isinstance(exc, OSError) and (exc.errno in _UNREACHABLE_ERRNOS or exc.errno == errno.EIO):
        return Reason.UNREACHABLE  # FFmpeg reports an unknown host name as EIO
    if isinstance(exc, av.error.HTTPError):
        return Reason.NOT_FOUND if isinstance(exc, av.error.HTTPClientError) else Reason.UNREACHABLE
    return Reason.BAD_STREAM


def _describe(exc: Exception) -> str:
    if isinstance(exc, av.error.FFmpegError):
        return str(exc.strerror or type(exc).__name__)  # str(exc) would carry the URL
    return str(exc) or type(exc).__name__

"""RTP payloads and SDP for the encoded streams.

H.264 follows RFC 6184 in non-interleaved mode (``packetization-mode=1``: single NAL units, STAP-A
and FU-A), using aiortc's packetiser. MPEG-4 Part 2 follows RFC 6416 (``MP4V-ES``): a VOP is cut
into pieces of at most ``MTU`` bytes, the marker bit on the last one.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

from aiortc.codecs.h264 import H264Encoder

from simulators.camera.encode import EncodedStream

PAYLOAD_TYPE = 96
CLOCK_RATE = 90_000
MTU = 1400
_VOP_START = b"\x00\x00\x01\xb6"


def payloads(codec: str, access_unit: bytes) -> list[bytes]:
    """The RTP payloads of one access unit, in order; the last one carries the marker bit."""
    if codec.startswith("h264"):
        return H264Encoder._packetize(H264Encoder._split_bitstream(access_unit))
    return [access_unit[i : i + MTU] for i in range(0, len(access_unit), MTU)]


def nal_units(access_unit: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex B access unit, without start codes."""
    return H264Encoder._split_bitstream(access_unit)


def sdp(stream: EncodedStream, host: str) -> str:
    """The session description of a one-track camera (RFC 4566; control URL relative to Content-Base)."""
    lines = [
        "v=0",
        f"o=- 0 0 IN IP4 {host}",
        "s=Ping'an camera simulator",
        f"c=IN IP4 {host}",
        "t=0 0",
        "a=range:npt=now-",
        f"m=video 0 RTP/AVP {PAYLOAD_TYPE}",
        *_media_lines(stream),
        f"a=framerate:{stream.spec.fps:g}",
        "a=control:trackID=0",
    ]
    return "\r\n".join(lines) + "\r\n"


def _media_lines(stream: EncodedStream) -> list[str]:
    first = stream.frames[0].data
    if stream.codec == "mpeg4":
        config = first[: first.find(_VOP_START)] if _VOP_START in first else b""
        return [
            f"a=rtpmap:{PAYLOAD_TYPE} MP4V-ES/{CLOCK_RATE}",
            f"a=fmtp:{PAYLOAD_TYPE} profile-level-id=1;config={config.hex().upper()}",
        ]
    units = {unit[0] & 0x1F: unit for unit in nal_units(first)}
    sps, pps = units[7], units[8]
    sprop = ",".join(base64.b64encode(unit).decode() for unit in (sps, pps))
    return [
        f"a=rtpmap:{PAYLOAD_TYPE} H264/{CLOCK_RATE}",
        f"a=fmtp:{PAYLOAD_TYPE} packetization-mode=1;profile-level-id={sps[1:4].hex()};"
        f"sprop-parameter-sets={sprop}",
    ]

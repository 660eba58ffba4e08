"""RTSP authentication as cameras do it: HTTP Basic (RFC 7617) and Digest (RFC 2617, MD5).

A camera with credentials challenges with both schemes; FFmpeg answers with Digest when offered.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

REALM = "pingan-camera"
_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]+))')


def challenges(nonce: str) -> list[str]:
    """``WWW-Authenticate`` header values for a 401."""
    return [f'Digest realm="{REALM}", nonce="{nonce}", algorithm=MD5', f'Basic realm="{REALM}"']


def authorised(header: str | None, method: str, user: str, password: str, nonce: str) -> bool:
    """Whether an ``Authorization`` header carries the right credentials for this request."""
    if not header:
        return False
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "basic":
        return _basic_ok(rest.strip(), user, password)
    if scheme.lower() == "digest":
        return _digest_ok(rest, method, user, password, nonce)
    return False


def _basic_ok(token: str, user: str, password: str) -> bool:
    try:
        given = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, f"{user}:{password}".encode())


def _digest_ok(params_text: str, method: str, user: str, password: str, nonce: str) -> bool:
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _PARAM.finditer(params_text)}
    if params.get("username") != user or params.get("nonce") != nonce or params.get("realm") != REALM:
        return False
    ha1 = _md5(f"{user}:{REALM}:{password}")
    ha2 = _md5(f"{method}:{params.get('uri', '')}")
    if params.get("qop"):
        nc, cnonce = params.get("nc", ""), params.get("cnonce", "")
        expected = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{params['qop']}:{ha2}")
    else:
        expected = _md5(f"{ha1}:{nonce}:{ha2}")
    return hmac.compare_digest(expected, params.get("response", ""))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()

"""Secrets at rest: device AES keys and camera stream URLs are stored encrypted with Fernet.

The key comes from `HUB_SECRET_KEY` (a Fernet key) or a file `secret.key` in the data directory,
created on first start with mode 0600. Losing it makes the stored secrets unreadable, so operations
back it up with the database.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote

from cryptography.fernet import Fernet, InvalidToken

from hub.errors import ConfigError


class Vault:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise ConfigError("HUB_SECRET_KEY is not a Fernet key (32 url-safe base64 bytes)") from exc

    @classmethod
    def open(cls, data_dir: Path) -> Vault:
        env = os.environ.get("HUB_SECRET_KEY")
        if env:
            return cls(env.encode())
        path = data_dir / "secret.key"
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(Fernet.generate_key())
        return cls(path.read_bytes().strip())

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def unseal(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise ConfigError("a stored secret cannot be decrypted: wrong HUB_SECRET_KEY?") from exc



# `scheme://user:password@` anywhere in a text (FFmpeg and URL parsers echo whole URLs in their errors).
_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^\s/@:]*):(?P<password>[^\s/@]*)@")


def redact(text: str, password: str | None = None) -> str:
    """`text` with every `user:password@` shown as `user:***@`, and the bare `password` too: what
    may go into a log line, an error or a status."""
    text = _CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", text)
    if password:
        for form in {password, unquote(password)}:
            if form:
                text = text.replace(form, "***")
    return text


def public_url(url: str) -> str:
    """A URL without its password (`rtsp://admin:secret@cam/1` → `rtsp://admin@cam/1`): what may be
    stored in the clear and shown back."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}@" if m["user"] else m["scheme"], url)

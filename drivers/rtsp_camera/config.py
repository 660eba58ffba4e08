"""Settings of one RTSP camera stream; its password is hidden by `hub.secrets.redact`."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hub.secrets import redact


class Settings(BaseModel):
    """One camera stream. Times are seconds; the URL is a secret (its repr and str show `**********`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    url: SecretStr = Field(description="rtsp://[user:password@]host[:port]/path of the stream (H.264)")
    name: str = Field("camera", min_length=1, max_length=64,
                      description="The camera's id, in logs and thread names")
    open_timeout_s: float = Field(5.0, gt=0, le=60, description="connect, RTSP handshake and first probe")
    read_timeout_s: float = Field(5.0, gt=0, le=60, description="no bytes for this long: the read fails")
    stall_timeout_s: float = Field(10.0, gt=0, le=600,
                                   description="no decoded frame for this long: close and reconnect")
    backoff_initial_s: float = Field(1.0, gt=0, le=60, description="first wait before reconnecting")
    backoff_max_s: float = Field(60.0, gt=0, le=60, description="longest wait between reconnects")
    healthy_after_s: float = Field(30.0, gt=0, le=3600, description=(
        "online this long: the next failure waits backoff_initial_s again"))
    analysis_fps: float | None = Field(None, gt=0, le=120, description=(
        "hand frames to the consumer at most this often (None: every frame); below the stream's rate the "
        "decoder also skips non-reference frames"))
    preroll_s: float = Field(5.0, ge=0, le=60, description="seconds of encoded packets kept for clips")

    @field_validator("url")
    @classmethod
    def _rtsp_url(cls, url: SecretStr) -> SecretStr:
        parts = urlsplit(url.get_secret_value())
        if parts.scheme not in ("rtsp", "rtsps") or not parts.hostname:
            raise ValueError("must be rtsp://[user:password@]host[:port]/path")
        return url

    @model_validator(mode="after")
    def _backoff_order(self) -> Settings:
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError("backoff_initial_s must not exceed backoff_max_s")
        return self

    @property
    def password(self) -> str | None:
        return urlsplit(self.url.get_secret_value()).password

    @property
    def safe_url(self) -> str:
        """The URL with its password replaced by `***`, fit for logs, statuses and API responses."""
        return redact(self.url.get_secret_value())

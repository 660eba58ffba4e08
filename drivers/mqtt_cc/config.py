"""Settings of the command-center MQTT sink."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str = Field(description="mqtt://[user:pass@]host:port of the command-center broker")
    client_id: str = Field("pingan-hub-cc", min_length=1, max_length=64)
    keepalive_s: int = Field(30, ge=5, le=600)

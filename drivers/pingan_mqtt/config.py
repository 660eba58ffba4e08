"""Settings of the pingan MQTT decoder."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    prefix: str = Field("pingan", pattern=r"^[A-Za-z0-9_-]+$", description="Topic prefix")

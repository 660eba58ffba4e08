"""Settings of the zigbee2mqtt decoder."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    base_topic: str = Field("zigbee2mqtt", pattern=r"^[A-Za-z0-9_/-]+$",
                            description="zigbee2mqtt's base_topic; device state is on <base>/<name>")

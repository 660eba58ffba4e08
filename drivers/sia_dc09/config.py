"""Settings of the SIA DC-09 decoder: how a frame is judged (the receiver's own limits are in hub.config)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    clock_ahead_s: float = Field(20.0, ge=1, description="Encrypted messages stamped further ahead: NAK")
    clock_behind_s: float = Field(40.0, ge=1, description="Encrypted messages stamped further behind: NAK")
    unknown_account: Literal["silent", "nak", "ack"] = Field("silent",
                                                             description="Reply to an unknown account")

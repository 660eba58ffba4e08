"""Settings of the SIA DC-09 decoder: how a frame is judged and answered. The hub's `sia` section
(hub.config.SiaSettings) extends them with the receiver's address and limits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    unknown_account: Literal["silent", "nak", "ack"] = Field(
        "silent",
        description="Reply to a panel whose account nobody registered (its messages are kept as "
                    "unregistered sightings either way). silent: no reply, so the panel keeps retrying and "
                    "falls back to its backup path or shows a failure; nak: refused; ack: acknowledged, "
                    "which tells the panel someone is handling an alarm nobody will see")
    clock_ahead_s: float = Field(20.0, ge=1, le=3600, description="An encrypted message stamped this far "
                                 "ahead of the receiver's clock gets a NAK with the receiver's time")
    clock_behind_s: float = Field(40.0, ge=1, le=3600, description="Likewise, this far behind")

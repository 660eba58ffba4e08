"""Configuration: a YAML file validated by strict pydantic models, overridden by `HUB_*` variables.

Every setting has bounds and a description; `hub check-config FILE` prints each error with its path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from drivers.sia_dc09.config import Settings as SiaDecoderSettings
from hub.errors import ConfigError
from hub.mqtt import BrokerAddress


def _host_port(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or any(c.isspace() for c in host) or not port.isdigit() or \
            not 1 <= int(port) <= 65535:
        raise ValueError("must be host:port with a port from 1 to 65535")
    return value


HostPort = Annotated[str, AfterValidator(_host_port)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MqttSettings(_Strict):
    url: str | None = Field(
        None, description="Site-facing broker, mqtt://[user:pass@]host:port; unset: an embedded broker")
    cc_url: str | None = Field(
        None, description="Command-center broker holding the 110 queue; unset: the site-facing broker")
    prefix: str = Field("pingan", pattern=r"^[A-Za-z0-9_-]+$", description="Topic prefix")
    client_id: str = Field("pingan-hub", min_length=1, max_length=64,
                           description="Client id of the persistent session on the site broker")
    keepalive_s: int = Field(30, ge=5, le=600, description="MQTT keepalive")
    max_payload_bytes: int = Field(65536, ge=256, le=16 * 1024 * 1024,
                                   description="Larger messages are rejected and dead-lettered")
    embedded_port: int = Field(1883, ge=1, le=65535, description="Port of the embedded broker")
    embedded_broker: Literal["auto", "mosquitto", "amqtt"] = Field(
        "auto", description="Embedded broker when no URL is set: Mosquitto if installed (auto), or amqtt")

    @field_validator("url", "cc_url")
    @classmethod
    def _mqtt_url(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                BrokerAddress.parse(value)
            except ConfigError as exc:
                raise ValueError("must look like mqtt://[user:pass@]host:port") from exc
        return value


class PipelineSettings(_Strict):
    batch_max: int = Field(1000, ge=1, le=20000, description="Most inputs committed in one transaction")
    queue_max: int = Field(100000, ge=100, le=10_000_000,
                           description="Inputs waiting for the engine before the MQTT reader blocks")


class SupervisionSettings(_Strict):
    grace_s: float = Field(5.0, ge=0, le=3600,
                           description="Extra time after a device's supervision interval before comm_fault")
    startup_grace_s: float = Field(
        0.0, ge=0, le=86400,
        description="Extra allowance for every device after the hub starts, so its own downtime is not "
                    "blamed on the devices")


class ForwarderSettings(_Strict):
    batch_max: int = Field(500, ge=1, le=10000, description="Deliveries published before awaiting PUBACKs")
    publish_timeout_s: float = Field(10.0, gt=0, le=300, description="How long to wait for a PUBACK")
    retry_initial_s: float = Field(0.5, gt=0, le=60, description="First retry delay while a sink is down")
    retry_max_s: float = Field(30.0, gt=0, le=3600, description="Cap of the exponential retry delay")


class CameraSettings(_Strict):
    stall_timeout_s: float = Field(10.0, gt=0, le=600, description="No frame this long: reconnect")
    open_timeout_s: float = Field(5.0, gt=0, le=60, description="Connect and RTSP handshake")
    analysis_fps: float | None = Field(
        10.0, gt=0, le=60,
        description="Analyse at most this many frames/s per camera (None: every frame): motion in seconds "
                    "needs no more, and a 25 fps stream's extra frames would cost analysis for nothing")
    analysis_threads: int = Field(2, ge=1, le=64, description="Threads analysing the cameras' frames (a few "
                                  "serve hundreds of cameras: more only add interpreter-lock handovers)")
    preroll_s: float = Field(5.0, ge=0, le=60, description="Clip time before a motion event starts")
    postroll_s: float = Field(10.0, ge=1, le=120, description="Clip time after a motion event starts")
    evidence_max_age_days: float = Field(30.0, gt=0, le=3650,
                                         description="Snapshots and clips older than this are removed")
    evidence_max_bytes: int = Field(10 * 1024**3, ge=1024**2, le=1024**5,
                                    description="Snapshots and clips beyond this total: the oldest go")


class RoutingSettings(_Strict):
    default_center: str = Field("110", min_length=1,
                                description="Center for sites that name none (or a center that is unknown)")


class MonitoringSettings(_Strict):
    uptime_refresh_s: float = Field(15.0, ge=0.2, le=600,
                                    description="How often hub_uptime_ratio is computed from the history")
    status_topics: bool = Field(True, description="Publish {prefix}/v1/hub/status and the cameras' and "
                                "devices' status topics on the site broker (retained)")


class SiaSettings(SiaDecoderSettings):
    """The SIA DC-09 receiver (ALARMS.md): the decoder's settings (replies, clock window), its address and
    its limits. The address is `HUB_SIA`; in a file, `sia: host:port` alone is accepted too."""

    listen: HostPort = Field("127.0.0.1:12128", description="host:port of the receiver (TCP and UDP)")
    enabled: bool = Field(True, description="Receive SIA DC-09 at all")
    max_connections: int = Field(5000, ge=1, le=100_000, description="TCP connections beyond are refused")
    idle_timeout_s: float = Field(300.0, ge=5, le=86400,
                                  description="A TCP connection that sends nothing this long is closed")
    frame_timeout_s: float = Field(10.0, ge=0.5, le=600, description="A frame begun and not finished this "
                                   "long closes its connection (a slow or hostile client)")
    max_unacked: int = Field(256, ge=1, le=100_000, description="Frames of one connection waiting for their "
                             "commit before the receiver stops reading it (back-pressure)")
    max_rejected: int = Field(100, ge=1, le=100_000, description="Rejected frames after which a connection "
                              "is closed (each is kept as a dead letter)")

    @model_validator(mode="before")
    @classmethod
    def _address_alone(cls, value: Any) -> Any:
        return {"listen": value} if isinstance(value, str) else value


class HubConfig(_Strict):
    database_url: str = Field("sqlite:///./var/hub.db", description="SQLAlchemy URL")
    http: HostPort = Field("127.0.0.1:8080", description="host:port of the API, console and /metrics")
    sia: SiaSettings = SiaSettings()
    data_dir: Path = Field(Path("./var"), description="Snapshots, clips, embedded broker state")
    admin_token: SecretStr | None = Field(None, description="Bootstrap token with the admin role")
    timezone: str = Field("Asia/Shanghai", description="Time zone of the centers")
    public_url: str | None = Field(
        None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="How the command center reaches this hub's API (evidence links); default http://HUB_HTTP")
    mqtt: MqttSettings = MqttSettings()
    pipeline: PipelineSettings = PipelineSettings()
    supervision: SupervisionSettings = SupervisionSettings()
    forwarder: ForwarderSettings = ForwarderSettings()
    routing: RoutingSettings = RoutingSettings()
    cameras: CameraSettings = CameraSettings()
    monitoring: MonitoringSettings = MonitoringSettings()

    @property
    def api_base(self) -> str:
        return (self.public_url or f"http://{self.http}").rstrip("/")


# CONTRACT.md: environment variables override the file.
_ENV: dict[str, tuple[str, ...]] = {
    "HUB_DATABASE_URL": ("database_url",),
    "HUB_MQTT_URL": ("mqtt", "url"),
    "HUB_CC_MQTT_URL": ("mqtt", "cc_url"),
    "HUB_HTTP": ("http",),
    "HUB_SIA": ("sia", "listen"),
    "HUB_DATA_DIR": ("data_dir",),
    "HUB_ADMIN_TOKEN": ("admin_token",),
    "HUB_MQTT_PREFIX": ("mqtt", "prefix"),
}


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    if isinstance(data.get("sia"), str):  # `sia: host:port`, the short form, before HUB_SIA goes in
        data["sia"] = {"listen": data["sia"]}
    for name, path in _ENV.items():
        value = env.get(name)
        if not value:
            continue
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{'.'.join(path[:-1])}: must be a mapping to apply {name}")
        node[path[-1]] = value
    return data


def format_errors(exc: ValidationError) -> list[str]:
    """One line per error: `path.to.field: reason`."""
    return [f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors()]


def read_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return data


def load(path: Path | None = None, env: Mapping[str, str] | None = None) -> HubConfig:
    """Read, override and validate. Raises ConfigError with one line per problem."""
    data = read_file(path) if path else {}
    data = _apply_env(data, os.environ if env is None else env)
    try:
        return HubConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(format_errors(exc))) from exc

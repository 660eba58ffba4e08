"""Configuration: defaults, the YAML file, `HUB_*` overrides (CONTRACT.md), errors with their paths,
and `hub check-config FILE`."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub import config
from hub.cli import check_config
from hub.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config" / "hub.example.yaml"

GOOD = """\
database_url: postgresql+psycopg://hub@db.example:5432/hub
http: 0.0.0.0:8081
sia: 0.0.0.0:12129
data_dir: /srv/hub
timezone: Asia/Shanghai
mqtt:
  url: mqtt://hub:secret@site-broker:1883
  cc_url: mqtt://cc-broker:1884
  prefix: nanjing
  keepalive_s: 60
pipeline:
  batch_max: 500
supervision:
  grace_s: 10
routing:
  default_center: 110-city
"""


def write(tmp_path: Path, text: str, name: str = "hub.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_lines(path: Path | None, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config.load(path, env={} if env is None else env)
    return str(caught.value).splitlines()


# -- load -----------------------------------------------------------------------------------------------

def test_defaults_are_the_contract_defaults() -> None:
    cfg = config.load(None, env={})
    assert cfg.database_url == "sqlite:///./var/hub.db"
    assert cfg.http == "127.0.0.1:8080"
    assert cfg.sia.listen == "127.0.0.1:12128"
    assert cfg.data_dir == Path("./var")
    assert cfg.admin_token is None
    assert cfg.mqtt.url is None           # an embedded broker
    assert cfg.mqtt.cc_url is None        # the site-facing broker
    assert cfg.mqtt.prefix == "pingan"
    assert cfg.mqtt.embedded_port == 1883
    assert cfg.routing.default_center == "110"


def test_an_empty_file_means_the_defaults(tmp_path: Path) -> None:
    assert config.load(write(tmp_path, ""), env={}) == config.load(None, env={})
    assert config.load(write(tmp_path, "# only a comment\n"), env={}) == config.load(None, env={})


def test_the_file_sets_values(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, GOOD), env={})
    assert cfg.database_url == "postgresql+psycopg://hub@db.example:5432/hub"
    assert (cfg.http, cfg.sia.listen, cfg.data_dir) == ("0.0.0.0:8081", "0.0.0.0:12129", Path("/srv/hub"))
    assert (cfg.mqtt.url, cfg.mqtt.cc_url) == ("mqtt://hub:secret@site-broker:1883", "mqtt://cc-broker:1884")
    assert (cfg.mqtt.prefix, cfg.mqtt.keepalive_s) == ("nanjing", 60)
    assert cfg.pipeline.batch_max == 500 and cfg.pipeline.queue_max == 100000  # the rest keeps defaults
    assert cfg.supervision.grace_s == 10.0
    assert cfg.routing.default_center == "110-city"


def test_every_contract_variable_overrides_the_file(tmp_path: Path) -> None:
    env = {
        "HUB_DATABASE_URL": "sqlite:////data/hub.db",
        "HUB_MQTT_URL": "mqtt://broker.lan:1883",
        "HUB_CC_MQTT_URL": "mqtt://cc.lan:8883",
        "HUB_HTTP": "127.0.0.1:9000",
        "HUB_SIA": "0.0.0.0:12000",
        "HUB_DATA_DIR": "/data",
        "HUB_ADMIN_TOKEN": "s3cret-admin-token",
        "HUB_MQTT_PREFIX": "suzhou",
    }
    cfg = config.load(write(tmp_path, GOOD), env=env)
    assert cfg.database_url == "sqlite:////data/hub.db"
    assert cfg.mqtt.url == "mqtt://broker.lan:1883"
    assert cfg.mqtt.cc_url == "mqtt://cc.lan:8883"
    assert cfg.http == "127.0.0.1:9000"
    assert cfg.sia.listen == "0.0.0.0:12000"
    assert cfg.data_dir == Path("/data")
    assert cfg.admin_token is not None and cfg.admin_token.get_secret_value() == "s3cret-admin-token"
    assert "s3cret" not in repr(cfg) and "s3cret" not in str(cfg)
    assert cfg.mqtt.prefix == "suzhou"
    assert cfg.mqtt.keepalive_s == 60, "what the environment does not name stays as in the file"
    # Without a file the same variables apply to the defaults.
    assert config.load(None, env=env).mqtt.cc_url == "mqtt://cc.lan:8883"


def test_an_empty_variable_does_not_override(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, GOOD), env={"HUB_HTTP": "", "HUB_MQTT_URL": ""})
    assert (cfg.http, cfg.mqtt.url) == ("0.0.0.0:8081", "mqtt://hub:secret@site-broker:1883")


def test_the_process_environment_is_read_when_no_env_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_MQTT_PREFIX", "wuxi")
    assert config.load(None).mqtt.prefix == "wuxi"


def test_overrides_are_validated_like_the_file() -> None:
    assert error_lines(None, {"HUB_HTTP": "localhost"})[0].startswith("http: ")
    assert error_lines(None, {"HUB_MQTT_URL": "http://broker:1883"}) == \
        ["mqtt.url: Value error, must look like mqtt://[user:pass@]host:port"]
    assert error_lines(None, {"HUB_MQTT_PREFIX": "a/b"})[0].startswith("mqtt.prefix: ")


def test_errors_name_the_dotted_path(tmp_path: Path) -> None:
    path = write(tmp_path, "mqtt:\n  keepalive_s: 1\n")
    assert error_lines(path) == ["mqtt.keepalive_s: Input should be greater than or equal to 5"]


def test_every_error_gets_its_own_line(tmp_path: Path) -> None:
    path = write(tmp_path, "http: nonsense\npipeline:\n  batch_max: 0\n  queue_max: 1\n"
                           "forwarder:\n  retry_max_s: -1\n")
    lines = error_lines(path)
    assert [line.split(":", 1)[0] for line in lines] == \
        ["http", "pipeline.batch_max", "pipeline.queue_max", "forwarder.retry_max_s"]


@pytest.mark.parametrize(("text", "where"), [
    ("bogus: 1\n", "bogus"),
    ("mqtt:\n  bogus: 1\n", "mqtt.bogus"),
    ("supervision:\n  grace: 5\n", "supervision.grace"),   # a misspelt key is not silently ignored
])
def test_unknown_keys_are_rejected(tmp_path: Path, text: str, where: str) -> None:
    assert error_lines(write(tmp_path, text)) == [f"{where}: Extra inputs are not permitted"]


@pytest.mark.parametrize(("text", "where"), [
    ("mqtt: 5\n", "mqtt"),
    ("http: 8080\n", "http"),
    ("mqtt:\n  url: ftp://x:21\n", "mqtt.url"),
    ("mqtt:\n  embedded_port: 70000\n", "mqtt.embedded_port"),
    ("supervision:\n  grace_s: -1\n", "supervision.grace_s"),
    ("routing:\n  default_center: ''\n", "routing.default_center"),
    ("data_dir: [1, 2]\n", "data_dir"),
])
def test_bad_values_are_rejected_with_their_path(tmp_path: Path, text: str, where: str) -> None:
    lines = error_lines(write(tmp_path, text))
    assert len(lines) == 1 and lines[0].startswith(f"{where}: "), lines


def test_a_top_level_that_is_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "- 1\n- 2\n")
    assert error_lines(path) == [f"{path}: the top level must be a mapping"]


def test_invalid_yaml_is_reported_as_such(tmp_path: Path) -> None:
    path = write(tmp_path, "mqtt: [\n")
    lines = error_lines(path)
    assert lines[0].startswith(f"{path}: not valid YAML")


def test_a_missing_file_is_reported_as_such(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert error_lines(path) == [f"{path}: cannot read: No such file or directory"]


def test_an_override_into_a_section_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "mqtt: 5\n")
    assert error_lines(path, {"HUB_MQTT_URL": "mqtt://x:1883"}) == \
        ["mqtt: must be a mapping to apply HUB_MQTT_URL"]


def test_settings_are_frozen() -> None:
    cfg = config.load(None, env={})
    with pytest.raises(ValueError, match="frozen"):
        cfg.http = "0.0.0.0:1"  # type: ignore[misc]


def test_a_port_out_of_range_is_rejected() -> None:
    assert error_lines(None, {"HUB_HTTP": "127.0.0.1:99999"})[0].startswith("http: ")


@pytest.mark.parametrize("url", ["mqtt://", "mqtt://:1883", "mqtt://broker:port"])
def test_an_mqtt_url_that_cannot_be_used_is_rejected(url: str) -> None:
    assert error_lines(None, {"HUB_MQTT_URL": url})[0].startswith("mqtt.url: ")


# -- hub check-config ------------------------------------------------------------------------------------
# Each run of `python -m hub` costs a second of imports: the cases run as parallel processes, once.

@dataclass(frozen=True)
class Run:
    path: Path
    returncode: int
    stdout: str
    stderr: str

    def lines(self) -> list[str]:
        return self.stdout.splitlines()


BAD = "mqtt:\n  keepalive_s: 1\n  bogus: x\nhttp: nonsense\n"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    folder = tmp_path_factory.mktemp("check-config")
    files = {"good": write(folder, GOOD, "good.yaml"), "bad": write(folder, BAD, "bad.yaml"),
             "broken": write(folder, "mqtt: [\n", "broken.yaml")}
    if EXAMPLE.exists():
        files["example"] = EXAMPLE
    env = {**os.environ, "HUB_HTTP": "not-a-host-port"}  # check-config checks the file alone
    procs = {name: subprocess.Popen([sys.executable, "-m", "hub", "check-config", str(path)], cwd=REPO,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, path in files.items()}
    runs = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=60)
        runs[name] = Run(files[name], proc.returncode, stdout, stderr)
    return runs


def test_check_config_says_ok_for_a_good_file(cli: dict[str, Run]) -> None:
    run = cli["good"]
    assert (run.returncode, run.lines()) == (0, [f"{run.path}: ok"]), run.stderr


def test_check_config_prints_one_line_per_error_with_its_path(cli: dict[str, Run]) -> None:
    run = cli["bad"]
    assert run.returncode == 1
    lines = run.lines()
    assert len(lines) == 3, run.stdout
    assert all(line.startswith(f"{run.path}: ") for line in lines)
    assert sorted(line.removeprefix(f"{run.path}: ") for line in lines) == [
        "http: Value error, must be host:port with a port from 1 to 65535",
        "mqtt.bogus: Extra inputs are not permitted",
        "mqtt.keepalive_s: Input should be greater than or equal to 5",
    ]
    assert "Traceback" not in run.stderr


def test_check_config_reports_invalid_yaml(cli: dict[str, Run]) -> None:
    broken = cli["broken"]
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert broken.lines()[0].startswith(f"{broken.path}: ") and "not valid YAML" in broken.lines()[0]


# The same function without a process of its own, for the other unreadable files.

def test_check_config_reports_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "missing.yaml"
    assert check_config(path) == 1
    assert capsys.readouterr().out.splitlines() == [f"{path}: {path}: cannot read: No such file or directory"]


def test_check_config_reports_a_folder_in_place_of_a_file(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert check_config(tmp_path) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{tmp_path}: ") and "cannot read" in out


def test_check_config_accepts_the_example_file(cli: dict[str, Run]) -> None:
    if "example" not in cli:
        pytest.skip("config/hub.example.yaml does not exist (yet)")
    run = cli["example"]
    assert (run.returncode, run.lines()) == (0, [f"{EXAMPLE}: ok"]), run.stdout + run.stderr


def test_check_config_reports_a_file_that_is_not_utf8(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("routing:\n  default_center: 'zentrale-\u00fc'\n".encode("latin-1"))
    assert check_config(path) == 1
    assert capsys.readouterr().out.startswith(f"{path}: ")

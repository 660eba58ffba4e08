"""The monitoring configuration, without a hub: Prometheus' config and rules pass promtool and their unit
tests, every alert is tested, documented and has a runbook, the dashboard and the rules use only metrics
the hub exposes, and the Grafana provisioning matches docker-compose.yml."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from tests.fixtures.monitoring import (
    ALERTS,
    CONFIG,
    DASHBOARD,
    EXPOSED,
    ROOT,
    alert_rules,
    dashboard,
    dashboard_exprs,
    dashboard_panels,
    metric_names,
    rule_names,
    rules,
)

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
RULE_TESTS = CONFIG / "alerts_test.yml"
DOCS = ROOT / "docs" / "monitoring.md"
COMPOSE = ROOT / "docker-compose.yml"
GRAFANA = CONFIG / "grafana"
# What Grafana puts into a query before Prometheus sees it.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h", "$site": ".*"}


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    if not Path(PROMTOOL).exists():
        pytest.fail("promtool is not installed: `make test` installs it (apt-get install prometheus)")
    return subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=120, cwd=ROOT)


def output(done: subprocess.CompletedProcess[str]) -> str:
    return f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def all_rule_exprs() -> list[str]:
    return [str(rule["expr"]) for rule in rules()]


def known_names() -> set[str]:
    return set(EXPOSED) | rule_names() | {"up"}


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text (outside code blocks)."""
    anchors = set()
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)):
            text = re.sub(r"[^\w\- ]", "", heading.group(1).lower())
            anchors.add(text.replace(" ", "-"))
    return anchors


# -- promtool ----------------------------------------------------------------------------------------

def test_prometheus_config_passes_promtool() -> None:
    done = promtool("check", "config", CONFIG / "prometheus.yml")
    assert done.returncode == 0, output(done)
    # The rules are loaded from the config (not only checked on their own).
    assert "1 rule files found" in done.stdout, output(done)


def test_rules_pass_promtool() -> None:
    done = promtool("check", "rules", ALERTS)
    assert done.returncode == 0, output(done)


def test_rule_unit_tests_pass() -> None:
    done = promtool("test", "rules", RULE_TESTS)
    assert done.returncode == 0, output(done)


def test_promtool_rejects_a_broken_rule_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [
        {"alert": "Broken", "expr": "hub_camera_up == ", "labels": {"severity": "warning"}}]}]}))
    done = promtool("check", "rules", broken)
    assert done.returncode != 0, output(done)


def test_rule_unit_tests_catch_a_changed_rule(tmp_path: Path) -> None:
    """The unit tests fail when an alert fires sooner than they expect (here: camera down after 1 min)."""
    text = ALERTS.read_text(encoding="utf-8")
    changed = re.sub(r"(alert: PinganCameraDown\n\s+expr: hub_camera_up == 0\n\s+for:) 5m", r"\1 1m", text)
    assert changed != text
    (tmp_path / "alerts.yml").write_text(changed, encoding="utf-8")
    shutil.copy(RULE_TESTS, tmp_path / "alerts_test.yml")
    done = promtool("test", "rules", tmp_path / "alerts_test.yml")
    assert done.returncode != 0, output(done)
    assert "PinganCameraDown" in done.stdout + done.stderr


# -- alerts: tested, labelled, documented ------------------------------------------------------------

def test_every_alert_has_a_firing_unit_test() -> None:
    firing: set[str] = set()
    not_firing: set[str] = set()
    for case in load_yaml(RULE_TESTS)["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else not_firing).add(check["alertname"])
    alerts = {str(rule["alert"]) for rule in alert_rules()}
    assert alerts - firing == set(), "alerts without a firing case in alerts_test.yml"
    assert firing | not_firing <= alerts, "alerts_test.yml tests alerts that do not exist"
    # The important ones also have a case where they must stay quiet.
    assert {"PinganCameraDown", "PinganAckSlow", "PinganHubDown", "PinganOutboxStale",
            "PinganForwardLatencyHigh", "PinganCamerasDownMany", "PinganDeviceSilent"} <= not_firing


def test_alert_names_are_unique() -> None:
    names = [rule.get("alert", rule.get("record")) for rule in rules()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: str(rule["alert"]))
def test_alert_has_severity_and_annotations(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in ("critical", "warning")
    annotations = rule["annotations"]
    for key in ("summary", "description", "runbook"):
        assert str(annotations.get(key, "")).strip(), key
    assert "{{" in annotations["description"], "the description should name what fired"
    assert re.fullmatch(r"docs/monitoring\.md#[a-z0-9-]+", annotations["runbook"]), annotations["runbook"]


def test_runbook_anchors_exist_in_the_docs() -> None:
    anchors = github_anchors(DOCS.read_text(encoding="utf-8"))
    missing = {rule["alert"]: rule["annotations"]["runbook"] for rule in alert_rules()
               if rule["annotations"]["runbook"].split("#", 1)[1] not in anchors}
    assert missing == {}


def test_github_anchors() -> None:
    text = ("# Monitoring\n## Alarms reach the 110 queue within 1 s\n"
            "```\n# not a heading\n```\n### PinganHubDown\n")
    assert github_anchors(text) == {"monitoring", "alarms-reach-the-110-queue-within-1-s", "pinganhubdown"}


def test_every_alert_is_in_the_docs_alert_table() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for rule in alert_rules():
        assert f"| [{rule['alert']}](#{rule['alert'].lower()}) |" in text, rule["alert"]


def test_recording_rules_follow_the_naming_convention() -> None:
    for name in rule_names():
        assert re.fullmatch(r"pingan:[a-z0-9_]+:[a-z0-9_]+", name), name


# -- metric names --------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr", all_rule_exprs())
def test_rule_exprs_use_exposed_metrics(expr: str) -> None:
    names = metric_names(expr)
    assert names, "an expression without a metric"
    assert names <= known_names(), names - known_names()


@pytest.mark.parametrize("expr", dashboard_exprs())
def test_dashboard_exprs_use_exposed_metrics(expr: str) -> None:
    names = metric_names(expr)
    assert names, "an expression without a metric"
    assert names <= known_names(), names - known_names()


def test_the_recording_rules_are_used() -> None:
    used = set().union(*(metric_names(expr) for expr in dashboard_exprs() + all_rule_exprs()))
    assert rule_names() - used == set()


def test_dashboard_exprs_are_valid_promql(tmp_path: Path) -> None:
    """Each query, with Grafana's variables filled in, as a recording rule that promtool parses."""
    exprs = []
    for expr in dashboard_exprs():
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
        exprs.append(expr)
    checked = tmp_path / "dashboard.yml"
    checked.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query:{i}", "expr": expr} for i, expr in enumerate(exprs)]}]}))
    done = promtool("check", "rules", checked)
    assert done.returncode == 0, output(done)


@pytest.mark.parametrize(("expr", "names"), [
    ('histogram_quantile(0.99, sum by (le) (rate(hub_forward_latency_seconds_bucket{sink="cc"}[5m])))',
     {"hub_forward_latency_seconds_bucket"}),
    ("histogram_quantile(0.95, sum(rate(hub_ack_latency_seconds_bucket[30m])) by (center, le))",
     {"hub_ack_latency_seconds_bucket"}),
    ('hub_camera_up{site=~"shop-(17|18)", camera!~"cam-[0-9]+ and up"} == 0', {"hub_camera_up"}),
    ('hub_camera_up{site=~"$site"} and on (camera) hub_camera_fps', {"hub_camera_up", "hub_camera_fps"}),
    ("count(hub_camera_up == 0) / count(hub_camera_up)", {"hub_camera_up"}),
    ("rate(hub_alarms_total[5m] offset 1h) - rate(hub_alarms_total[5m])", {"hub_alarms_total"}),
    ("max_over_time(hub_outbox_depth[1h:30s]) > bool 100", {"hub_outbox_depth"}),
    ("sum without (instance) (rate(hub_signals_total[$__rate_interval]))", {"hub_signals_total"}),
    ("hub_camera_last_frame_age_seconds + on (camera) group_left (site) (hub_camera_up == 0)",
     {"hub_camera_last_frame_age_seconds", "hub_camera_up"}),
    ("pingan:cameras_down:ratio > 0.1 and pingan:cameras_down:count >= 3",
     {"pingan:cameras_down:ratio", "pingan:cameras_down:count"}),
    ("time() - process_start_time_seconds", {"process_start_time_seconds"}),
    ('absent(up{job="pingan-hub"}) or vector(0)', {"up"}),
    ("topk(10, hub_device_last_seen_age_seconds) # the longest silent", {"hub_device_last_seen_age_seconds"}),
    ("1e3 * Inf + NaN - 0x1F", set()),
])
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_dashboard_exprs_include_the_panels_of_collapsed_rows() -> None:
    board = {"panels": [
        {"type": "timeseries", "targets": [{"expr": "hub_live_sessions"}]},
        {"type": "row", "collapsed": True, "panels": [
            {"type": "stat", "targets": [{"expr": "hub_live_feeds"}, {"refId": "B"}]}]},
    ]}
    assert dashboard_exprs(board) == ["hub_live_sessions", "hub_live_feeds"]


# -- the dashboard -------------------------------------------------------------------------------------

def test_dashboard_parses() -> None:
    board = dashboard()
    assert board["uid"] == "pingan-hub"
    assert 36 <= board["schemaVersion"] <= 41
    ids = [panel["id"] for panel in dashboard_panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    rows = [panel for panel in dashboard_panels() if panel["type"] == "row"]
    assert any(row["collapsed"] and row["panels"] for row in rows), "the test of nested panels needs one"


def test_every_panel_has_the_prometheus_datasource_and_a_query() -> None:
    for panel in dashboard_panels():
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target.get("datasource", panel["datasource"])["uid"] == "prometheus", panel["title"]
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys(), panel["title"]


def test_dashboard_covers_the_objectives() -> None:
    exprs = "\n".join(dashboard_exprs())
    for needed in ("hub_uptime_ratio", "pingan:uptime_ratio:avg", "hub_camera_up", "hub_device_up",
                   "hub_camera_last_frame_age_seconds", "hub_device_last_seen_age_seconds",
                   "hub_alarms_total", "hub_signals_total", "hub_dead_letters_total",
                   "pingan:forward_latency_seconds:p99_5m",
                   "pingan:ack_latency_seconds:p95_30m", "hub_outbox_depth", "hub_outbox_oldest_age_seconds",
                   "hub_sink_up", "hub_mqtt_connected", "hub_database_up", "hub_pipeline_queue_depth",
                   "hub_pipeline_commit_seconds_bucket", "hub_evidence_bytes", "hub_evidence_limit_bytes",
                   "hub_camera_fps", "hub_camera_decode_errors_total", "hub_camera_stalls_total",
                   "hub_camera_frames_dropped_total", "hub_live_sessions"):
        assert needed in exprs, needed


def test_dashboard_variables_use_the_prometheus_datasource() -> None:
    for variable in dashboard()["templating"]["list"]:
        assert variable["datasource"]["uid"] == "prometheus"
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        assert set(re.findall(r"hub_[a-z_]+", query)) <= EXPOSED


# -- provisioning and docker-compose.yml ------------------------------------------------------------------

def compose_service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = load_yaml(COMPOSE)["services"][name]
    return service


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Host path (relative to the repository) → path in the container, for the bind mounts."""
    found = {}
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if source.startswith("./"):
            found[source.removeprefix("./").rstrip("/")] = target.rstrip("/")
    return found


def test_prometheus_container_gets_the_rules_next_to_its_config() -> None:
    service = compose_service("prometheus")
    mounted = mounts(service)
    config_in_container = PurePosixPath(mounted["config/prometheus.yml"])
    assert f"--config.file={config_in_container}" in service["command"]
    for rule_file in load_yaml(CONFIG / "prometheus.yml")["rule_files"]:
        on_host = (CONFIG / rule_file).relative_to(ROOT).as_posix()
        assert mounted[on_host] == str(config_in_container.parent / rule_file)


def test_grafana_provisioning_matches_compose() -> None:
    service = compose_service("grafana")
    assert re.fullmatch(r"grafana/grafana-oss:\d+\.\d+\.\d+", service["image"]), "pin Grafana's version"
    mounted = mounts(service)
    assert mounted["config/grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboards_in_container = mounted["config/grafana/dashboards"]
    assert any(str(port).split(":")[-1] == "3000" for port in service["ports"])

    providers = load_yaml(GRAFANA / "provisioning" / "dashboards" / "pingan.yml")["providers"]
    assert [provider["options"]["path"].rstrip("/") for provider in providers] == [dashboards_in_container]
    home = service["environment"].get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        assert home == f"{dashboards_in_container}/{DASHBOARD.name}"

    (source,) = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert source["uid"] == "prometheus" and source["type"] == "prometheus"
    # Prometheus lives in the hub container's network namespace, published as hub:9090.
    assert compose_service("prometheus")["network_mode"] == "service:hub"
    assert source["url"] == "http://hub:9090"
    assert "9090:9090" in compose_service("hub")["ports"]

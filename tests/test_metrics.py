"""The fleet's families written as text (hub.metrics.Fleet): what a scrape shows as devices change."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from hub.metrics import CameraHealth, DeviceTable, Fleet


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def fleet_of(table: DeviceTable, cameras: list[CameraHealth] | None = None) -> Fleet:
    fleet = Fleet()
    fleet.devices = lambda: table
    fleet.cameras = lambda: cameras or []
    return fleet


def test_devices_are_written_with_their_site_state_and_age() -> None:
    table = DeviceTable(ids=["a", "b", "c"], site={"a": "s1", "b": "s2"}, heard={"a": 990.0, "b": 1005.0},
                        faulted={"b"}, now=1000.0)
    got = samples(fleet_of(table).render())
    assert got[("hub_device_up", (("device", "a"), ("site", "s1")))] == 1
    assert got[("hub_device_up", (("device", "b"), ("site", "s2")))] == 0
    assert got[("hub_device_up", (("device", "c"), ("site", "")))] == 1
    assert got[("hub_device_last_seen_age_seconds", (("device", "a"),))] == 10.0
    assert got[("hub_device_last_seen_age_seconds", (("device", "b"),))] == 0.0  # a clock step back
    assert ("hub_device_last_seen_age_seconds", (("device", "c"),)) not in got  # never heard


def test_a_later_scrape_shows_a_new_site_a_recovery_and_no_deleted_device() -> None:
    table = DeviceTable(ids=["a", "b"], site={"a": "s1", "b": "s2"}, heard={}, faulted={"b"}, now=0.0)
    fleet = fleet_of(table)
    fleet.render()
    fleet.devices = lambda: DeviceTable(ids=["b"], site={"b": "s9"}, heard={}, faulted=set(), now=0.0)
    got = samples(fleet.render())
    assert got == {("hub_device_up", (("device", "b"), ("site", "s9"))): 1}


def test_label_values_are_escaped() -> None:
    table = DeviceTable(ids=['x"y\\z'], site={'x"y\\z': "s\n1"}, heard={}, faulted=set(), now=0.0)
    got = samples(fleet_of(table).render())
    assert got == {("hub_device_up", (("device", 'x"y\\z'), ("site", "s\n1"))): 1}


def test_cameras_are_written_with_every_family() -> None:
    camera = CameraHealth(camera="cam-1", site="s1", up=True, fps=12.5, reconnects=3, frame_age=0.25,
                          dropped=4, stalls=1, decode_errors=2)
    got = samples(fleet_of(DeviceTable([], {}, {}, set(), 0.0), [camera]).render())
    assert got[("hub_camera_up", (("camera", "cam-1"), ("site", "s1")))] == 1
    assert got[("hub_camera_fps", (("camera", "cam-1"),))] == 12.5
    assert got[("hub_camera_last_frame_age_seconds", (("camera", "cam-1"),))] == 0.25
    assert got[("hub_camera_reconnects_total", (("camera", "cam-1"),))] == 3
    assert got[("hub_camera_frames_dropped_total", (("camera", "cam-1"),))] == 4
    assert got[("hub_camera_stalls_total", (("camera", "cam-1"),))] == 1
    assert got[("hub_camera_decode_errors_total", (("camera", "cam-1"),))] == 2


def test_uptime_lines_follow_the_boards_figures() -> None:
    fleet = fleet_of(DeviceTable([], {}, {}, set(), 0.0))
    board = {"figures": (1, {("device", "a"): {"1h": 1.0, "24h": 0.5}, ("camera", "c"): {"7d": 0.25}})}
    fleet.uptime = lambda: board["figures"]
    fleet.write_uptime()
    assert samples(fleet.render()) == {
        ("hub_uptime_ratio", (("id", "a"), ("kind", "device"), ("window", "1h"))): 1.0,
        ("hub_uptime_ratio", (("id", "a"), ("kind", "device"), ("window", "24h"))): 0.5,
        ("hub_uptime_ratio", (("id", "c"), ("kind", "camera"), ("window", "7d"))): 0.25}
    # The next refresh: one thing's figure moved, another thing is gone.
    board["figures"] = (2, {("device", "a"): {"1h": 0.75, "24h": 0.5}})
    assert samples(fleet.render()) == {
        ("hub_uptime_ratio", (("id", "a"), ("kind", "device"), ("window", "1h"))): 0.75,
        ("hub_uptime_ratio", (("id", "a"), ("kind", "device"), ("window", "24h"))): 0.5}


def test_the_up_samples_are_written_again_when_the_supervisors_version_moves() -> None:
    def table(faulted: set[str], version: int, now: float) -> DeviceTable:
        return DeviceTable(ids=["a"], site={"a": "s"}, heard={"a": 100.0}, faulted=faulted, now=now,
                           version=version)

    fleet = fleet_of(table(set(), 1, 110.0))
    up = ("hub_device_up", (("device", "a"), ("site", "s")))
    age = ("hub_device_last_seen_age_seconds", (("device", "a"),))
    assert samples(fleet.render())[up] == 1
    fleet.devices = lambda: table({"a"}, 1, 120.0)  # same version: the same up samples, fresh ages
    got = samples(fleet.render())
    assert (got[up], got[age]) == (1, 20.0)
    fleet.devices = lambda: table({"a"}, 2, 130.0)
    assert samples(fleet.render())[up] == 0

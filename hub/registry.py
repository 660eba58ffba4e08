"""An in-memory copy of centers, sites, devices and cameras, for lookups on the hot path.

The engine thread owns it; after the API changes one of them, it asks that thread to refresh that one
(`Pipeline.refresh`), so registering 20,000 devices costs 20,000 small updates, not reloads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.model import Camera, Center, Device, Registered, Site


@dataclass(slots=True)
class Registry:
    centers: dict[str, Center] = field(default_factory=dict)
    sites: dict[str, Site] = field(default_factory=dict)
    devices: dict[str, Device] = field(default_factory=dict)
    by_topic: dict[str, Device] = field(default_factory=dict)
    by_account: dict[str, Device] = field(default_factory=dict)
    cameras: dict[str, Camera] = field(default_factory=dict)

    @classmethod
    def build(cls, centers: list[Center], sites: list[Site], devices: list[Device],
              cameras: list[Camera] | None = None) -> Registry:
        return cls(
            cameras={c.id: c for c in cameras or []},
            centers={c.id: c for c in centers},
            sites={s.id: s for s in sites},
            devices={d.id: d for d in devices},
            by_topic={d.topic: d for d in devices if d.topic},
            by_account={d.account.upper(): d for d in devices if d.account},
        )

    def center_for(self, site: Site | None, default: str) -> str:
        """The receiving center of a site: its own where known, else the configured default."""
        if site is not None and site.center_id and site.center_id in self.centers:
            return site.center_id
        return default

    def site_of(self, source_id: str) -> tuple[str | None, bool] | None:
        """(site, test mode) of a registered device or camera; None if it is neither."""
        device = self.devices.get(source_id)
        if device is not None:
            return device.site_id, device.test_mode
        camera = self.cameras.get(source_id)
        if camera is not None:
            return camera.site_id, camera.test_mode
        return None

    def put(self, item: Registered) -> None:
        if isinstance(item, Center):
            self.centers[item.id] = item
        elif isinstance(item, Site):
            self.sites[item.id] = item
        elif isinstance(item, Camera):
            self.cameras[item.id] = item
        else:
            self.drop(Device, item.id)
            self.devices[item.id] = item
            if item.topic:
                self.by_topic[item.topic] = item
            if item.account:
                self.by_account[item.account.upper()] = item

    def drop(self, kind: type[Registered], item_id: str) -> None:
        if kind is Center:
            self.centers.pop(item_id, None)
        elif kind is Site:
            self.sites.pop(item_id, None)
        elif kind is Camera:
            self.cameras.pop(item_id, None)
        else:
            old = self.devices.pop(item_id, None)
            if old is not None and old.topic:
                self.by_topic.pop(old.topic, None)
            if old is not None and old.account:
                self.by_account.pop(old.account.upper(), None)

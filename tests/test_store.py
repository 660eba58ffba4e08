"""The store's batch writes, on SQLite and PostgreSQL: what the pipeline and the forwarder rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hub.engine import Engine
from hub.model import AlarmState, Category, Center, Device, Qualifier, Signal, Site, Source
from hub.registry import Registry
from hub.store import schema as t
from hub.store.db import migrate, open_engine
from hub.store.store import Store
from hub.writes import Writes

T0 = datetime(2026, 11, 29, 3, 0, 0, 123456, tzinfo=UTC)


def make(database_url: str) -> tuple[Store, Engine]:
    db = open_engine(database_url)
    migrate(db)
    engine = Engine(prefix="pingan", default_center="110")
    engine.load(Registry.build(
        [Center(id="110", name="c", kind="110", parent_id=None, ack_deadline_s=60)],
        [Site(id="s", name="Shop", kind="shop", address="1 Rd", lat=32.0, lon=118.0, door_plate="1",
              pole="P1", center_id="110")],
        [Device(id="d", site_id="s", protocol="mqtt", account=None, topic=None, supervision_s=None,
                test_mode=False)]), [], [])
    return Store(db), engine


def test_a_batch_round_trips_with_its_times_exact(database_url: str) -> None:
    store, engine = make(database_url)
    writes = Writes()
    outcome = engine.apply(Signal(source=Source.MQTT, device_id="d", category=Category.FIRE, zone="2",
                                  device_time=T0 - timedelta(seconds=1), received_at=T0, msg_id="m1",
                                  raw=b"\x00raw"), writes)
    store.write(writes)
    assert outcome.alarm is not None
    [loaded] = store.open_alarms()
    assert (loaded.id, loaded.raised_at, loaded.received_at, loaded.change, loaded.encoded) == \
        (outcome.alarm.id, T0 - timedelta(seconds=1), T0, outcome.alarm.change, outcome.alarm.encoded)
    [pending] = store.pending("cc", T0 + timedelta(seconds=1), 10)
    assert (pending.alarm_id, pending.seq, pending.received_at, pending.target) == \
        (outcome.alarm.id, 1, T0, "pingan/v1/cc/110/alarms")
    with store.engine.connect() as conn:
        raw = conn.execute(select(t.signals.c.raw, t.signals.c.device_time)).one()
    assert raw == (b"\x00raw", T0 - timedelta(seconds=1))
    assert store.recent_message_ids(T0 - timedelta(days=1)) == [("d", "m1")]
    store.engine.dispose()


def test_sent_marks_and_delivered_state_ride_with_the_next_batch(database_url: str) -> None:
    store, engine = make(database_url)
    writes = Writes()
    outcome = engine.apply(Signal(source=Source.MQTT, device_id="d", category=Category.BURGLARY,
                                  received_at=T0), writes)
    store.write(writes)
    assert outcome.alarm is not None
    [pending] = store.pending("cc", T0 + timedelta(seconds=1), 10)

    def state() -> tuple[str, bool, datetime | None]:
        with store.engine.connect() as conn:
            alarm = conn.execute(select(t.alarms.c.state)).scalar_one()
            sent = conn.execute(select(t.deliveries.c.pending, t.deliveries.c.sent_at)
                                .order_by(t.deliveries.c.id).limit(1)).one()
        return str(alarm), sent.pending, sent.sent_at

    # The forwarder's confirmation travels with whatever the pipeline commits next.
    writes = Writes(sent=[([pending.id], T0 + timedelta(seconds=1))],
                    delivered=engine.mark_delivered([outcome.alarm.id]))
    engine.apply(Signal(source=Source.MQTT, device_id="d", category=Category.BURGLARY,
                        qualifier=Qualifier.RESTORE, received_at=T0 + timedelta(seconds=2)), writes)
    store.write(writes)
    assert state() == ("delivered", False, T0 + timedelta(seconds=1))
    assert [p.seq for p in store.pending("cc", T0 + timedelta(seconds=3), 10)] == [2]
    # Any later state the engine sets is written as it is.
    outcome.alarm.state = AlarmState.ACKNOWLEDGED
    writes = Writes()
    engine.apply(Signal(source=Source.MQTT, device_id="d", category=Category.BURGLARY,
                        received_at=T0 + timedelta(seconds=4)), writes)
    store.write(writes)
    assert state()[0] == "acknowledged"
    store.engine.dispose()

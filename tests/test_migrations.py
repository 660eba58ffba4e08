"""Alembic migrations build exactly the schema of hub.store.schema.metadata, on SQLite and PostgreSQL,
and running them again changes nothing."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, insert, inspect, select

from hub.store import schema as t
from hub.store.db import alembic_config, migrate, open_engine
from hub.store.schema import metadata
from tests.fixtures.servers import Postgres

_names = count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a new, empty database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/migrations.db"
    else:
        server: Postgres = request.getfixturevalue("postgres")
        url = server.create_database(f"migrations_{os.getpid()}_{next(_names)}")
    e = open_engine(url)
    yield e
    e.dispose()


def differences(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "compare_server_default": True})
        return list(compare_metadata(context, metadata))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head(engine: Engine) -> str:
    heads = ScriptDirectory.from_config(alembic_config(engine)).get_heads()
    assert len(heads) == 1, f"the migrations branch: {heads}"
    return heads[0]


def layout(engine: Engine) -> dict[str, Any]:
    """Tables with their columns, indexes, unique constraints and foreign keys, as the database reports."""
    insp = inspect(engine)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)],
            sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(table)),
            sorted((u["name"], tuple(u["column_names"])) for u in insp.get_unique_constraints(table)),
            sorted((f["name"], tuple(f["constrained_columns"])) for f in insp.get_foreign_keys(table)),
        )
        for table in sorted(insp.get_table_names())
    }


def test_upgrade_head_builds_exactly_the_schema(engine: Engine) -> None:
    assert inspect(engine).get_table_names() == []
    assert differences(engine) != [], "an empty database differs (the comparison can see differences)"
    migrate(engine)
    assert differences(engine) == []
    assert set(inspect(engine).get_table_names()) == set(metadata.tables) | {"alembic_version"}
    assert current_revision(engine) == head(engine)


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    migrate(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(t.centers).values(id="110-city", name="City", kind="110", parent_id=None,
                                              ack_deadline_s=120, created_at=now, updated_at=now))
    before = layout(engine)
    migrate(engine)
    command.upgrade(alembic_config(engine), "head")
    assert layout(engine) == before
    assert differences(engine) == []
    assert current_revision(engine) == head(engine)
    with engine.connect() as conn:
        assert conn.execute(select(t.centers.c.id, t.centers.c.created_at)).all() == [("110-city", now)]


def test_downgrade_to_base_and_up_again(engine: Engine) -> None:
    migrate(engine)
    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert current_revision(engine) is None
    migrate(engine)
    assert differences(engine) == []

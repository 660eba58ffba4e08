"""Alembic environment: the engine comes from the hub (see hub.store.db.migrate)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

from hub.store.schema import metadata

config = context.config


def _engine() -> Engine:
    engine = config.attributes.get("engine")
    if engine is not None:
        assert isinstance(engine, Engine)
        return engine
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no engine given and no sqlalchemy.url set")
    return create_engine(url)


def run_migrations_online() -> None:
    with _engine().connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()

"""Many rows at once, straight to the database driver: the pipeline's hot path.

SQLAlchemy Core spends about 20 µs per row compiling parameters and running type processors; at
thousands of alarms a second that was half of the hub's time. Here each statement is built once per
table from the schema, in the driver's own parameter style, and rows go to `cursor.executemany` as
they are, after the one conversion SQLite needs: datetimes to the text SQLAlchemy itself stores (so
every other query reads them back unchanged). Everything else (reads, the API) stays on Core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Dialect, Table, TypeDecorator

Row = dict[str, Any]
# Bound parameters per INSERT statement (SQLite allows 32,766; PostgreSQL 65,535).
_PARAMS_PER_STATEMENT = 2000


def _sqlite_time(value: object) -> object:
    """`2026-11-29 19:00:00.000000`, UTC, as SQLAlchemy's SQLite DATETIME writes it."""
    if isinstance(value, datetime):
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


class Bulk:
    """INSERT and UPDATE-by-id statements for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.sqlite = dialect.name == "sqlite"
        # sqlite3 takes :name and ? whatever SQLAlchemy's default style; psycopg takes %(name)s and %s.
        self.named: Callable[[str], str] = (lambda c: f":{c}") if self.sqlite else (lambda c: f"%({c})s")
        self.positional = "?" if self.sqlite else "%s"
        self._cache: dict[tuple[str, str, tuple[str, ...]], str] = {}
        self._times: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = {}

    def insert(self, conn: Connection, table: Table, rows: Sequence[Row]) -> None:
        """Many rows per statement: sqlite3 and psycopg give up the interpreter lock around every
        statement they run, and winning it back from the busy MQTT threads can take a switch interval
        each time, so one statement per row made a 500-row batch wait 500 times."""
        columns = tuple(rows[0])
        per_statement = max(1, _PARAMS_PER_STATEMENT // len(columns))
        times = self._time_columns(table, columns)
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            params: list[object] = []
            texts: dict[object, object] = {}  # a batch's rows share a few datetimes: convert each once
            for row in chunk:
                values = [row[c] for c in columns]
                for i in times:
                    value = values[i]
                    text = texts.get(value)
                    if text is None:
                        text = texts[value] = _sqlite_time(value)
                    values[i] = text
                params.extend(values)
            conn.exec_driver_sql(self._values_sql(table, columns, len(chunk)), tuple(params))

    def _time_columns(self, table: Table, columns: tuple[str, ...]) -> tuple[int, ...]:
        """Positions of the datetime columns that SQLite needs as text (none for PostgreSQL)."""
        key = (table.name, columns)
        found = self._times.get(key)
        if found is None:
            found = tuple(i for i, c in enumerate(columns) if self.sqlite and _is_time(table, c))
            self._times[key] = found
        return found

    def where_in(self, conn: Connection, head: str, params: tuple[object, ...], ids: Sequence[object]
                 ) -> None:
        """``head`` (an UPDATE with ``params`` for its own markers) ``WHERE id IN (…ids)``. Chunks are
        padded to a power of two by repeating their last id, so a handful of statements serve every
        batch size and the driver's statement cache keeps them prepared."""
        for start in range(0, len(ids), _PARAMS_PER_STATEMENT):
            chunk = list(ids[start:start + _PARAMS_PER_STATEMENT])
            size = 1 << (len(chunk) - 1).bit_length()
            chunk += [chunk[-1]] * (size - len(chunk))
            key = ("in", head, (str(size),))
            sql = self._cache.get(key)
            if sql is None:
                sql = f"{head} WHERE id IN ({', '.join([self.positional] * size)})"
                self._cache[key] = sql
            conn.exec_driver_sql(sql, (*params, *chunk))

    def bind_time(self, value: datetime) -> object:
        """A datetime as a driver-level parameter."""
        return _sqlite_time(value) if self.sqlite else value

    def read_time(self, value: object) -> datetime:
        """A datetime column as the driver returns it → an aware UTC datetime (as UTCDateTime reads)."""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def _values_sql(self, table: Table, columns: tuple[str, ...], rows: int) -> str:
        key = ("values", table.name, (*columns, str(rows)))
        sql = self._cache.get(key)
        if sql is None:
            one = "(" + ", ".join([self.positional] * len(columns)) + ")"
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {', '.join([one] * rows)}"
            self._cache[key] = sql
        return sql

    def update(self, conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[Row]) -> None:
        """UPDATE table SET columns… WHERE id = row["id"], for each row."""
        sql = self._update_sql(table, columns)
        conn.exec_driver_sql(sql, self._convert(table, (*columns, "id"), rows))

    def _update_sql(self, table: Table, columns: tuple[str, ...]) -> str:
        key = ("update", table.name, columns)
        sql = self._cache.get(key)
        if sql is None:
            sets = ", ".join(f"{c} = {self.named(c)}" for c in columns)
            sql = f"UPDATE {table.name} SET {sets} WHERE id = {self.named('id')}"
            self._cache[key] = sql
        return sql

    def _convert(self, table: Table, columns: tuple[str, ...], rows: Sequence[Row]) -> Sequence[Row]:
        if not self.sqlite:
            return rows
        times = [c for c in columns if _is_time(table, c)]
        if not times:
            return rows
        out = []
        for row in rows:
            row = dict(row)
            for column in times:
                row[column] = _sqlite_time(row[column])
            out.append(row)
        return out


def _is_time(table: Table, column: str) -> bool:
    kind = table.c[column].type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    return isinstance(kind, DateTime)

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
        # sqlite3 takes :name whatever SQLAlchemy's default style; psycopg takes %(name)s.
        self.named: Callable[[str], str] = (lambda c: f":{c}") if self.sqlite else (lambda c: f"%({c})s")
        self._cache: dict[tuple[str, str, tuple[str, ...]], str] = {}

    def insert(self, conn: Connection, table: Table, rows: Sequence[Row]) -> None:
        columns = tuple(rows[0])
        sql = self._sql("insert", table, columns)
        conn.exec_driver_sql(sql, self._convert(table, columns, rows))

    def update(self, conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[Row],
               keep: dict[str, tuple[str, str]] | None = None) -> None:
        """UPDATE table SET columns… WHERE id = row["id"], for each row. `keep`: column → (stored,
        given): where the stored value is `stored` and the row brings `given`, the stored one stays."""
        sql = self._sql("update", table, columns, keep or {})
        conn.exec_driver_sql(sql, self._convert(table, (*columns, "id"), rows))

    def _sql(self, kind: str, table: Table, columns: tuple[str, ...],
             keep: dict[str, tuple[str, str]] | None = None) -> str:
        key = (kind, table.name, columns)
        sql = self._cache.get(key)
        if sql is None:
            if kind == "insert":
                sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
                       f"VALUES ({', '.join(self.named(c) for c in columns)})")
            else:
                sets = ", ".join(self._set(c, (keep or {}).get(c)) for c in columns)
                sql = f"UPDATE {table.name} SET {sets} WHERE id = {self.named('id')}"
            self._cache[key] = sql
        return sql

    def _set(self, column: str, keep: tuple[str, str] | None) -> str:
        if keep is None:
            return f"{column} = {self.named(column)}"
        stored, given = keep
        return (f"{column} = CASE WHEN {column} = '{stored}' AND {self.named(column)} = '{given}' "
                f"THEN {column} ELSE {self.named(column)} END")

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

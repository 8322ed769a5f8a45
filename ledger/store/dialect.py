"""The small differences between SQLite and PostgreSQL SQL that the ledger's own tables need."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Cursor", "Dialect", "InList", "SqlCursor"]


class InList(tuple[Any, ...]):
    """A parameter that fills one ``{in}`` marker: ``IN (?, ...)`` on SQLite, ``= ANY(?)`` on PostgreSQL.

    PostgreSQL then sees one statement text whatever the list's length, so it is prepared once.
    """


class Cursor(Protocol):
    """The DB-API cursor subset used by the ledger (sqlite3 via eventsourcing, or psycopg)."""

    def execute(self, query: Any, params: Any = ..., /) -> Any: ...

    def executemany(self, query: Any, params_seq: Any, /) -> Any: ...

    def fetchall(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def copy(self, statement: Any) -> Any: ...

    @property
    def rowcount(self) -> int: ...


@dataclass(frozen=True)
class Dialect:
    """How to spell placeholders, table names and column types on one backend."""

    name: str  # "sqlite" | "postgres"
    schema: str | None = None

    @property
    def is_postgres(self) -> bool:
        """True on PostgreSQL."""
        return self.name == "postgres"

    def table(self, name: str) -> str:
        """Qualified table name (PostgreSQL schema-qualified, quoted)."""
        if self.is_postgres and self.schema:
            return f'"{self.schema}"."{name}"'
        return name

    def sql(self, text: str) -> str:
        """Rewrite ``?`` placeholders and ``{t:name}`` table references for this backend."""
        out = text
        while "{t:" in out:
            start = out.index("{t:")
            end = out.index("}", start)
            out = out[:start] + self.table(out[start + 3 : end]) + out[end + 1 :]
        if self.is_postgres:
            out = out.replace("?", "%s")
        return out

    @property
    def blob(self) -> str:
        """The binary column type."""
        return "BYTEA" if self.is_postgres else "BLOB"

    @property
    def bigint(self) -> str:
        """The 64-bit integer column type."""
        return "BIGINT" if self.is_postgres else "INTEGER"


class SqlCursor:
    """A cursor plus its dialect: ``execute`` takes SQLite-style SQL with ``{t:table}`` names."""

    def __init__(self, cursor: Cursor, dialect: Dialect) -> None:
        self.raw = cursor
        self.dialect = dialect
        # Set by LedgerStore.write(lock=True): the number of this locked write transaction.
        self.generation: int | None = None

    def execute(self, text: str, params: Sequence[Any] = ()) -> SqlCursor:
        """Run one statement; an :class:`InList` parameter fills the next ``{in}`` marker."""
        if any(isinstance(p, InList) for p in params):
            text, params = self._expand(text, params)
        self.raw.execute(self.dialect.sql(text), tuple(params))
        return self

    def _expand(self, text: str, params: Sequence[Any]) -> tuple[str, list[Any]]:
        out: list[Any] = []
        for p in params:
            if not isinstance(p, InList):
                out.append(p)
                continue
            if self.dialect.is_postgres:
                text = text.replace("{in}", "= ANY(?)", 1)
                out.append(list(p))
            elif p:
                text = text.replace("{in}", "IN (" + ",".join("?" * len(p)) + ")", 1)
                out.extend(p)
            else:
                text = text.replace("{in}", "IN (NULL)", 1)
        return text, out

    def executemany(self, text: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""
        rows = [tuple(r) for r in rows]
        if rows:
            self.raw.executemany(self.dialect.sql(text), rows)

    def has_table(self, name: str) -> bool:
        """True if the ledger's table ``name`` exists."""
        if self.dialect.is_postgres:
            found = self.execute("SELECT to_regclass(?) AS t", (self.dialect.table(name),)).scalar()
            return found is not None
        query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?"
        return self.execute(query, (name,)).one() is not None

    def insert_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        pg_types: Sequence[str] | None = None,
    ) -> None:
        """Bulk insert: ``COPY`` on PostgreSQL (several times faster than INSERTs), else executemany.

        With ``pg_types`` (one PostgreSQL type name per column) the COPY is binary: no text escaping of
        large ``bytea`` values on either side.
        """
        if not rows:
            return
        if self.dialect.is_postgres:
            cols = ", ".join(columns)
            target = f"COPY {self.dialect.table(table)} ({cols}) FROM STDIN"
            with self.raw.copy(target + (" (FORMAT BINARY)" if pg_types else "")) as copy:
                if pg_types:
                    copy.set_types(list(pg_types))
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join("?" * len(columns))
        self.executemany(f"INSERT INTO {{t:{table}}} ({', '.join(columns)}) VALUES ({marks})", rows)

    @property
    def rowcount(self) -> int:
        """Rows changed by the last statement."""
        # eventsourcing wraps sqlite3 cursors in an SQLiteCursor that does not expose rowcount.
        raw = getattr(self.raw, "sqlite_cursor", self.raw)
        return int(raw.rowcount)

    def all(self) -> list[dict[str, Any]]:
        """Fetch every row as a dict."""
        return [dict(r) for r in self.raw.fetchall()]

    def one(self) -> dict[str, Any] | None:
        """Fetch one row as a dict, or None."""
        row = self.raw.fetchone()
        return None if row is None else dict(row)

    def scalar(self) -> Any:
        """Fetch the first column of the first row, or None."""
        row = self.raw.fetchone()
        if row is None:
            return None
        return next(iter(dict(row).values()))

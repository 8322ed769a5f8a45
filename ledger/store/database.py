"""The ledger's store: eventsourcing's application recorder plus the ledger tables, one transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlparse

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from ledger.errors import LedgerError
from ledger.events import LedgerEvent
from ledger.store.dialect import Dialect, SqlCursor
from ledger.store.tables import create_statements

__all__ = ["ConfigurationError", "LedgerApplication", "LedgerStore", "persistence_env"]


class ConfigurationError(LedgerError):
    """The ledger is configured in a way it cannot run with."""


class LedgerApplication(Application[Any]):
    """The eventsourcing application that owns the event table (``Ledger``)."""

    name = "Ledger"


def persistence_env(database_url: str, *, pool_size: int = 2) -> tuple[dict[str, str], Dialect]:
    """Translate ``LEDGER_DATABASE_URL`` into eventsourcing's environment and our SQL dialect.

    Never falls back to eventsourcing's in-memory store: an unknown scheme is an error.
    """
    url = urlparse(database_url)
    if url.scheme == "sqlite":
        raw = unquote(database_url[len("sqlite://") :])
        path = raw[1:] if raw.startswith("/./") else raw
        if not path or path == "/":
            raise ConfigurationError("sqlite URL needs a file path, e.g. sqlite:///./var/ledger.db")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
        }
        return env, Dialect("sqlite")
    if url.scheme in {"postgresql", "postgres"}:
        query = parse_qs(url.query)
        schema = query.get("schema", ["public"])[0]
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": (url.path or "/").lstrip("/") or "postgres",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or ""),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_SCHEMA": schema,
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_OVERFLOW": str(pool_size * 2),
            "POSTGRES_LOCK_TIMEOUT": "30",
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "120",
            "POSTGRES_PRE_PING": "y",
        }
        return env, Dialect("postgres", schema)
    raise ConfigurationError(
        "LEDGER_DATABASE_URL must start with sqlite:/// or postgresql:// (the ledger never runs on "
        "an in-memory store)"
    )


# Any constant works; it only has to be the same for every process of this project.
_DDL_LOCK_KEY = 0x5052_4956_4C45_4447  # "PRIVLEDG"


@contextlib.contextmanager
def _pg_ddl_lock(env: dict[str, str]) -> Iterator[None]:
    """Serialise schema creation across processes (two consumers starting at once race on DDL)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        dbname=env["POSTGRES_DBNAME"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        autocommit=True,
    ) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_DDL_LOCK_KEY,))
        try:
            if env["POSTGRES_SCHEMA"] != "public":
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(env["POSTGRES_SCHEMA"]))
                )
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_DDL_LOCK_KEY,))


class LedgerStore:
    """Opens the event store and the ledger tables, and runs write transactions over both."""

    def __init__(self, database_url: str, *, pool_size: int = 2) -> None:
        env, self.dialect = persistence_env(database_url, pool_size=pool_size)
        self._env = env
        self._notification_sequence: str | None = None
        with self.ddl_lock():
            self.app = LedgerApplication(env=env)
            # Typed loosely: the SQLite and PostgreSQL recorders share no typed base with a datastore.
            self.recorder: Any = cast(Any, self.app.recorder)
            self.datastore: Any = self.recorder.datastore
            with self.write(lock=False) as cur:
                for statement in create_statements(self.dialect):
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO {t:ledger_meta} (k, v) VALUES ('writer', '0') ON CONFLICT DO NOTHING"
                )

    @contextlib.contextmanager
    def ddl_lock(self) -> Iterator[None]:
        """Hold the cross-process schema lock (PostgreSQL advisory lock; SQLite serialises by itself)."""
        if not self.dialect.is_postgres:
            yield
            return
        with _pg_ddl_lock(self._env):
            yield

    @property
    def events_table(self) -> str:
        """The eventsourcing event table, qualified."""
        if self.dialect.is_postgres:
            return self.dialect.table(self.recorder.events_table_name)
        return str(self.recorder.events_table_name)

    @property
    def notification_column(self) -> str:
        """The column of the event table that holds the notification id."""
        return "notification_id" if self.dialect.is_postgres else "rowid"

    @contextlib.contextmanager
    def write(self, *, lock: bool = True) -> Iterator[SqlCursor]:
        """One write transaction; with ``lock`` it first takes the single-writer lock.

        The lock serializes appends so the chain's ``seq`` is gap-free and commit order is append order:
        on PostgreSQL eventsourcing's EXCLUSIVE lock on the event table, on SQLite the RESERVED lock
        taken by a first write (a deferred BEGIN that read first could deadlock two writers).

        Every locked transaction also counts itself (``cur.generation``): a writer that finds the count
        one above its own last commit knows nobody else wrote in between, so what it remembers of the
        ledger's state (keys, stream versions) is still true.
        """
        with self.datastore.transaction(commit=True) as raw:
            cur = SqlCursor(raw, self.dialect)
            if lock:
                if self.dialect.is_postgres:
                    self.recorder._lock_table(raw)
                cur.execute(
                    "UPDATE {t:ledger_meta} SET v = CAST(CAST(v AS BIGINT) + 1 AS TEXT) WHERE k = 'writer'"
                )
                cur.generation = int(cur.execute("SELECT v FROM {t:ledger_meta} WHERE k = 'writer'").scalar())
            if not self.dialect.is_postgres:
                # Destroyed keys must not linger in free pages of the file (crypto-shredding).
                cur.execute("PRAGMA secure_delete = ON")
            yield cur

    @contextlib.contextmanager
    def read(self) -> Iterator[SqlCursor]:
        """A read-only transaction (a consistent snapshot on PostgreSQL)."""
        with self.datastore.transaction(commit=False) as raw:
            yield SqlCursor(raw, self.dialect)

    def purge_destroyed_keys(self) -> None:
        """Make destroyed key material unrecoverable from the database files after a shred.

        PostgreSQL keeps the old row version until VACUUM; SQLite keeps old pages in the WAL until a
        checkpoint (freed pages are zeroed by ``secure_delete``). Backups are the operator's part.
        """
        if self.dialect.is_postgres:
            with self.datastore.get_connection() as conn:
                conn.execute(f"VACUUM {self.dialect.table('ledger_keys')}")
        else:
            conn = self.datastore.pool.get_connection(is_writer=True)
            try:
                conn._sqlite_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                self.datastore.pool.put_connection(conn)

    def insert_events(self, cur: SqlCursor, events: Sequence[LedgerEvent]) -> list[int]:
        """Append stored events through eventsourcing's recorder; returns their notification ids."""
        stored: list[StoredEvent] = [self.app.mapper.to_stored_event(e) for e in events]
        if not stored:
            return []
        if self.dialect.is_postgres:
            return self._insert_pg(cur, stored)
        else:
            ids = self.recorder._insert_events(cur.raw, stored)
        return [int(i) for i in ids]

    def _insert_pg(self, cur: SqlCursor, stored: Sequence[StoredEvent]) -> list[int]:
        # eventsourcing's own insert sends one array of a composite type, dumped as text element by
        # element. Here: the notification ids are drawn from the table's own sequence under the same
        # EXCLUSIVE lock (so they are gap-free within the batch and in commit order, as the library's
        # readers expect), then the rows go in with one COPY. Same table, same lock, same NOTIFY.
        raw: Any = cur.raw
        self.recorder._lock_table(raw)
        self.recorder._notify_channel(raw)
        if self._notification_sequence is None:
            self._notification_sequence = cur.execute(
                "SELECT pg_get_serial_sequence(?, 'notification_id') AS s", (self.events_table,)
            ).scalar()
        ids = [
            int(r["id"])
            for r in cur.execute(
                "SELECT nextval(?::regclass) AS id FROM generate_series(1, ?) ORDER BY 1",
                (self._notification_sequence, len(stored)),
            ).all()
        ]
        if len(ids) != len(stored):
            raise LedgerError(f"expected {len(stored)} notification ids, got {len(ids)}")
        cur.insert_rows(
            self.recorder.events_table_name,
            ("originator_id", "originator_version", "topic", "state", "notification_id"),
            [
                (s.originator_id, s.originator_version, s.topic, s.state, i)
                for s, i in zip(stored, ids, strict=True)
            ],
            pg_types=("uuid", "int8", "text", "bytea", "int8"),
        )
        return ids

    def to_event(self, topic: str, state: bytes, originator_id: Any, version: int) -> LedgerEvent:
        """Rebuild a stored event from its row."""
        ev = self.app.mapper.to_domain_event(
            StoredEvent(
                originator_id=originator_id,
                originator_version=version,
                topic=topic,
                state=bytes(state),
            )
        )
        assert isinstance(ev, LedgerEvent)
        return ev

    def close(self) -> None:
        """Close the pools."""
        self.app.close()

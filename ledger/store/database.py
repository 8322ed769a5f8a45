"""The ledger's store: eventsourcing's application recorder plus the ledger tables, one transaction."""

from __future__ import annotations

import contextlib
import hmac
import logging
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, quote, unquote, urlparse

from eventsourcing.application import Application
from eventsourcing.persistence import OperationalError, StoredEvent
from eventsourcing.sqlite import SQLiteCursor, SQLiteTransaction

from ledger.errors import LedgerError
from ledger.store.crypto import MasterKeyError
from ledger.store.dialect import Dialect, SqlCursor
from ledger.store.files import create_private_file, make_private_dir, read_only_location
from ledger.store.tables import KEY_CHECK_META, create_statements

if TYPE_CHECKING:
    # Its ~40 stored event classes take longer to create than the rest of the store to import; only
    # the append path (which imports them) and ``to_event`` use them.
    from ledger.events import LedgerEvent

__all__ = [
    "ConfigurationError",
    "DatabaseUnavailableError",
    "LedgerApplication",
    "LedgerStore",
    "NoLedgerError",
    "persistence_env",
    "sqlite_path",
]


log = logging.getLogger(__name__)

# A write transaction on SQLite waits for the write lock in SQLite's busy handler (SQLITE_LOCK_TIMEOUT,
# 30 s) and then tries again, this many times in all, before it gives up.
_SQLITE_LOCK_ATTEMPTS = 10


class ConfigurationError(LedgerError):
    """The ledger is configured in a way it cannot run with."""


class NoLedgerError(ConfigurationError):
    """A command that only reads was pointed at a place that holds no ledger."""


class LedgerApplication(Application[Any]):
    """The eventsourcing application that owns the event table (``Ledger``)."""

    name = "Ledger"


def _sqlite_read_only_uri(path: Path) -> str:
    """A read-only ``file:`` URI for an existing SQLite ledger: it writes nothing and creates nothing.

    ``mode=ro`` opens the file read-only. A WAL database is read through its ``-wal`` and ``-shm``
    files; when they are absent SQLite would create them, which a read-only folder or file forbids:
    there the file is opened ``immutable`` (no WAL, no locks), safe because no writer can run in such
    a place without those files.
    """
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    if not all(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-shm")) and read_only_location(path):
        uri += "&immutable=1"
    return uri


def persistence_env(
    database_url: str, *, pool_size: int = 2, read_only: bool = False
) -> tuple[dict[str, str], Dialect]:
    """Translate ``LEDGER_DATABASE_URL`` into eventsourcing's environment and our SQL dialect.

    Never falls back to eventsourcing's in-memory store: an unknown scheme is an error. A new SQLite
    file is created mode 0600 (a new folder for it 0700) whatever the umask; ``read_only`` creates
    nothing, and eventsourcing then creates no table.
    """
    url = urlparse(database_url)
    if url.scheme == "sqlite":
        path = sqlite_path(database_url)
        if read_only:
            dbname = _sqlite_read_only_uri(Path(path))
        else:
            if Path(path).exists() and read_only_location(Path(path)):
                raise ConfigurationError(
                    f"the ledger at {path} is read-only (the file or its folder is not writable): only "
                    "the commands that only read (verify, proof, health, dead-letters, query of any view "
                    "but inventory) can use it"
                )
            make_private_dir(Path(path).parent)
            # An empty file is an empty SQLite database; SQLite gives its -wal and -shm the same mode.
            create_private_file(Path(path))
            dbname = path
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": dbname,
            "SQLITE_LOCK_TIMEOUT": "30",
        }
        if read_only:
            env["CREATE_TABLE"] = "n"
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
        if read_only:
            env["CREATE_TABLE"] = "n"
        return env, Dialect("postgres", schema)
    raise ConfigurationError(
        "LEDGER_DATABASE_URL must start with sqlite:/// or postgresql:// (the ledger never runs on "
        "an in-memory store)"
    )


def sqlite_path(database_url: str) -> str:
    """The database file of a ``sqlite:`` URL, as SQLAlchemy reads it.

    ``sqlite:///var/ledger.db`` (three slashes) is the relative path ``var/ledger.db``;
    ``sqlite:////srv/ledger.db`` (four) the absolute ``/srv/ledger.db``. In-memory forms
    (``sqlite://``, ``sqlite:///:memory:``, ``file::memory:``, ``mode=memory``) and other SQLite URI
    forms are refused: the ledger never runs on an in-memory store.
    """
    if not database_url.startswith("sqlite:///"):
        raise ConfigurationError(
            "a sqlite URL is sqlite:///relative/path or sqlite:////absolute/path (sqlite:// alone "
            "would be an in-memory store, which the ledger refuses)"
        )
    path = unquote(database_url[len("sqlite:///") :])
    if not path.strip("/"):
        raise ConfigurationError("sqlite URL needs a file path, e.g. sqlite:///./var/ledger.db")
    if ":memory:" in path or "mode=memory" in path or path.startswith("file:") or "?" in path:
        raise ConfigurationError(
            "sqlite URL must name a database file: the ledger never runs on an in-memory store, and "
            "SQLite URI forms (file:..., ?mode=...) are not accepted"
        )
    return path


class _ImmediateTransaction(SQLiteTransaction):
    """eventsourcing's SQLite transaction, begun with ``BEGIN IMMEDIATE`` instead of ``BEGIN``.

    A deferred transaction that reads first and writes later cannot wait for the write lock: in WAL
    mode, once another process has committed since its first read, SQLite fails the write at once
    with ``database is locked`` (SQLITE_BUSY_SNAPSHOT) instead of calling the busy handler. Taking the
    write lock at ``BEGIN`` makes every writer wait its turn (busy timeout, then retries).
    """

    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        for attempt in range(1, _SQLITE_LOCK_ATTEMPTS + 1):
            try:
                cursor.execute("BEGIN IMMEDIATE")
                return cursor
            except sqlite3.OperationalError as exc:
                busy = getattr(exc, "sqlite_errorcode", 0) & 0xFF in (
                    sqlite3.SQLITE_BUSY,
                    sqlite3.SQLITE_LOCKED,
                )
                if not busy or attempt == _SQLITE_LOCK_ATTEMPTS:
                    raise OperationalError(exc) from exc
                log.warning("SQLite write lock still held by another process; waiting (attempt %d)", attempt)
        raise AssertionError("unreachable")


def _location(database_url: str) -> str:
    """Where the ledger lives, for messages: the SQLite file, or server, database and schema."""
    url = urlparse(database_url)
    if url.scheme == "sqlite":
        return sqlite_path(database_url)
    schema = parse_qs(url.query).get("schema", ["public"])[0]
    dbname = (url.path or "/").lstrip("/") or "postgres"
    return f"postgresql://{url.hostname or '127.0.0.1'}:{url.port or 5432}/{dbname} (schema {schema})"


class DatabaseUnavailableError(ConfigurationError):
    """The PostgreSQL server of ``LEDGER_DATABASE_URL`` cannot be reached or refuses the login."""


_PG_CONNECT_TIMEOUT_SECONDS = 10


def _check_pg_reachable(env: dict[str, str]) -> None:
    """Connect once to fail fast and plainly: host and port in the message, never the password.

    Without this an unreachable server surfaces as eventsourcing's pool timeout after 30 s.
    """
    import psycopg

    host, port, password = env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_PASSWORD"]
    try:
        with psycopg.connect(
            host=host,
            port=int(port),
            dbname=env["POSTGRES_DBNAME"],
            user=env["POSTGRES_USER"],
            password=password,
            connect_timeout=_PG_CONNECT_TIMEOUT_SECONDS,
        ):
            pass
    except psycopg.Error as exc:
        # libpq's first line says what failed (refused, timeout, authentication, no such database).
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if password:
            reason = reason.replace(password, "***")
        raise DatabaseUnavailableError(
            f"cannot connect to PostgreSQL at {host}:{port} (database {env['POSTGRES_DBNAME']}, "
            f"user {env['POSTGRES_USER'] or '(none)'}): {reason}"
        ) from None


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
    """Opens the event store and the ledger tables, and runs write transactions over both.

    ``read_only`` opens an existing ledger and creates nothing (no folder, file, schema or table;
    SQLite opens the file read-only); writes are refused, and a place without a ledger raises
    :class:`NoLedgerError`.
    """

    def __init__(self, database_url: str, *, pool_size: int = 2, read_only: bool = False) -> None:
        self.read_only = read_only
        # The master key's check value this process opened the ledger with (set by Ledger.open): every
        # locked write verifies it is still the ledger's, so a key rotated meanwhile writes nothing.
        self.key_check: str | None = None
        self.location = _location(database_url)
        if read_only and urlparse(database_url).scheme == "sqlite" and not Path(self.location).is_file():
            raise self._no_ledger()
        env, self.dialect = persistence_env(database_url, pool_size=pool_size, read_only=read_only)
        if self.dialect.is_postgres:
            _check_pg_reachable(env)
        self._env = env
        self._notification_sequence: str | None = None
        # Typed loosely: the SQLite and PostgreSQL recorders share no typed base with a datastore.
        self.recorder: Any
        self.datastore: Any
        if read_only:
            self.app = LedgerApplication(env=env)
            self.recorder = cast(Any, self.app.recorder)
            self.datastore = self.recorder.datastore
            if not self.has_table("ledger_meta"):
                self.close()
                raise self._no_ledger()
            return
        with self.ddl_lock():
            self.app = LedgerApplication(env=env)
            self.recorder = cast(Any, self.app.recorder)
            self.datastore = self.recorder.datastore
            with self.write(lock=False) as cur:
                for statement in create_statements(self.dialect):
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO {t:ledger_meta} (k, v) VALUES ('writer', '0') ON CONFLICT DO NOTHING"
                )

    def _no_ledger(self) -> NoLedgerError:
        return NoLedgerError(
            f"there is no ledger at {self.location}; create one with `privacy-ledger ingest FILE` "
            "(or `make run` for the sample data)"
        )

    def has_table(self, name: str) -> bool:
        """True if the ledger's table ``name`` exists."""
        with self.read() as cur:
            return cur.has_table(name)

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
        on PostgreSQL eventsourcing's EXCLUSIVE lock on the event table, on SQLite the write lock.
        On SQLite every write transaction (locked or not) takes the write lock at ``BEGIN IMMEDIATE``,
        waiting for another process's transaction to end (see :class:`_ImmediateTransaction`).

        Every locked transaction also counts itself (``cur.generation``): a writer that finds the count
        one above its own last commit knows nobody else wrote in between, so what it remembers of the
        ledger's state (keys, stream versions) is still true.
        """
        if self.read_only:
            raise ConfigurationError(f"the ledger at {self.location} was opened read-only")
        with self._begin_write() as raw:
            cur = SqlCursor(raw, self.dialect)
            if lock:
                if self.dialect.is_postgres:
                    self.recorder._lock_table(raw)
                cur.execute(
                    "UPDATE {t:ledger_meta} SET v = CAST(CAST(v AS BIGINT) + 1 AS TEXT) WHERE k = 'writer'"
                )
                meta = {
                    str(r["k"]): str(r["v"])
                    for r in cur.execute(
                        "SELECT k, v FROM {t:ledger_meta} WHERE k IN ('writer', ?)", (KEY_CHECK_META,)
                    ).all()
                }
                cur.generation = int(meta["writer"])
                if self.key_check is not None and not hmac.compare_digest(
                    meta.get(KEY_CHECK_META, ""), self.key_check
                ):
                    raise MasterKeyError(
                        "the master key no longer matches this ledger (was it rotated?): restart with "
                        "the ledger's current key in LEDGER_MASTER_KEY_FILE"
                    )
            if not self.dialect.is_postgres:
                # Destroyed keys must not linger in free pages of the file (crypto-shredding).
                cur.execute("PRAGMA secure_delete = ON")
            yield cur

    @contextlib.contextmanager
    def _begin_write(self) -> Iterator[Any]:
        if self.dialect.is_postgres:
            with self.datastore.transaction(commit=True) as raw:
                yield raw
            return
        with (
            self.datastore.get_connection(commit=True) as conn,
            _ImmediateTransaction(conn, commit=True) as curs,
            curs as raw,
        ):
            yield raw

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

    @property
    def plain_state(self) -> bool:
        """True if a stored event's state is the transcoder's JSON as it is (no compressor, no cipher):
        the append path may then write that JSON itself (``insert_stored``) rather than through the
        mapper."""
        mapper = self.app.mapper
        return mapper.compressor is None and mapper.cipher is None

    def insert_events(self, cur: SqlCursor, events: Sequence[LedgerEvent]) -> list[int]:
        """Append stored events through eventsourcing's recorder; returns their notification ids."""
        return self.insert_stored(cur, [self.app.mapper.to_stored_event(e) for e in events])

    def insert_stored(self, cur: SqlCursor, stored: Sequence[StoredEvent]) -> list[int]:
        """Append events already in their stored form; returns their notification ids."""
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
        from ledger.events import LedgerEvent

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

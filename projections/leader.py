"""One writer of the views among several ``project`` processes: a PostgreSQL advisory-lock leader.

Every ``project`` process of a ledger (one PostgreSQL schema) tries a *session* advisory lock whose key
is derived from the schema, on a connection of its own. The one that gets it leads: it applies events to
the views, expires parked events and signs checkpoints. The others stand by, trying the lock again every
``LEDGER_PROJECT_STANDBY_POLL_SECONDS``. PostgreSQL releases the lock when the leader's connection
closes, so a leader killed even by ``kill -9`` hands over within one poll.

Holding the lock is not enough to write: a leader cut off from its lock connection (a network partition,
``pg_terminate_backend``) still has its pool and could go on writing after another process took over.
So every batch is fenced inside its own transaction (:meth:`Leadership.fence`): the lock must still be
held by this process's lock connection (``pg_locks``), and the leader's term (``epoch`` in
``projection_leader``, bumped by every new leader before its first batch, read ``FOR SHARE`` by every
batch) must still be this process's. A new leader's bump waits for a batch of the old one in flight and
every later batch of the old one sees the new epoch and rolls back: the old leader's writes all come
before the new leader's.

SQLite (the embedded default) has no leader: a ``project`` process there always applies (the file's
write lock serialises writers, and the runner re-reads positions under it).
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from typing import Any

from eventsourcing.persistence import PersistenceError

from ledger.store.database import LedgerStore
from ledger.store.dialect import SqlCursor
from projections.base import ProjectionError

__all__ = ["LOCK_CLASS", "Leadership", "LeadershipLost", "lock_key"]

log = logging.getLogger(__name__)

# The first half of the two-int advisory-lock key: "project" leadership of some ledger ("PLPR").
LOCK_CLASS = 0x504C_5052


class LeadershipLost(ProjectionError):
    """This process no longer leads: its batch was rolled back and it stands by again."""


def lock_key(schema: str) -> int:
    """The second half of the lock key: the ledger's schema, hashed to a non-negative int4.

    Advisory locks are per database, so a ledger is named by its schema within its database.
    """
    digest = hashlib.sha256(f"privacy-ledger/project/{schema}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFF_FFFF


class Leadership:
    """The leader lock of one ledger's ``project`` processes (PostgreSQL only)."""

    def __init__(self, store: LedgerStore) -> None:
        if not store.dialect.is_postgres:
            raise ValueError("leadership is a PostgreSQL lock; on SQLite every project process applies")
        self.store = store
        self.key = (LOCK_CLASS, lock_key(store.dialect.schema or "public"))
        self.epoch: int | None = None  # this process's term while it leads
        self._conn: Any = None  # the dedicated lock connection (autocommit), kept while standing by too
        self.backend_pid: int | None = None  # the lock connection's server process
        with store.ddl_lock(), store.write(lock=False) as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS {t:projection_leader} (name TEXT PRIMARY KEY, "
                "epoch BIGINT NOT NULL, holder TEXT NOT NULL, since TIMESTAMPTZ)"
            )
            cur.execute(
                "INSERT INTO {t:projection_leader} (name, epoch, holder) VALUES ('project', 0, '') "
                "ON CONFLICT DO NOTHING"
            )

    @property
    def leading(self) -> bool:
        """True while this process holds the lock and its term."""
        return self.epoch is not None

    def _connect(self) -> Any:
        import psycopg
        from psycopg.rows import tuple_row

        if self._conn is None or self._conn.closed:
            ds = self.store.datastore
            kwargs = dict(ds.pool.kwargs or {})
            kwargs.update(autocommit=True, row_factory=tuple_row)
            self._conn = psycopg.connect(ds.pool.conninfo, **kwargs)
            self.backend_pid = int(self._conn.execute("SELECT pg_backend_pid()").fetchone()[0])
        return self._conn

    def try_acquire(self) -> bool:
        """Lead if nobody else does (and start a new term); False while another process leads.

        A database that does not answer counts as "not leading" (the next poll tries again).
        """
        if self.leading:
            return True
        import psycopg
        from psycopg_pool import PoolTimeout

        try:
            conn = self._connect()
            got = bool(conn.execute("SELECT pg_try_advisory_lock(%s, %s)", self.key).fetchone()[0])
        except psycopg.Error as exc:
            log.warning("leader lock not tried: the database does not answer (%s)", type(exc).__name__)
            self._drop_connection()
            return False
        if not got:
            return False
        holder = f"{socket.gethostname()}:{os.getpid()}"
        try:
            # Waits for a batch of the previous leader still in flight (it holds the row FOR SHARE).
            with self.store.write(lock=False) as cur:
                cur.execute(
                    "UPDATE {t:projection_leader} SET epoch = epoch + 1, holder = ?, since = now() "
                    "WHERE name = 'project'",
                    (holder,),
                )
                epoch = int(
                    cur.execute("SELECT epoch FROM {t:projection_leader} WHERE name = 'project'").scalar()
                )
        except (psycopg.Error, PersistenceError, PoolTimeout, OSError) as exc:
            log.warning("leader term not started: the database does not answer (%s)", type(exc).__name__)
            self._drop_connection()  # releases the lock
            return False
        except BaseException:
            self._drop_connection()
            raise
        self.epoch = epoch
        log.info("leading the views (term %d, lock backend %d)", epoch, self.backend_pid or 0)
        return True

    def fence(self, cur: SqlCursor) -> None:
        """Inside a batch's transaction: raise :class:`LeadershipLost` unless this process still leads.

        Reads the term ``FOR SHARE`` (a new leader's bump waits until this transaction ends) and checks
        that this process's lock connection still holds the lock.
        """
        if self.epoch is None:
            raise LeadershipLost("this process does not lead the views")
        epoch = cur.execute(
            "SELECT epoch FROM {t:projection_leader} WHERE name = 'project' FOR SHARE"
        ).scalar()
        held = cur.execute(
            "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = ? "
            "AND classid = CAST(? AS oid) AND objid = CAST(? AS oid) AND objsubid = 2 "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (self.backend_pid, *self.key),
        ).scalar()
        if int(epoch or 0) != self.epoch or not int(held or 0):
            self._lose("another process took over" if int(epoch or 0) != self.epoch else "lock lost")
            raise LeadershipLost("this process no longer leads the views; its batch was rolled back")

    def check(self) -> bool:
        """While leading: one round trip on the lock connection; False (and standing by) if it broke."""
        if not self.leading:
            return False
        import psycopg

        try:
            self._conn.execute("SELECT 1")
        except (psycopg.Error, AttributeError):
            self._lose("lock connection lost")
            return False
        return True

    def _lose(self, why: str) -> None:
        if self.epoch is not None:
            log.warning("no longer leading the views (term %d): %s; standing by", self.epoch, why)
        self.epoch = None
        self._drop_connection()

    def _drop_connection(self) -> None:
        conn, self._conn, self.backend_pid = self._conn, None, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a broken connection may fail to close; it is gone either way
                log.debug("lock connection closed with an error")

    def release(self) -> None:
        """Stop leading (if leading) and close the lock connection: another process may take over."""
        if self.epoch is not None and self._conn is not None:
            # Unlocked now, not when the server notices the closed connection a moment later.
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", self.key)
            except Exception:
                log.debug("leader lock not released explicitly; closing its connection releases it")
        self.epoch = None
        self._drop_connection()

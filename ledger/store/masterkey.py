"""The master key and its ledger: which key to use, binding it to the ledger, rotating it.

A ledger records a key-check value (``ledger_meta``, see :func:`ledger.store.crypto.make_key_check`)
the first time it is opened, and refuses every other key from then on: a wrong key would otherwise
wrap new subjects' data keys, which the right key could then never open (nor erase). A ledger from
before the check value gets it on the first open with a key that opens one of its stored data keys.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ledger.store.crypto import FileMasterKey, KeyWrapper, MasterKeyError, key_check_matches, make_key_check
from ledger.store.database import LedgerStore
from ledger.store.dialect import SqlCursor
from ledger.store.keystore import KeyStore, format_kid
from ledger.store.tables import KEY_CHECK_META

__all__ = ["bind_master_key", "holds_data", "master_key_for", "rotate_master_key"]

log = logging.getLogger(__name__)

# Tables whose rows mean the ledger holds data (and so has a master key somewhere).
_DATA_TABLES = ("ledger_keys", "ledger_chain", "ledger_dead_letters", "ledger_parked")


def _stored_check(cur: SqlCursor) -> str | None:
    value = cur.execute("SELECT v FROM {t:ledger_meta} WHERE k = ?", (KEY_CHECK_META,)).scalar()
    return None if value is None else str(value)


def holds_data(store: LedgerStore) -> bool:
    """True if the ledger has a key-check value or any event, data key, dead letter or parked event."""
    with store.read() as cur:
        if _stored_check(cur) is not None:
            return True
        return any(
            cur.execute(f"SELECT 1 AS one FROM {{t:{table}}} LIMIT 1").scalar() is not None
            for table in _DATA_TABLES
        )


def master_key_for(key_file: Path | None, dev_key: Path, store: LedgerStore) -> tuple[KeyWrapper, str]:
    """The master key to open ``store`` with, and how to name it in messages.

    ``key_file`` (``LEDGER_MASTER_KEY_FILE``) when set; otherwise the development key ``dev_key``,
    created only for a new, empty ledger opened for writing: a ledger that holds data and has no key
    is an error, never a fresh key (which would bind the ledger to a key that opens none of its data).
    """
    if key_file is not None:
        return FileMasterKey.load(key_file), f"LEDGER_MASTER_KEY_FILE {key_file}"
    source = f"the development key {dev_key} (LEDGER_MASTER_KEY_FILE is not set)"
    if dev_key.exists():
        return FileMasterKey.load(dev_key), source
    if store.read_only:
        raise MasterKeyError(
            f"no master key: LEDGER_MASTER_KEY_FILE is not set and there is no development key at {dev_key}"
        )
    if holds_data(store):
        raise MasterKeyError(
            f"no master key for the ledger at {store.location}, which holds data: LEDGER_MASTER_KEY_FILE "
            f"is not set and there is no development key at {dev_key} (a new key is only created for a "
            "new, empty ledger); set LEDGER_MASTER_KEY_FILE to this ledger's key file"
        )
    return FileMasterKey.create_dev(dev_key), source


def _mismatch(store: LedgerStore, source: str) -> MasterKeyError:
    return MasterKeyError(
        f"the master key ({source}) does not match the ledger at {store.location}: set "
        "LEDGER_MASTER_KEY_FILE to this ledger's key file"
    )


def _opens_a_stored_key(cur: SqlCursor, wrapper: KeyWrapper) -> bool | None:
    """Whether ``wrapper`` opens a live stored data key (None: there is none).

    A few rows are tried, so one corrupt key row does not lock its ledger's own key out; no other key
    can open any (AES-GCM).
    """
    rows = cur.execute(
        "SELECT subject_id, category, key_version, wrapped FROM {t:ledger_keys} "
        "WHERE wrapped IS NOT NULL LIMIT 5"
    ).all()
    if not rows:
        return None
    for row in rows:
        kid = format_kid(str(row["subject_id"]), str(row["category"]), int(row["key_version"]))
        try:
            wrapper.unwrap(bytes(row["wrapped"]), kid)
        except MasterKeyError:
            continue
        return True
    return False


def bind_master_key(store: LedgerStore, wrapper: KeyWrapper, source: str = "the master key") -> None:
    """Refuse ``wrapper`` unless it is the ledger's master key; record the check value on first use.

    Sets ``store.key_check``, which every locked write then compares with the ledger's (so a process
    still holding a key rotated away meanwhile writes nothing). A read-only store records nothing.
    """
    with store.read() as cur:
        check = _stored_check(cur)
        opens = None if check is not None else _opens_a_stored_key(cur, wrapper)
    if check is None:
        if opens is False:
            raise _mismatch(store, source)
        if store.read_only:
            return
        with store.write(lock=False) as cur:
            cur.execute(
                "INSERT INTO {t:ledger_meta} (k, v) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (KEY_CHECK_META, make_key_check(wrapper)),
            )
            # Another process may have recorded its key first: the stored value decides.
            check = _stored_check(cur)
        assert check is not None
    if not key_check_matches(wrapper, check):
        raise _mismatch(store, source)
    store.key_check = check


def rotate_master_key(
    store: LedgerStore, keys: KeyStore, new: KeyWrapper, *, chunk: int = 1000
) -> dict[str, Any]:
    """Re-wrap every live data key under ``new`` and record its check value, in one transaction.

    Runs under the single-writer lock. Until it commits the old key stays the ledger's key (a failure
    or crash part-way rolls everything back); from the commit on only ``new`` opens the ledger.
    Destroyed (shredded) keys have nothing to re-wrap. Afterwards old row versions are purged from the
    database files as after a shred (``LedgerStore.purge_destroyed_keys``).
    """
    old = keys.wrapper
    with store.write(lock=True) as cur:
        check = _stored_check(cur)
        if check is None or not key_check_matches(old, check):
            raise MasterKeyError(f"the current master key does not match the ledger at {store.location}")
        if key_check_matches(new, check):
            raise MasterKeyError("the new master key is the current one: nothing to rotate")
        rewrapped = 0
        after: tuple[str, str, int] | None = None
        while True:
            where = "WHERE wrapped IS NOT NULL"
            params: tuple[Any, ...] = ()
            if after is not None:
                where += " AND (subject_id, category, key_version) > (?, ?, ?)"
                params = after
            rows = cur.execute(
                "SELECT subject_id, category, key_version, wrapped FROM {t:ledger_keys} "
                f"{where} ORDER BY subject_id, category, key_version LIMIT ?",
                (*params, chunk),
            ).all()
            if not rows:
                break
            updates = []
            for r in rows:
                subject_id, category, version = (
                    str(r["subject_id"]),
                    str(r["category"]),
                    int(r["key_version"]),
                )
                kid = format_kid(subject_id, category, version)
                data_key = old.unwrap(bytes(r["wrapped"]), kid)
                updates.append((new.wrap(data_key, kid), subject_id, category, version))
            cur.executemany(
                "UPDATE {t:ledger_keys} SET wrapped = ? "
                "WHERE subject_id = ? AND category = ? AND key_version = ?",
                updates,
            )
            rewrapped += len(updates)
            last = rows[-1]
            after = (str(last["subject_id"]), str(last["category"]), int(last["key_version"]))
        destroyed = int(
            cur.execute("SELECT COUNT(*) AS n FROM {t:ledger_keys} WHERE wrapped IS NULL").scalar() or 0
        )
        new_check = make_key_check(new)
        cur.execute("UPDATE {t:ledger_meta} SET v = ? WHERE k = ?", (new_check, KEY_CHECK_META))
    keys.wrapper = new
    store.key_check = new_check
    store.purge_destroyed_keys()
    log.warning("master key rotated: %d data keys re-wrapped", rewrapped)
    return {"rotated": True, "keys_rewrapped": rewrapped, "keys_destroyed_skipped": destroyed}

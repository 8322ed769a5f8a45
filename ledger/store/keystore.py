"""Data keys per (subject, category, key version), wrapped by the master key; shredding destroys them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.store.crypto import KeyWrapper, new_data_key
from ledger.store.destructions import DestructionJournal
from ledger.store.dialect import InList, SqlCursor

__all__ = ["DEAD_LETTER_CATEGORY", "FINGERPRINT_CATEGORY", "KeyRing", "KeyStore", "format_kid", "parse_kid"]

# The per-subject HMAC key for duplicate detection (spec 3.5 point 3) lives beside the data keys.
FINGERPRINT_CATEGORY = "@fingerprint"
# The per-subject key of the raw payloads of dead letters naming the subject (spec 3.6 raw_ref); the
# ledger subject's one holds those whose subject cannot be read. Any erasure destroys it (spec 5.1).
DEAD_LETTER_CATEGORY = "@dead_letters"
# Keys of the ledger's own making, not data categories: erasure destroys them without KeyShredded.
_INTERNAL_CATEGORIES = frozenset({FINGERPRINT_CATEGORY, DEAD_LETTER_CATEGORY})


def format_kid(subject_id: str, category: str, version: int) -> str:
    """The key id stored in clear beside each ciphertext."""
    return f"{subject_id}/{category}/v{version}"


def parse_kid(kid: str) -> tuple[str, str, int]:
    """Split a key id into subject, category and version."""
    subject_id, category, version = kid.split("/")
    return subject_id, category, int(version.removeprefix("v"))


class KeyStore:
    """Process-wide: the master key wrapper and a cache of unwrapped data keys."""

    def __init__(self, wrapper: KeyWrapper, journal: DestructionJournal | None = None) -> None:
        self.wrapper = wrapper
        self._unwrapped: dict[str, bytes] = {}
        # Where destroyed keys are recorded outside the database (``ledger.store.destructions``).
        self.journal = journal

    def unwrap(self, kid: str, wrapped: bytes) -> bytes:
        """Unwrap (and cache) a data key."""
        key = self._unwrapped.get(kid)
        if key is None:
            key = self.wrapper.unwrap(bytes(wrapped), kid)
            from ledger.observability import count_unwrapped_key  # prometheus_client: not at start-up

            count_unwrapped_key()
            self._unwrapped[kid] = key
        return key

    def forget(self, kids: Iterable[str]) -> None:
        """Drop shredded keys from the in-memory cache (spec 3.3: caches invalidated on shred)."""
        for kid in kids:
            self._unwrapped.pop(kid, None)

    def ring(self, cur: SqlCursor, now: str, state: RingState | None = None) -> KeyRing:
        """A key ring bound to one transaction (starting from a committed ring's state, if given)."""
        return KeyRing(self, cur, now, state)

    def lookup(self, cur: SqlCursor, kid: str) -> bytes | None:
        """The live data key of ``kid`` read from the database, or None if destroyed or unknown."""
        subject_id, category, version = parse_kid(kid)
        row = cur.execute(
            "SELECT wrapped FROM {t:ledger_keys} WHERE subject_id = ? AND category = ? AND key_version = ?",
            (subject_id, category, version),
        ).one()
        if row is None or row["wrapped"] is None:
            self._unwrapped.pop(kid, None)
            return None
        return self.unwrap(kid, row["wrapped"])


@dataclass
class _Versions:
    live: dict[int, bytes | None] = field(default_factory=dict)  # version -> wrapped (None = shredded)


@dataclass
class RingState:
    """What a committed key ring knew: every key row of the subjects it loaded, and their opened keys."""

    rows: dict[str, dict[str, _Versions]]  # subject -> category -> versions (loaded subjects only)
    aead: dict[str, AESGCM]
    raw: dict[str, bytes]


class KeyRing:
    """The keys of the subjects one write transaction touches, loaded once and kept in step.

    A ring may start from the :class:`RingState` of the previous transaction of the same writer when
    nobody else wrote in between (see ``LedgerStore.write``): then those subjects need no query.
    """

    def __init__(self, store: KeyStore, cur: SqlCursor, now: str, state: RingState | None = None) -> None:
        self.store = store
        self.cur = cur
        self.now = now
        self._rows: dict[str, dict[str, _Versions]] = state.rows if state else {}
        self._aead: dict[str, AESGCM] = state.aead if state else {}
        self._raw: dict[str, bytes] = state.raw if state else {}
        # Keys created in this transaction, written in one statement by flush(): subject, category,
        # version -> wrapped key (None once shredded again within the same transaction).
        self._new: dict[tuple[str, str, int], bytes | None] = {}
        self.shredded_kids: list[str] = []
        self.created = 0  # key rows flush() wrote (counted once the transaction commits)

    def prefetch(self, subjects: Iterable[str]) -> None:
        """Load the key rows of ``subjects`` in one query."""
        todo = sorted({s for s in subjects if s not in self._rows})
        if not todo:
            return
        for start in range(0, len(todo), 500):
            chunk = todo[start : start + 500]
            rows = self.cur.execute(
                "SELECT subject_id, category, key_version, wrapped FROM {t:ledger_keys} "
                "WHERE subject_id {in}",
                (InList(chunk),),
            ).all()
            for subject in chunk:
                self._rows[subject] = {}
            for r in rows:
                v = self._rows[r["subject_id"]].setdefault(r["category"], _Versions())
                v.live[int(r["key_version"])] = None if r["wrapped"] is None else bytes(r["wrapped"])

    def state(self) -> RingState:
        """What this ring knows, to start the same writer's next ring from (valid once committed)."""
        return RingState(self._rows, self._aead, self._raw)

    def _versions(self, subject_id: str, category: str) -> _Versions:
        if subject_id not in self._rows:
            self.prefetch([subject_id])
        return self._rows[subject_id].setdefault(category, _Versions())

    def encryption_key(self, subject_id: str, category: str) -> tuple[str, AESGCM]:
        """The current key of (subject, category); a new version if none is live (re-collection)."""
        versions = self._versions(subject_id, category)
        if versions.live:
            latest = max(versions.live)
            wrapped = versions.live[latest]
            if wrapped is not None:
                kid = format_kid(subject_id, category, latest)
                return kid, self._aead_for(kid, wrapped)
            version = latest + 1
        else:
            version = 1
        kid = format_kid(subject_id, category, version)
        key = new_data_key()
        wrapped = self.store.wrapper.wrap(key, kid)
        self._new[(subject_id, category, version)] = wrapped
        versions.live[version] = wrapped
        # Not into the process cache: the transaction may still roll back.
        self._raw[kid] = key
        return kid, self._aead_for(kid, wrapped)

    def open_current(self, subject_id: str, categories: Iterable[str]) -> None:
        """Open the live current key of each (subject, category) that has one, creating nothing.

        Raises :class:`~ledger.store.crypto.MasterKeyError` if the master key does not open one (a
        corrupt or foreign key row). Called before a message's keys are used, so that a key that
        cannot be opened rejects the message before anything of it is queued or created.
        """
        for category in categories:
            versions = self._versions(subject_id, category)
            if versions.live:
                latest = max(versions.live)
                wrapped = versions.live[latest]
                if wrapped is not None:
                    self._aead_for(format_kid(subject_id, category, latest), wrapped)

    def _aead_for(self, kid: str, wrapped: bytes) -> AESGCM:
        aead = self._aead.get(kid)
        if aead is None:
            aead = AESGCM(self._key_bytes(kid, wrapped))
            self._aead[kid] = aead
        return aead

    def _key_bytes(self, kid: str, wrapped: bytes) -> bytes:
        key = self._raw.get(kid)
        if key is None:
            key = self.store.unwrap(kid, wrapped)
            self._raw[kid] = key
        return key

    def secret(self, subject_id: str, category: str) -> tuple[str, bytes]:
        """The raw bytes of the current key of (subject, category), created if needed (for HMAC)."""
        kid, _ = self.encryption_key(subject_id, category)
        return kid, self._raw[kid]

    def secret_of(self, kid: str) -> bytes | None:
        """The raw bytes of the key ``kid`` if it still exists."""
        subject_id, category, version = parse_kid(kid)
        wrapped = self._versions(subject_id, category).live.get(version)
        return None if wrapped is None else self._key_bytes(kid, wrapped)

    def decryption_key(self, kid: str) -> AESGCM | None:
        """The key of ``kid`` if it still exists."""
        subject_id, category, version = parse_kid(kid)
        wrapped = self._versions(subject_id, category).live.get(version)
        return None if wrapped is None else self._aead_for(kid, wrapped)

    def is_live(self, kid: str) -> bool:
        """True while the key of ``kid`` has not been destroyed."""
        subject_id, category, version = parse_kid(kid)
        return self._versions(subject_id, category).live.get(version) is not None

    def categories(self, subject_id: str) -> list[str]:
        """Data categories (not the fingerprint or dead-letter key) with a live key for the subject."""
        self.prefetch([subject_id])
        return sorted(
            cat
            for cat, v in self._rows[subject_id].items()
            if cat not in _INTERNAL_CATEGORIES and any(w is not None for w in v.live.values())
        )

    def shred(self, subject_id: str, category: str) -> list[int]:
        """Destroy every live version of the (subject, category) key; returns the versions destroyed."""
        versions = self._versions(subject_id, category)
        destroyed = sorted(v for v, w in versions.live.items() if w is not None)
        if not destroyed:
            return []
        for v in destroyed:
            if (subject_id, category, v) in self._new:
                self._new[(subject_id, category, v)] = None
        self.cur.execute(
            "UPDATE {t:ledger_keys} SET wrapped = NULL, shredded_at = ? "
            "WHERE subject_id = ? AND category = ? AND wrapped IS NOT NULL",
            (self.now, subject_id, category),
        )
        for v in destroyed:
            versions.live[v] = None
            kid = format_kid(subject_id, category, v)
            self._aead.pop(kid, None)
            self._raw.pop(kid, None)
            self.shredded_kids.append(kid)
        return destroyed

    def flush(self) -> None:
        """Write the keys created in this transaction (shredded ones as already destroyed)."""
        self.cur.insert_rows(
            "ledger_keys",
            ("subject_id", "category", "key_version", "wrapped", "created_at", "shredded_at"),
            [
                (subject, category, version, wrapped, self.now, None if wrapped else self.now)
                for (subject, category, version), wrapped in self._new.items()
            ],
        )
        self.created += len(self._new)
        self._new.clear()

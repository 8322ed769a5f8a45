"""Browser sessions and their CSRF token, and the login rate limit, kept in the ledger's database.

A session id is 256 random bits in an HttpOnly, Secure, SameSite=Strict cookie; the database keeps its
SHA-256 only. The CSRF token is an HMAC of the session id (a synchronizer token tied to the session):
the server recomputes it, so nothing more is stored, and a page or script can only learn it from an
authenticated response (``/login``, ``/api/v1/me``), never from the cookie it cannot read.

Failed logins are counted per user name and per client address, both hashed (a staff name or address
is personal data), in a window; past the limit, logins for that name or address pause until the window
ends (HTTP 429), without checking the password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger.domain.timeutil import canonical_timestamp, format_instant
from ledger.store.database import LedgerStore
from ledger.web.identity import Directory, Principal, secret_hash

__all__ = ["LoginLimiter", "SessionStore", "csrf_token"]

_CSRF_LABEL = b"privacy-ledger csrf v1"
_ADDRESS_FACTOR = 10  # an address may fail ten times as often as one name (shared NAT, many staff)


def csrf_token(session_id: str) -> str:
    """The CSRF token of a session: HMAC-SHA256 of a fixed label keyed by the session id (hex)."""
    return hmac.new(session_id.encode("ascii", "replace"), _CSRF_LABEL, hashlib.sha256).hexdigest()


class SessionStore:
    """Start, look up and end browser sessions."""

    def __init__(self, directory: Directory, lifetime_seconds: int) -> None:
        self.directory = directory
        self.store = directory.store
        self.clock = directory.clock
        self.lifetime = timedelta(seconds=lifetime_seconds)

    def start(self, user_id: str) -> tuple[str, datetime]:
        """A new session for the user; returns the cookie value (shown once) and its expiry."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        expires = now + self.lifetime
        with self.store.write(lock=False) as cur:
            # Sessions past their expiry are removed as new ones start (no background job needed).
            cur.execute("DELETE FROM {t:web_sessions} WHERE expires_at <= ?", (format_instant(now),))
            cur.execute(
                "INSERT INTO {t:web_sessions} (session_hash, user_id, created_at, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (secret_hash(session_id), user_id, format_instant(now), format_instant(expires)),
            )
        return session_id, expires

    def principal(self, session_id: str) -> Principal | None:
        """The principal of a live session of an active user, or None."""
        if not 16 <= len(session_id) <= 128:
            return None
        with self.store.read() as cur:
            row = cur.execute(
                "SELECT user_id, expires_at FROM {t:web_sessions} WHERE session_hash = ?",
                (secret_hash(session_id),),
            ).one()
        if row is None or canonical_timestamp(str(row["expires_at"])) <= self.clock():
            return None
        user = self.directory.active_user(str(row["user_id"]))
        if user is None:
            return None
        return Principal(user=user, role=user.role, via="session", session_id=session_id)

    def end(self, session_id: str) -> None:
        """End a session (logout)."""
        with self.store.write(lock=False) as cur:
            cur.execute("DELETE FROM {t:web_sessions} WHERE session_hash = ?", (secret_hash(session_id),))


@dataclass(frozen=True)
class _Key:
    key_hash: str
    limit: int


class LoginLimiter:
    """Counts failed logins per user name and client address in a window of ``window_seconds``."""

    def __init__(
        self, store: LedgerStore, clock: Callable[[], datetime], *, max_failures: int, window_seconds: int
    ) -> None:
        self.store = store
        self.clock = clock
        self.max_failures = max_failures
        self.window = timedelta(seconds=window_seconds)

    def _keys(self, username: str, address: str) -> list[_Key]:
        return [
            _Key(secret_hash("user:" + username.strip().lower()[:256]), self.max_failures),
            _Key(secret_hash("addr:" + address), self.max_failures * _ADDRESS_FACTOR),
        ]

    def retry_after(self, username: str, address: str) -> int:
        """Seconds until a login for this name from this address may be tried again (0: now)."""
        now = self.clock()
        wait = 0
        with self.store.read() as cur:
            for key in self._keys(username, address):
                row = cur.execute(
                    "SELECT window_start, failures FROM {t:web_login_failures} WHERE key_hash = ?",
                    (key.key_hash,),
                ).one()
                if row is None or int(row["failures"]) < key.limit:
                    continue
                ends = canonical_timestamp(str(row["window_start"])) + self.window
                if ends > now:
                    wait = max(wait, int((ends - now).total_seconds()) + 1)
        return wait

    def failed(self, username: str, address: str) -> None:
        """Count one failed login for the name and the address."""
        now = self.clock()
        with self.store.write(lock=False) as cur:
            for key in self._keys(username, address):
                row = cur.execute(
                    "SELECT window_start FROM {t:web_login_failures} WHERE key_hash = ?", (key.key_hash,)
                ).one()
                if row is None:
                    cur.execute(
                        "INSERT INTO {t:web_login_failures} (key_hash, window_start, failures) "
                        "VALUES (?, ?, 1)",
                        (key.key_hash, format_instant(now)),
                    )
                elif canonical_timestamp(str(row["window_start"])) + self.window <= now:
                    cur.execute(
                        "UPDATE {t:web_login_failures} SET window_start = ?, failures = 1 WHERE key_hash = ?",
                        (format_instant(now), key.key_hash),
                    )
                else:
                    cur.execute(
                        "UPDATE {t:web_login_failures} SET failures = failures + 1 WHERE key_hash = ?",
                        (key.key_hash,),
                    )

    def succeeded(self, username: str) -> None:
        """Forget the failures of a name after a successful login (the address keeps its count)."""
        user_key = self._keys(username, "")[0]
        with self.store.write(lock=False) as cur:
            cur.execute("DELETE FROM {t:web_login_failures} WHERE key_hash = ?", (user_key.key_hash,))

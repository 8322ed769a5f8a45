"""Staff users and API tokens, stored in the ledger's database (``ledger.web.tables``).

Passwords are hashed with Argon2id (argon2-cffi's RFC 9106 profile); a password or token is shown
once, when made, and only its hash is kept. A token is ``plt_<token_id>_<secret>``: the id finds the
row, the SHA-256 of the secret (256 random bits, so a fast hash is enough) is compared in constant time.
User names are opaque staff references (``jdoe``, ``dpo-1``), never email addresses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ledger.domain.timeutil import canonical_timestamp, format_instant
from ledger.errors import LedgerError
from ledger.store.database import LedgerStore
from ledger.web.roles import Role, token_roles
from ledger.web.tables import create_statements

__all__ = [
    "CASE_KINDS",
    "Directory",
    "IdentityError",
    "Principal",
    "Scope",
    "TokenInfo",
    "User",
    "secret_hash",
]

USERNAME = re.compile(r"[a-z][a-z0-9._-]{2,63}", re.ASCII)
_TOKEN = re.compile(r"plt_([0-9a-f]{16})_([A-Za-z0-9_-]{43})", re.ASCII)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
MAX_PASSWORD_CHARS = 1024  # hashing cost grows with the input: a longer one is refused unhashed
CASE_KINDS = ("subjects", "requests", "complaints")


class IdentityError(LedgerError):
    """An administration command that cannot be done as asked (a name taken, an expiry missing...)."""


def secret_hash(secret: str) -> str:
    """SHA-256 (hex) of a high-entropy secret: a token's secret part or a session id."""
    return hashlib.sha256(secret.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class Scope:
    """The cases a regulator may see: named subjects, requests and complaints (UUIDs)."""

    subjects: frozenset[str] = frozenset()
    requests: frozenset[str] = frozenset()
    complaints: frozenset[str] = frozenset()

    def allows(self, kind: str, case_id: str) -> bool:
        """True if ``case_id`` of ``kind`` (``subjects``, ``requests``, ``complaints``) is granted."""
        granted: frozenset[str] = getattr(self, kind)
        return case_id.lower() in granted

    @property
    def empty(self) -> bool:
        """True if no case is granted."""
        return not (self.subjects or self.requests or self.complaints)

    def as_dict(self) -> dict[str, list[str]]:
        """JSON form, each list sorted."""
        return {kind: sorted(getattr(self, kind)) for kind in CASE_KINDS}

    @classmethod
    def of(cls, raw: Mapping[str, Iterable[str]]) -> Scope:
        """A scope from lists of ids; ``IdentityError`` for one that is not a UUID (not echoed)."""
        out: dict[str, frozenset[str]] = {}
        for kind in CASE_KINDS:
            ids = [str(i).strip().lower() for i in raw.get(kind, ())]
            if not all(_UUID.fullmatch(i) for i in ids):
                raise IdentityError(f"every id of a regulator's {kind} must be a UUID")
            out[kind] = frozenset(ids)
        return cls(**out)


@dataclass(frozen=True)
class User:
    """A staff user as stored (no secret)."""

    user_id: str
    username: str
    role: Role
    created_at: str
    expires_at: str | None
    disabled_at: str | None
    scope: Scope = field(default_factory=Scope)

    def active(self, now: datetime) -> bool:
        """Not disabled and not past its expiry."""
        if self.disabled_at is not None:
            return False
        return self.expires_at is None or canonical_timestamp(self.expires_at) > now

    def as_dict(self) -> dict[str, Any]:
        """JSON form (no secret)."""
        out: dict[str, Any] = {
            "user_id": self.user_id,
            "username": self.username,
            "role": str(self.role),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "disabled_at": self.disabled_at,
        }
        if self.role is Role.REGULATOR:
            out["scope"] = self.scope.as_dict()
        return out


@dataclass(frozen=True)
class TokenInfo:
    """An API token as stored (no secret)."""

    token_id: str
    user_id: str
    username: str
    role: Role
    created_at: str
    expires_at: str
    revoked_at: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (no secret)."""
        return {
            "token_id": self.token_id,
            "username": self.username,
            "role": str(self.role),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class Principal:
    """Who is asking: an active user, the role it acts with now, and how it proved it."""

    user: User
    role: Role
    via: str  # "token" | "session"
    token_id: str | None = None
    session_id: str | None = None  # the cookie's value (only for CSRF checks; never stored)

    @property
    def actor_ref(self) -> str:
        """The opaque reference the read audit records: the user's id (never the name)."""
        return self.user.user_id


def _user(row: Mapping[str, Any]) -> User:
    return User(
        user_id=str(row["user_id"]),
        username=str(row["username"]),
        role=Role(str(row["role"])),
        created_at=str(row["created_at"]),
        expires_at=None if row["expires_at"] is None else str(row["expires_at"]),
        disabled_at=None if row["disabled_at"] is None else str(row["disabled_at"]),
        scope=Scope.of(json.loads(str(row["scope"]))),
    )


_USER_COLUMNS = "user_id, username, role, created_at, expires_at, disabled_at, scope"


class Directory:
    """Users and tokens of one ledger database, as of the ledger clock."""

    def __init__(
        self,
        store: LedgerStore,
        clock: Callable[[], datetime],
        *,
        token_max_days: int = 90,
        break_glass_hours: int = 8,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.token_max_days = token_max_days
        self.break_glass_hours = break_glass_hours
        self.hasher = hasher or PasswordHasher()  # Argon2id, RFC 9106 low-memory profile
        self._dummy: str | None = None

    def ensure_tables(self) -> None:
        """Create the web tables if missing (idempotent)."""
        with self.store.ddl_lock(), self.store.write(lock=False) as cur:
            for statement in create_statements(self.store.dialect):
                cur.execute(statement)

    # -- users ---------------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        role: Role,
        *,
        expires_at: datetime | None = None,
        scope: Scope | None = None,
        password: str | None = None,
    ) -> tuple[User, str]:
        """Create a user; returns it and its password (generated unless given), shown once.

        A ``regulator`` needs an expiry and at least one case; a ``break_glass`` user an expiry within
        ``break_glass_hours``. Raises ``IdentityError`` otherwise, or if the name is taken.
        """
        if not USERNAME.fullmatch(username):
            raise IdentityError(
                "a user name is 3 to 64 characters: a lower-case letter, then lower-case letters, digits, "
                "'.', '_' or '-' (an opaque staff reference, not an email address)"
            )
        now = self.clock()
        scope = scope or Scope()
        if role is Role.REGULATOR and (expires_at is None or scope.empty):
            raise IdentityError(
                "a regulator needs --expires and at least one --subject, --request or --complaint"
            )
        if role is not Role.REGULATOR and not scope.empty:
            raise IdentityError("only a regulator is scoped to cases")
        if role is Role.BREAK_GLASS:
            latest = now + timedelta(hours=self.break_glass_hours)
            if expires_at is None or expires_at > latest:
                raise IdentityError(
                    f"a break_glass user needs --expires within {self.break_glass_hours} hours "
                    "(LEDGER_WEB_BREAK_GLASS_HOURS)"
                )
        if expires_at is not None and expires_at <= now:
            raise IdentityError("--expires must be in the future")
        password = password if password is not None else secrets.token_urlsafe(18)
        user = User(
            user_id=str(uuid.uuid4()),
            username=username,
            role=role,
            created_at=format_instant(now),
            expires_at=None if expires_at is None else format_instant(expires_at),
            disabled_at=None,
            scope=scope,
        )
        with self.store.write(lock=False) as cur:
            taken = cur.execute("SELECT 1 AS x FROM {t:web_users} WHERE username = ?", (username,)).one()
            if taken is not None:
                raise IdentityError(f"there is already a user named {username}")
            cur.execute(
                "INSERT INTO {t:web_users} (user_id, username, role, password_hash, created_at, expires_at, "
                "disabled_at, scope) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
                (
                    user.user_id,
                    username,
                    str(role),
                    self.hasher.hash(password),
                    user.created_at,
                    user.expires_at,
                    json.dumps(scope.as_dict(), sort_keys=True),
                ),
            )
        return user, password

    def list_users(self) -> list[User]:
        """Every user, by name."""
        with self.store.read() as cur:
            rows = cur.execute(f"SELECT {_USER_COLUMNS} FROM {{t:web_users}} ORDER BY username").all()
        return [_user(r) for r in rows]

    def user(self, username: str) -> User:
        """The user named ``username``; ``IdentityError`` if there is none."""
        with self.store.read() as cur:
            row = cur.execute(
                f"SELECT {_USER_COLUMNS} FROM {{t:web_users}} WHERE username = ?", (username,)
            ).one()
        if row is None:
            raise IdentityError(f"there is no user named {username}")
        return _user(row)

    def disable_user(self, username: str) -> User:
        """Disable a user now: its sessions end and its tokens stop working (rows kept for the audit)."""
        user = self.user(username)
        now = format_instant(self.clock())
        with self.store.write(lock=False) as cur:
            cur.execute(
                "UPDATE {t:web_users} SET disabled_at = ? WHERE user_id = ? AND disabled_at IS NULL",
                (now, user.user_id),
            )
            cur.execute("DELETE FROM {t:web_sessions} WHERE user_id = ?", (user.user_id,))
        return self.user(username)

    def check_password(self, username: str, password: str) -> User | None:
        """The active user if ``password`` is its password, else None (unknown, wrong, disabled, expired).

        An unknown name costs one hash too, so timing does not tell which names exist.
        """
        if len(password) > MAX_PASSWORD_CHARS or not USERNAME.fullmatch(username):
            return None
        with self.store.read() as cur:
            row = cur.execute(
                f"SELECT {_USER_COLUMNS}, password_hash FROM {{t:web_users}} WHERE username = ?", (username,)
            ).one()
        stored = str(row["password_hash"]) if row is not None else self._dummy_hash()
        try:
            self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        user = _user(row)
        return user if user.active(self.clock()) else None

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_urlsafe(18))
        return self._dummy

    def active_user(self, user_id: str) -> User | None:
        """The user with this id if it is active now."""
        with self.store.read() as cur:
            row = cur.execute(
                f"SELECT {_USER_COLUMNS} FROM {{t:web_users}} WHERE user_id = ?", (user_id,)
            ).one()
        if row is None:
            return None
        user = _user(row)
        return user if user.active(self.clock()) else None

    # -- tokens --------------------------------------------------------------------------------

    def create_token(
        self, username: str, *, role: Role | None = None, days: int | None = None
    ) -> tuple[str, TokenInfo]:
        """A new API token for an active user; returns the token text (shown once) and its row.

        ``role`` defaults to the user's and may only be a lesser role of the same line (a dpo's token
        may act as officer or viewer); ``days`` defaults to and may not exceed ``token_max_days``, nor
        outlive the user.
        """
        user = self.user(username)
        now = self.clock()
        if not user.active(now):
            raise IdentityError(f"user {username} is disabled or expired: no token can be made for it")
        role = role or user.role
        if role not in token_roles(user.role):
            allowed = ", ".join(token_roles(user.role))
            raise IdentityError(f"a token of a {user.role} user may act as: {allowed}")
        days = self.token_max_days if days is None else days
        if not 1 <= days <= self.token_max_days:
            raise IdentityError(f"--days must be from 1 to {self.token_max_days} (LEDGER_WEB_TOKEN_MAX_DAYS)")
        expires = now + timedelta(days=days)
        if user.expires_at is not None:
            expires = min(expires, canonical_timestamp(user.expires_at))
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        info = TokenInfo(
            token_id=token_id,
            user_id=user.user_id,
            username=user.username,
            role=role,
            created_at=format_instant(now),
            expires_at=format_instant(expires),
            revoked_at=None,
        )
        with self.store.write(lock=False) as cur:
            cur.execute(
                "INSERT INTO {t:web_tokens} (token_id, user_id, role, secret_hash, created_at, expires_at, "
                "revoked_at) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (token_id, user.user_id, str(role), secret_hash(secret), info.created_at, info.expires_at),
            )
        return f"plt_{token_id}_{secret}", info

    def list_tokens(self) -> list[TokenInfo]:
        """Every token (no secret), newest first."""
        with self.store.read() as cur:
            rows = cur.execute(
                "SELECT t.token_id, t.user_id, u.username, t.role, t.created_at, t.expires_at, t.revoked_at "
                "FROM {t:web_tokens} t JOIN {t:web_users} u ON u.user_id = t.user_id "
                "ORDER BY t.created_at DESC, t.token_id"
            ).all()
        return [
            TokenInfo(
                token_id=str(r["token_id"]),
                user_id=str(r["user_id"]),
                username=str(r["username"]),
                role=Role(str(r["role"])),
                created_at=str(r["created_at"]),
                expires_at=str(r["expires_at"]),
                revoked_at=None if r["revoked_at"] is None else str(r["revoked_at"]),
            )
            for r in rows
        ]

    def revoke_token(self, token_id: str) -> TokenInfo:
        """Revoke a token now (kept, marked revoked); ``IdentityError`` for an unknown id."""
        token_id = token_id.strip().lower()
        found = [t for t in self.list_tokens() if t.token_id == token_id]
        if not found:
            raise IdentityError("there is no token with that id (the 16 hex digits after plt_)")
        with self.store.write(lock=False) as cur:
            cur.execute(
                "UPDATE {t:web_tokens} SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                (format_instant(self.clock()), token_id),
            )
        return next(t for t in self.list_tokens() if t.token_id == token_id)

    def authenticate_token(self, text: str) -> Principal | None:
        """The principal of a valid bearer token, or None (malformed, unknown, revoked, expired, or its
        user disabled or expired)."""
        match = _TOKEN.fullmatch(text.strip())
        if match is None:
            return None
        token_id, secret = match.groups()
        with self.store.read() as cur:  # the token and its user in one query
            row = cur.execute(
                "SELECT t.role AS token_role, t.secret_hash, t.expires_at AS token_expires_at, t.revoked_at, "
                f"{', '.join('u.' + c for c in _USER_COLUMNS.split(', '))} "
                "FROM {t:web_tokens} t JOIN {t:web_users} u ON u.user_id = t.user_id WHERE t.token_id = ?",
                (token_id,),
            ).one()
        if row is None or not hmac.compare_digest(str(row["secret_hash"]), secret_hash(secret)):
            return None
        now = self.clock()
        if row["revoked_at"] is not None or canonical_timestamp(str(row["token_expires_at"])) <= now:
            return None
        user = _user(row)
        if not user.active(now):
            return None
        return Principal(user=user, role=Role(str(row["token_role"])), via="token", token_id=token_id)

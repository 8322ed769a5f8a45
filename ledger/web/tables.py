"""DDL of the staff service's own tables (users, tokens, sessions, login failures), beside the ledger's.

Created by ``serve`` and by the ``users``/``tokens`` commands, never by read-only commands. Secrets are
never stored: passwords as Argon2id hashes, tokens and session ids as SHA-256 of 256 random bits.
"""

from __future__ import annotations

from ledger.store.dialect import Dialect

__all__ = ["WEB_TABLES", "create_statements"]

WEB_TABLES = ("web_users", "web_tokens", "web_sessions", "web_login_failures")


def create_statements(d: Dialect) -> list[str]:
    """Idempotent CREATE TABLE/INDEX statements of the web tables."""
    t = d.table
    return [
        # One row per staff user; never deleted (the read audit names users by user_id).
        f"CREATE TABLE IF NOT EXISTS {t('web_users')} ("
        "user_id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, role TEXT NOT NULL, "
        "password_hash TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT, disabled_at TEXT, "
        "scope TEXT NOT NULL)",
        # API tokens: looked up by token_id, checked by the hash of their secret part.
        f"CREATE TABLE IF NOT EXISTS {t('web_tokens')} ("
        "token_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, role TEXT NOT NULL, secret_hash TEXT NOT NULL, "
        "created_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT)",
        f"CREATE INDEX IF NOT EXISTS web_tokens_user_idx ON {t('web_tokens')} (user_id)",
        # Browser sessions, by the hash of the cookie's value.
        f"CREATE TABLE IF NOT EXISTS {t('web_sessions')} ("
        "session_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at TEXT NOT NULL, "
        "expires_at TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS web_sessions_user_idx ON {t('web_sessions')} (user_id)",
        # Failed logins per hashed user name or client address, in the current window.
        f"CREATE TABLE IF NOT EXISTS {t('web_login_failures')} ("
        "key_hash TEXT PRIMARY KEY, window_start TEXT NOT NULL, failures INTEGER NOT NULL)",
    ]

"""Typed settings read once from the environment in the composition root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ledger.errors import LedgerError

__all__ = ["DEFAULT_DATABASE_URL", "LOG_LEVELS", "Settings", "SettingsError", "mask_url"]

DEFAULT_DATABASE_URL = "sqlite:///./var/ledger.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_TRUE = frozenset({"1", "true", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "no", "n", "off"})
# The smallest value each integer setting takes (metrics_port also has a largest).
_INT_MIN = {
    "batch_size": 1,
    "pg_pool_size": 1,
    "park_grace_seconds": 0,
    "metrics_port": 0,
    "kafka_session_timeout_ms": 1,
    "decode_workers": 0,
    "checkpoint_interval_seconds": 1,
    "ready_max_lag_seconds": 1,
    "project_standby_poll_seconds": 1,
    "web_port": 1,
    "web_session_seconds": 60,
    "web_token_max_days": 1,
    "web_page_size": 1,
    "web_max_page_size": 1,
    "web_login_max_failures": 1,
    "web_login_window_seconds": 1,
    "web_break_glass_hours": 1,
}
_PORTS = frozenset({"metrics_port", "web_port"})  # also at most 65535
_FLAGS = frozenset({"allow_clock_override", "web_allow_http"})
_PATHS = frozenset({"master_key_file", "var_dir", "signing_key_file", "checkpoint_witness_dir"})
DEFAULT_LOG_ORIGIN = "privacy-ledger.example.com/ledger"


class SettingsError(LedgerError):
    """A setting's environment variable holds a value the ledger cannot use.

    The message names the variable and the value: settings are configuration, never personal data
    (the one secret, the password inside ``LEDGER_DATABASE_URL``, is never echoed).
    """


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for printing a database URL)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _flag(name: str, raw: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingsError(f"{name} must be one of 1/0, true/false, yes/no, on/off, got {raw!r}")


def _integer(f: Field[Any], raw: str) -> int:
    name, low = f.metadata["env"], _INT_MIN[f.name]
    high = 65535 if f.name in _PORTS else None
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        wanted = {0: "a non-negative integer", 1: "a positive integer"}.get(
            low, f"an integer of at least {low}"
        )
        if high is not None:
            wanted = f"an integer from {low} to {high}"
        raise SettingsError(f"{name} must be {wanted}, got {raw!r}")
    return value


def _set_in(env: Mapping[str, str], f: Field[Any]) -> str | None:
    """The setting's text in ``env``, or None when it is unset or empty (then its default applies)."""
    return env.get(f.metadata["env"]) or None


def _valid_log_origin(raw: str) -> bool:
    from ledger.log.note import is_valid_key_name  # with Ed25519: imported only when the origin is set

    return is_valid_key_name(raw)


def _parse(f: Field[Any], raw: str) -> object:
    """The setting's value from its text in the environment; ``SettingsError`` when it is not usable."""
    if f.name in _PATHS:
        return Path(raw)
    if f.name in _FLAGS:
        return _flag(f.metadata["env"], raw)
    if f.name in _INT_MIN:
        return _integer(f, raw)
    if f.name == "log_level":
        if raw.strip().upper() not in LOG_LEVELS:
            raise SettingsError(f"LEDGER_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
        return raw.strip().upper()
    if f.name == "log_origin" and not _valid_log_origin(raw):
        raise SettingsError(
            f"LEDGER_LOG_ORIGIN must be a log name without spaces, '+' or control characters, got {raw!r}"
        )
    return raw


@dataclass(frozen=True)
class Settings:
    """Every setting of the ledger, each with its env name (metadata ``env``), default and description."""

    database_url: str = field(
        default=DEFAULT_DATABASE_URL,
        metadata={"env": "LEDGER_DATABASE_URL", "doc": "postgresql://... or sqlite:///path"},
    )
    master_key_file: Path | None = field(
        default=None,
        metadata={
            "env": "LEDGER_MASTER_KEY_FILE",
            "doc": "file (mode 0600) holding the base64 key-encryption key; unset: a development key in "
            "var/, created only for a new, empty ledger",
        },
    )
    var_dir: Path = field(
        default=Path("var"),
        metadata={"env": "LEDGER_VAR_DIR", "doc": "folder for the embedded database and dev key"},
    )
    allow_clock_override: bool = field(
        default=False,
        metadata={"env": "LEDGER_ALLOW_CLOCK_OVERRIDE", "doc": "allow --clock (tests only)"},
    )
    batch_size: int = field(
        default=500,
        metadata={"env": "LEDGER_BATCH_SIZE", "doc": "events appended per database transaction"},
    )
    pg_pool_size: int = field(
        default=2, metadata={"env": "LEDGER_PG_POOL_SIZE", "doc": "PostgreSQL pool connections"}
    )
    kafka_bootstrap: str = field(
        default="127.0.0.1:19092",
        metadata={"env": "LEDGER_KAFKA_BOOTSTRAP", "doc": "Kafka bootstrap servers (comma-separated)"},
    )
    kafka_topic: str = field(
        default="privacy.events.v1",
        metadata={"env": "LEDGER_KAFKA_TOPIC", "doc": "topic the ledger consumes"},
    )
    kafka_dlq_topic: str = field(
        default="privacy.events.dlq",
        metadata={"env": "LEDGER_KAFKA_DLQ_TOPIC", "doc": "topic for dead-letter notices"},
    )
    kafka_group: str = field(
        default="privacy-ledger",
        metadata={"env": "LEDGER_KAFKA_GROUP", "doc": "consumer group id"},
    )
    decode_workers: int = field(
        default_factory=lambda: 1 if (os.cpu_count() or 1) > 1 else 0,
        metadata={
            "env": "LEDGER_DECODE_WORKERS",
            "doc": "helper processes decoding the next Kafka batch while one is written (0: none)",
        },
    )
    kafka_session_timeout_ms: int = field(
        default=45000,
        metadata={
            "env": "LEDGER_KAFKA_SESSION_TIMEOUT_MS",
            "doc": "consumer group session timeout: how soon a dead consumer's partitions move",
        },
    )
    log_level: str = field(
        default="WARNING",
        metadata={"env": "LEDGER_LOG_LEVEL", "doc": "DEBUG, INFO, WARNING or ERROR (never logs values)"},
    )
    park_grace_seconds: int = field(
        default=86400,
        metadata={
            "env": "LEDGER_PARK_GRACE_SECONDS",
            "doc": "how long an event with an unknown reference waits before UNKNOWN_REFERENCE",
        },
    )
    metrics_port: int = field(
        default=0,
        metadata={
            "env": "LEDGER_METRICS_PORT",
            "doc": "port of the /healthz, /readyz and /metrics endpoints of `consume`, `project` and "
            "`serve` (0: none; `--metrics-port` overrides)",
        },
    )
    metrics_host: str = field(
        default="127.0.0.1",
        metadata={
            "env": "LEDGER_METRICS_HOST",
            "doc": "address the /healthz, /readyz and /metrics endpoints listen on",
        },
    )
    ready_max_lag_seconds: int = field(
        default=60,
        metadata={
            "env": "LEDGER_READY_MAX_LAG_SECONDS",
            "doc": "`project` answers /readyz with 503 while a view has not applied an event stored "
            "longer ago than this",
        },
    )
    signing_key_file: Path | None = field(
        default=None,
        metadata={
            "env": "LEDGER_SIGNING_KEY_FILE",
            "doc": "file (mode 0600) holding the checkpoint signing key, Go note signer text "
            "PRIVATE+KEY+<origin>+<id>+<key>; unset: a development key var/signing.key, created only "
            "while no checkpoint was issued",
        },
    )
    log_origin: str = field(
        default=DEFAULT_LOG_ORIGIN,
        metadata={
            "env": "LEDGER_LOG_ORIGIN",
            "doc": "the log's name in its checkpoints (first line) and the signing key's name; no spaces "
            "or '+'",
        },
    )
    checkpoint_witness_dir: Path | None = field(
        default=None,
        metadata={
            "env": "LEDGER_CHECKPOINT_WITNESS_DIR",
            "doc": "folder outside the database keeping the last issued checkpoint and the journal of "
            "destroyed keys (default var/witness); a database restore must not touch it",
        },
    )
    checkpoint_interval_seconds: int = field(
        default=2,
        metadata={
            "env": "LEDGER_CHECKPOINT_INTERVAL_SECONDS",
            "doc": "while the log grows, `consume` and `project` sign a checkpoint at least this often",
        },
    )
    project_standby_poll_seconds: int = field(
        default=2,
        metadata={
            "env": "LEDGER_PROJECT_STANDBY_POLL_SECONDS",
            "doc": "PostgreSQL: a `project` process standing by (another one leads the views) tries to "
            "take over this often",
        },
    )
    # -- the staff service (`serve`) ---------------------------------------------------------------
    web_host: str = field(
        default="127.0.0.1",
        metadata={"env": "LEDGER_WEB_HOST", "doc": "address `serve` listens on (behind the HTTPS proxy)"},
    )
    web_port: int = field(default=8000, metadata={"env": "LEDGER_WEB_PORT", "doc": "port `serve` listens on"})
    web_allow_http: bool = field(
        default=False,
        metadata={
            "env": "LEDGER_WEB_ALLOW_HTTP",
            "doc": "development only: allow login and session cookies over plain HTTP (otherwise HTTPS, "
            "as the proxy reports it, is required)",
        },
    )
    web_forwarded_allow_ips: str = field(
        default="127.0.0.1",
        metadata={
            "env": "LEDGER_WEB_FORWARDED_ALLOW_IPS",
            "doc": "proxies (comma-separated addresses) whose X-Forwarded-Proto/-For `serve` trusts",
        },
    )
    web_session_seconds: int = field(
        default=28800,
        metadata={"env": "LEDGER_WEB_SESSION_SECONDS", "doc": "a browser session's lifetime after login"},
    )
    web_token_max_days: int = field(
        default=90,
        metadata={"env": "LEDGER_WEB_TOKEN_MAX_DAYS", "doc": "the longest lifetime an API token may have"},
    )
    web_page_size: int = field(
        default=50,
        metadata={"env": "LEDGER_WEB_PAGE_SIZE", "doc": "rows per page of an API list when none is asked"},
    )
    web_max_page_size: int = field(
        default=500,
        metadata={"env": "LEDGER_WEB_MAX_PAGE_SIZE", "doc": "the most rows one page of an API list holds"},
    )
    web_login_max_failures: int = field(
        default=5,
        metadata={
            "env": "LEDGER_WEB_LOGIN_MAX_FAILURES",
            "doc": "failed logins per user name (and per client address, ten times this) before a pause",
        },
    )
    web_login_window_seconds: int = field(
        default=900,
        metadata={
            "env": "LEDGER_WEB_LOGIN_WINDOW_SECONDS",
            "doc": "the window failed logins are counted in, and the pause after too many",
        },
    )
    web_break_glass_hours: int = field(
        default=8,
        metadata={
            "env": "LEDGER_WEB_BREAK_GLASS_HOURS",
            "doc": "the longest a break_glass user (raw dead letters) may stay valid",
        },
    )

    @property
    def witness_dir(self) -> Path:
        """Where the last issued checkpoint is kept outside the database."""
        return self.checkpoint_witness_dir or self.var_dir / "witness"

    @property
    def dev_signing_key(self) -> Path:
        """The development signing key used when ``LEDGER_SIGNING_KEY_FILE`` is unset."""
        return self.var_dir / "signing.key"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from ``environ`` (default ``os.environ``); unset ones keep defaults."""
        env = os.environ if environ is None else environ
        values = {f.name: _parse(f, raw) for f in fields(cls) if (raw := _set_in(env, f)) is not None}
        page, most = values.get("web_page_size", 50), values.get("web_max_page_size", 500)
        if isinstance(page, int) and isinstance(most, int) and page > most:
            raise SettingsError(
                f"LEDGER_WEB_PAGE_SIZE ({page}) must not be larger than LEDGER_WEB_MAX_PAGE_SIZE ({most})"
            )
        return cls(**values)  # type: ignore[arg-type]

    @staticmethod
    def describe() -> list[tuple[str, str, str]]:
        """Return ``(env name, default, description)`` for every setting (used by ``--help``)."""
        return [(f.metadata["env"], str(f.default), f.metadata["doc"]) for f in fields(Settings)]

    @classmethod
    def report(cls, environ: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Each setting's env name, effective value, source (``environment`` or ``default``) and meaning.

        The password inside ``LEDGER_DATABASE_URL`` is masked. Raises ``SettingsError`` as ``from_env``.
        """
        env = os.environ if environ is None else environ
        settings = cls.from_env(env)
        out: list[dict[str, Any]] = []
        for f in fields(cls):
            value = getattr(settings, f.name)
            if isinstance(value, Path):
                value = str(value)
            elif f.name == "database_url":
                value = mask_url(value)
            name = f.metadata["env"]
            source = "environment" if _set_in(env, f) is not None else "default"
            out.append({"env": name, "value": value, "source": source, "description": f.metadata["doc"]})
        return out

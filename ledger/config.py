"""Typed settings read once from the environment in the composition root."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

__all__ = ["DEFAULT_DATABASE_URL", "Settings"]

DEFAULT_DATABASE_URL = "sqlite:///./var/ledger.db"


def _flag(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "y", "on"}


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
            "doc": "file holding the base64 key-encryption key; unset: a development key in var/",
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
        metadata={"env": "LEDGER_METRICS_PORT", "doc": "Prometheus port of `consume` (0: none)"},
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from ``environ`` (default ``os.environ``); unset ones keep defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"])
            if raw is None or raw == "":
                continue
            if f.name in {"master_key_file", "var_dir"}:
                values[f.name] = Path(raw)
            elif f.name == "allow_clock_override":
                values[f.name] = _flag(raw)
            elif f.name in {
                "batch_size",
                "pg_pool_size",
                "park_grace_seconds",
                "metrics_port",
                "kafka_session_timeout_ms",
                "decode_workers",
            }:
                values[f.name] = int(raw)
            else:
                values[f.name] = raw
        return cls(**values)  # type: ignore[arg-type]

    @staticmethod
    def describe() -> list[tuple[str, str, str]]:
        """Return ``(env name, default, description)`` for every setting (used by ``--help``)."""
        return [(f.metadata["env"], str(f.default), f.metadata["doc"]) for f in fields(Settings)]

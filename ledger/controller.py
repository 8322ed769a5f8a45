"""The controller header of the Article 30 record (spec 6.6), loaded from ``schemas/controller.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ledger._data import data_path
from ledger.errors import LedgerError

__all__ = ["DEFAULT_CONTROLLER_PATH", "ControllerConfigError", "ControllerIdentity", "load_controller"]

DEFAULT_CONTROLLER_PATH = data_path("schemas", "controller.json")


class ControllerConfigError(LedgerError):
    """The controller configuration file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class ControllerIdentity:
    """Who the controller is, how to reach it, and its security measures (Art 30(1)(a) and (g))."""

    version: str
    name: str
    email: str | None
    phone: str | None
    postal_address: str | None
    data_protection_officer: str | None
    representative: str | None
    joint_controllers: tuple[str, ...]
    security_measures: str

    def as_dict(self) -> dict[str, Any]:
        """The header as the ROPA report shows it."""
        return {
            "name": self.name,
            "contact": {"email": self.email, "phone": self.phone, "postal_address": self.postal_address},
            "data_protection_officer": self.data_protection_officer,
            "representative": self.representative,
            "joint_controllers": list(self.joint_controllers),
            "security_measures": self.security_measures,
            "config_version": self.version,
        }


def load_controller(path: Path | None = None) -> ControllerIdentity:
    """Read and check the controller configuration (default ``schemas/controller.json``); cached per path."""
    return _load((path or DEFAULT_CONTROLLER_PATH).resolve())


@lru_cache(maxsize=8)
def _load(path: Path) -> ControllerIdentity:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ControllerConfigError(
            f"cannot read controller configuration {path}: {type(exc).__name__}"
        ) from exc
    try:
        return _parse(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ControllerConfigError(f"controller configuration {path}: {type(exc).__name__} {exc}") from exc


def _parse(data: Any) -> ControllerIdentity:
    if not isinstance(data, dict):
        raise ValueError("top level must be an object")
    controller = data["controller"]
    contact = controller["contact"]
    joint = controller.get("joint_controllers", [])
    if not isinstance(joint, list):
        raise ValueError("joint_controllers must be a list")
    identity = ControllerIdentity(
        version=_text(data, "version"),
        name=_text(controller, "name"),
        email=_optional(contact, "email"),
        phone=_optional(contact, "phone"),
        postal_address=_optional(contact, "postal_address"),
        data_protection_officer=_optional(controller, "data_protection_officer"),
        representative=_optional(controller, "representative"),
        joint_controllers=tuple(_text({"joint": j}, "joint") for j in joint),
        security_measures=_text(data, "security_measures"),
    )
    if identity.email is None and identity.phone is None and identity.postal_address is None:
        raise ValueError("the controller needs at least one contact detail")
    return identity


def _text(node: dict[str, Any], key: str) -> str:
    value = node[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _optional(node: dict[str, Any], key: str) -> str | None:
    if node.get(key) is None:
        return None
    return _text(node, key)

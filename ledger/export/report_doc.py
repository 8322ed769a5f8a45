"""Read access to an export document (``export.json``) that tolerates missing or odd-typed parts.

Values come from upstream systems through the ledger; the report must render whatever arrives, so
every accessor returns a safe default instead of raising.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CheckpointFacts", "ExportDoc", "as_list", "as_map"]

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}", re.ASCII)


def as_map(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return list(value) if isinstance(value, list | tuple) else []


@dataclass(frozen=True)
class CheckpointFacts:
    """The body lines of a signed checkpoint note: origin, tree size and root hash (not verified here)."""

    origin: str
    size: str
    root_hash: str


class ExportDoc:
    """An export document with the lookups the report needs."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.raw = doc
        self.kind = str(doc.get("kind") or "subject")
        self.scope = as_map(doc.get("scope"))
        self.scope_id = str(self.scope.get("id") or "unknown")
        self.entries = [e for e in as_list(doc.get("entries")) if isinstance(e, Mapping)]
        self.alerts = [a for a in as_list(doc.get("alerts")) if isinstance(a, Mapping)]
        self.requests = [r for r in as_list(doc.get("requests")) if isinstance(r, Mapping)]
        self.recipients = [r for r in as_list(doc.get("recipients")) if isinstance(r, Mapping)]
        self.footer = as_map(doc.get("footer"))
        self.chain = as_map(self.footer.get("chain_verification"))
        self.generated_at = str(self.footer.get("generated_at") or "")
        self.seq_of: dict[str, int] = {}
        for e in self.entries:
            if isinstance(e.get("event_id"), str) and isinstance(e.get("seq"), int):
                self.seq_of[e["event_id"]] = e["seq"]
        self.alerts_of: dict[str, list[Mapping[str, Any]]] = {}
        for a in self.alerts:
            self.alerts_of.setdefault(str(a.get("triggering_event_id")), []).append(a)

    @property
    def controller(self) -> Mapping[str, Any]:
        """The controller identity (the ``controller`` object, unwrapped if the whole header was given)."""
        header = as_map(self.raw.get("controller"))
        inner = header.get("controller")
        return inner if isinstance(inner, Mapping) else header

    @property
    def controller_name(self) -> str:
        """The controller's name, or a placeholder."""
        return str(self.controller.get("name") or "Controller not named")

    @property
    def checkpoint(self) -> CheckpointFacts | None:
        """The checkpoint's origin, size and root from its note text, or None when there is none."""
        note = self.raw.get("checkpoint")
        if not isinstance(note, str) or not note.strip():
            return None
        lines = note.split("\n")
        return CheckpointFacts(
            origin=lines[0],
            size=lines[1] if len(lines) > 1 else "",
            root_hash=lines[2] if len(lines) > 2 else "",
        )

    def bundle_name(self) -> str:
        """The bundle's default file name (design: ``<kind>-<id>-<size>.zip``)."""
        cp = self.checkpoint
        size = cp.size if cp is not None and cp.size.isdigit() else "N"
        name = f"{self.kind}-{self.scope_id}-{size}.zip"
        # Shown inside a command to copy: anything but a plain file name gets a placeholder.
        return name if _SAFE_NAME.fullmatch(name) else "BUNDLE.zip"

"""Progress of long commands on a terminal: one line on stderr, rewritten in place; silent otherwise.

``ingest`` of a large file, ``project --rebuild`` and ``verify`` take a minute or more on a big ledger.
On a terminal they show how far they are; when stderr is a file or a pipe (scripts, CI, services) they
print nothing, so logs and captured output stay clean. Counts only, never a value.
"""

from __future__ import annotations

import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """``update(done)`` as work advances, ``close()`` at the end; prints only when ``stream`` is a TTY."""

    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        unit: str = "events",
        stream: TextIO | None = None,
        every_s: float = 0.2,
    ) -> None:
        import sys

        self.stream = stream if stream is not None else sys.stderr
        self.label = label
        self.total = total
        self.unit = unit
        self.every_s = every_s
        self.enabled = _is_tty(self.stream)
        self.done = 0
        self._started = time.monotonic()
        self._shown = 0.0
        self._width = 0

    def update(self, done: int) -> None:
        """Record ``done`` units finished; redraw at most every ``every_s`` seconds."""
        self.done = done
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._shown >= self.every_s:
            self._shown = now
            self._draw(now)

    def close(self) -> None:
        """Draw the final count and end the line (nothing when not a TTY)."""
        if not self.enabled:
            return
        self._draw(time.monotonic())
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self, now: float) -> None:
        elapsed = max(now - self._started, 1e-6)
        of = f" of {self.total:,}" if self.total is not None else ""
        text = f"{self.label}: {self.done:,}{of} {self.unit} ({self.done / elapsed:,.0f}/s)"
        pad = " " * max(self._width - len(text), 0)
        self._width = len(text)
        self.stream.write("\r" + text + pad)
        self.stream.flush()


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False

"""The exit codes of every ``privacy-ledger`` command (README, "Exit codes")."""

from __future__ import annotations

from typing import Final

__all__ = ["DEAD_LETTERED", "FAILURE", "OK", "USAGE"]

OK: Final = 0  # done: every message stored or recognised as a duplicate
FAILURE: Final = 1  # done, and the answer is bad: the chain is broken, the subject is unknown, ...
USAGE: Final = 2  # nothing done: a usage or configuration error (one line on stderr)
DEAD_LETTERED: Final = 3  # done, but some messages were dead-lettered (ingest) or refused (publish)

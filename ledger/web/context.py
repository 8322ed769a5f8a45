"""What the staff service holds while it runs: the ledger, its views, users, sessions and the read audit.

One :class:`WebContext` per app, built from an open :class:`~ledger.bootstrap.Ledger` (the composition
root): routes reach the same query and export services as the CLI through it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.web.identity import Directory, Principal
from ledger.web.roles import Interface, ReadReason, View
from ledger.web.sessions import LoginLimiter, SessionStore
from projections.paging import Page
from projections.service import Projections

__all__ = ["WebContext"]


@dataclass
class WebContext:
    """The running service's parts."""

    ledger: Ledger
    settings: Settings
    directory: Directory = field(init=False)
    sessions: SessionStore = field(init=False)
    limiter: LoginLimiter = field(init=False)
    projections: Projections = field(init=False)
    _catching_up: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        s, ledger = self.settings, self.ledger
        self.directory = Directory(
            ledger.store,
            ledger.clock,
            token_max_days=s.web_token_max_days,
            break_glass_hours=s.web_break_glass_hours,
        )
        self.sessions = SessionStore(self.directory, s.web_session_seconds)
        self.limiter = LoginLimiter(
            ledger.store,
            ledger.clock,
            max_failures=s.web_login_max_failures,
            window_seconds=s.web_login_window_seconds,
        )
        self.projections = Projections(ledger.store, ledger.keys, ledger.codes)

    @property
    def embedded(self) -> bool:
        """True on SQLite, where no ``project`` service runs: the views are brought up to date here."""
        return not self.ledger.store.dialect.is_postgres

    def now(self) -> datetime:
        """The ledger clock."""
        return self.ledger.clock()

    def query(
        self, view: str, *, as_of: datetime, subject: str | None, filters: dict[str, Any], values: bool = True
    ) -> Any:
        """One view's answer, as ``privacy-ledger query`` gives it (views brought up to date first on
        SQLite; on PostgreSQL ``project`` keeps them current). ``values=False``: the inventory without
        personal values, no key opened (``Projections.query``)."""
        if self.embedded:
            with self._catching_up:  # one runner per process: its in-memory state is not shared
                self.projections.catch_up()
        return self.projections.query(view, as_of=as_of, subject=subject, values=values, **filters)

    def query_page(
        self,
        view: str,
        *,
        as_of: datetime,
        subject: str | None,
        filters: dict[str, Any],
        offset: int,
        limit: int,
    ) -> tuple[list[Any], int]:
        """Rows ``offset`` to ``offset + limit`` of a list view's answer and its number of rows
        (``Projections.query_page``; views brought up to date first on SQLite, as :meth:`query`)."""
        if self.embedded:
            with self._catching_up:
                self.projections.catch_up()
        return self.projections.query_page(
            view, as_of=as_of, subject=subject, offset=offset, limit=limit, **filters
        )

    def page(
        self,
        view: str,
        *,
        as_of: datetime,
        subject: str | None,
        filters: dict[str, Any],
        after: list[Any] | None,
        limit: int,
    ) -> Page:
        """One page of a list view from the position ``after`` (``Projections.page``; views brought up
        to date first on SQLite, as :meth:`query`)."""
        if self.embedded:
            with self._catching_up:
                self.projections.catch_up()
        return self.projections.page(view, as_of=as_of, limit=limit, after=after, subject=subject, **filters)

    def record_read(
        self,
        principal: Principal,
        view: View,
        *,
        subject_id: str,
        reason: ReadReason,
        interface: Interface,
        case_id: str | None,
    ) -> None:
        """Append the spec 8 audit record of one plaintext read (``PersonalDataViewed``), as the CLI
        does (``Ledger.record_read``): the user's id, the role it acts with, view, reason, door, case.

        Raises if it cannot be stored; the caller then shows nothing.
        """
        self.ledger.record_read(
            subject_id,
            actor_ref=principal.actor_ref,
            role=str(principal.role),
            view=str(view),
            reason=str(reason),
            interface=str(interface),
            case_id=case_id,
        )

"""Who may call which route: the ONE table (deny by default; issue: roles on every route).

Every route of the app, the OpenAPI document included, has exactly one entry here, keyed by the
route's name (its OpenAPI ``operationId``). A route without an entry, or an entry without a route,
makes the app refuse to start (:func:`check_declared`). The gate (``ledger.web.gate``) enforces the
entry before the handler runs; handlers hold no authorisation code.

``reveals`` marks a route that answers with decrypted personal values (spec 8): the gate records
one ``PersonalDataViewed`` event for every successful answer, before the answer leaves, and sends
nothing if the record cannot be written. Such a route must take the ``reason`` query parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from ledger.errors import LedgerError
from ledger.web.roles import Interface, Role, View

__all__ = ["ACCESS", "LIST_VIEWS", "Access", "UndeclaredRoute", "check_declared"]


class UndeclaredRoute(LedgerError):
    """A route has no entry in the access table (or an entry names no route): the app does not start."""


@dataclass(frozen=True)
class Access:
    """What one route requires."""

    roles: frozenset[Role]
    public: bool = False  # no credentials needed (the OpenAPI document, liveness, login)
    reveals: View | None = None  # answers with plaintext personal values: audited, reason required
    # The path parameter holding the subject the read audit names; None: the handler names it.
    audit_subject: str | None = None
    # For a regulator: (scope kind, path parameter) of the case the route is about.
    case: tuple[str, str] | None = None
    # The path parameter the read audit records as ``case_id``; None: the ``case_id`` query parameter.
    audit_case: str | None = None
    interface: Interface = Interface.API


_ANY: Final = frozenset(Role)
_VIEWS: Final = frozenset({Role.VIEWER, Role.OFFICER, Role.DPO})
_PLAINTEXT: Final = frozenset({Role.OFFICER, Role.DPO})
_EXPORTS: Final = frozenset({Role.DPO, Role.REGULATOR})
_ACTIONS: Final = frozenset({Role.OFFICER, Role.DPO})  # staff actions that store an event
_PUBLIC: Final = Access(roles=frozenset(), public=True)

# The list views of spec 6 the API serves as pages and CSV files (as `privacy-ledger query` names them),
# and the read trail of spec 8.
LIST_VIEWS: Final = (
    "requests",
    "complaints",
    "alerts",
    "disclosures",
    "ropa",
    "notices",
    "retention",
    "reads",
)
# Who may list each view (every other: the viewer line). The read trail (spec 8: who read whose
# plaintext, why, for which case) is oversight of staff: it is for those who read plaintext and answer
# for it, the officers and the DPO, not for every viewer.
_LIST_ROLES: Final[Mapping[str, frozenset[Role]]] = {"reads": _PLAINTEXT}


def _export(view: View, kind: str, param: str) -> Access:
    return Access(
        roles=_EXPORTS,
        reveals=view,
        case=(kind, param),
        audit_case=None if kind == "subjects" else param,
    )


def _page(roles: frozenset[Role]) -> Access:
    return Access(roles=roles, interface=Interface.WEB)


ACCESS: Final[Mapping[str, Access]] = {
    # public
    "openapi": _PUBLIC,
    "livez": _PUBLIC,
    "healthz": _PUBLIC,  # the orchestrator's probes (ledger.web.routes_probes)
    "readyz": _PUBLIC,
    "login": _PUBLIC,
    # any signed-in user
    "logout": Access(roles=_ANY),
    "me": Access(roles=_ANY),
    # compliance views (spec 6), without plaintext
    **{f"list_{view}": Access(roles=_LIST_ROLES.get(view, _VIEWS)) for view in LIST_VIEWS},
    **{f"list_{view}_csv": Access(roles=_LIST_ROLES.get(view, _VIEWS)) for view in LIST_VIEWS},
    "subject_inventory": Access(roles=_VIEWS),
    "subject_consent": Access(roles=_VIEWS),
    "subject_portability": Access(roles=_VIEWS),
    "health": Access(roles=_VIEWS),
    "list_dead_letters": Access(roles=_VIEWS | {Role.BREAK_GLASS}),
    "list_dead_letters_csv": Access(roles=_VIEWS | {Role.BREAK_GLASS}),
    # plaintext reads (spec 8): audited, with a stated reason
    "subject_inventory_plaintext": Access(
        roles=_PLAINTEXT, reveals=View.INVENTORY, audit_subject="subject_id"
    ),
    "dead_letter_payload": Access(
        roles=frozenset({Role.BREAK_GLASS}), reveals=View.DEAD_LETTER_PAYLOAD, audit_case="dlq_id"
    ),
    # regulator exports (spec 6.8, 6.12): the DPO, or a regulator for the cases granted to it
    "export_subject": _export(View.SUBJECT_EXPORT, "subjects", "subject_id"),
    "export_access_pack": _export(View.ACCESS_PACK, "subjects", "subject_id"),
    "export_request": _export(View.REQUEST_EXPORT, "requests", "request_id"),
    "export_complaint": _export(View.COMPLAINT_EXPORT, "complaints", "complaint_id"),
    "verifier_key": Access(roles=_EXPORTS),
    # staff actions (ledger.web.actions): each stores one catalogue event; erasure is the DPO's alone
    "acknowledge_alert": Access(roles=_ACTIONS),
    "resolve_alert": Access(roles=_ACTIONS),
    "record_request_step": Access(roles=_ACTIONS),
    "acknowledge_complaint": Access(roles=_ACTIONS),
    "place_hold": Access(roles=_ACTIONS),
    "release_hold": Access(roles=_ACTIONS),
    "erase_subject": Access(roles=frozenset({Role.DPO})),
    # the staff pages (ledger.web.routes_pages): HTML for a browser, errors as pages, no session -> login
    "ui_stylesheet": _PUBLIC,
    "ui_icon": _PUBLIC,
    "ui_login_form": Access(roles=frozenset(), public=True, interface=Interface.WEB),
    "ui_login": Access(roles=frozenset(), public=True, interface=Interface.WEB),
    "ui_logout": _page(_ANY),
    "ui_home": _page(_ANY),
    "ui_dashboard": _page(_VIEWS),
    "ui_requests": _page(_VIEWS),
    "ui_request": _page(_VIEWS),
    "ui_subject_lookup": _page(_VIEWS),
    "ui_subject_open": _page(_VIEWS),
    "ui_subject": _page(_VIEWS),
    "ui_subject_plaintext": Access(
        roles=_PLAINTEXT, reveals=View.INVENTORY, audit_subject="subject_id", interface=Interface.WEB
    ),
    "ui_alerts": _page(_VIEWS),
    "ui_alert": _page(_VIEWS),
    "ui_complaints": _page(_VIEWS),
    "ui_disclosures": _page(_VIEWS),
    "ui_ropa": _page(_VIEWS),
    "ui_retention": _page(_VIEWS),
    "ui_notices": _page(_VIEWS),
    "ui_dead_letters": _page(_VIEWS | {Role.BREAK_GLASS}),
    "ui_reads": _page(_PLAINTEXT),
    "ui_alert_acknowledge": _page(_ACTIONS),
    "ui_alert_resolve": _page(_ACTIONS),
    "ui_request_step": _page(_ACTIONS),
    "ui_complaint_acknowledge": _page(_ACTIONS),
    "ui_hold_place": _page(_ACTIONS),
    "ui_hold_release": _page(_ACTIONS),
    "ui_erase_confirm": _page(frozenset({Role.DPO})),
    "ui_erase": _page(frozenset({Role.DPO})),
    "ui_exports": _page(_EXPORTS),
    "ui_export_download": _page(_EXPORTS),
    "ui_admin": _page(frozenset({Role.ADMIN})),
    # administration: users and tokens, nothing else
    "list_users": Access(roles=frozenset({Role.ADMIN})),
    "list_tokens": Access(roles=frozenset({Role.ADMIN})),
}


def check_declared(route_names: Iterable[str], table: Mapping[str, Access] = ACCESS) -> None:
    """Refuse (``UndeclaredRoute``) a route missing from the table, an entry naming no route, a
    non-public entry with no role, and a regulator route without a case to scope it."""
    names = list(route_names)
    missing = sorted({n for n in names if n not in table})
    if missing:
        raise UndeclaredRoute(
            f"routes with no entry in the access table (deny by default): {', '.join(missing)}"
        )
    stale = sorted(set(table) - set(names))
    if stale:
        raise UndeclaredRoute(f"access-table entries that name no route: {', '.join(stale)}")
    for name, access in table.items():
        if not access.public and not access.roles:
            raise UndeclaredRoute(f"route {name} declares no role")
        if access.public and (access.roles or access.reveals):
            raise UndeclaredRoute(f"public route {name} cannot declare roles or reveal plaintext")
        if Role.REGULATOR in access.roles and access.case is None and access.reveals is not None:
            raise UndeclaredRoute(f"route {name} reveals plaintext to regulators without a case to scope it")

"""The non-personal subject inventory row (spec 6.1) and portability eligibility (6.11)."""

from __future__ import annotations

from datetime import date

from fact_helpers import CODES, SUBJECT, Stream, at, stable_id

from ledger.domain.consent import GIVEN, NONE, OPT_OUT, WITHDRAWN
from ledger.domain.inventory import (
    AVAILABLE,
    ERASED,
    ERASURE_DEFERRED,
    InventoryItem,
    SubjectInventory,
    build_inventory,
    portability_items,
)


def inventory(s: Stream, minutes: float = 1000) -> SubjectInventory:
    return build_inventory(s.facts, CODES, as_of=at(minutes))


def item(inv: SubjectInventory, category: str) -> InventoryItem:
    (found,) = [i for i in inv.items if i.category == category]
    return found


def kid(category: str, version: int, subject: str = SUBJECT) -> dict[str, str]:
    return {"enc": "AAAA", "kid": f"{subject}/{category}/v{version}", "cat": category}


def test_empty_subject() -> None:
    inv = inventory(Stream())
    assert (inv.items, inv.erasure_state, inv.roles, inv.dm_suppressed) == ((), "none", (), False)


def test_item_reference_sources_purposes_and_times() -> None:
    s = Stream()
    c1 = s.collected(0, ["contact_details"])
    c2 = s.collected(
        5,
        ["contact_details"],
        source={"type": "third_party", "name": "referee", "third_party_name": "Example Org"},
        purposes=[{"purpose": "records_administration", "lawful_basis": "legal_obligation"}],
    )
    row = item(inventory(s), "contact_details")
    assert row.value_ref.event_id == c2.event_id
    assert row.value_ref.path == ("data_items", 0, "value")
    assert row.first_collected_at == at(0) and row.last_changed_at == at(5)
    assert row.sources == (("data_subject", "online"), ("third_party", "referee"))
    assert row.purposes == (
        ("agreement_performance", "contract"),
        ("records_administration", "legal_obligation"),
    )
    assert row.value_state == AVAILABLE and not row.special_category
    assert c1.event_id != c2.event_id


def test_rectification_is_the_latest_value_by_occurred_at() -> None:
    s = Stream()
    s.collected(0, ["postal_address"])
    r = s.rectified(10, ["postal_address"])
    s.collected(5, ["postal_address"])  # arrives late, older than the rectification
    row = item(inventory(s), "postal_address")
    assert row.value_ref.event_id == r.event_id
    assert row.value_ref.path == ("items", 0, "new_value")
    assert row.last_changed_at == at(10)


def test_as_of_hides_later_items() -> None:
    s = Stream()
    s.collected(0, ["contact_details"])
    s.collected(10, ["health"])
    assert [i.category for i in inventory(s, 5).items] == ["contact_details"]
    assert item(inventory(s), "health").special_category


def test_shredded_value_is_erased_even_for_an_earlier_as_of() -> None:
    s = Stream()
    s.add(
        "DataCollected",
        0,
        {
            "data_items": [
                {"category": "contact_details", "field": "email", "value": kid("contact_details", 1)}
            ],
            "source": {"type": "data_subject", "channel": "email"},
            "purposes": [{"purpose": "agreement_performance", "lawful_basis": "contract"}],
            "processing_means": "automated",
        },
    )
    s.collected(0, ["job_title"])
    s.erased(10, ["contact_details"])
    s.shredded(10, "contact_details")  # key_versions [1]
    inv = inventory(s, 5)
    assert item(inv, "contact_details").value_state == ERASED
    assert item(inv, "job_title").value_state == AVAILABLE
    assert inv.erasure_state == "partial"


def test_value_under_a_new_key_version_is_available() -> None:
    s = Stream()
    s.shredded(5, "contact_details")  # destroys v1
    s.add(
        "DataRectified",
        10,
        {
            "items": [
                {"category": "contact_details", "field": "email", "new_value": kid("contact_details", 2)}
            ]
        },
    )
    assert item(inventory(s), "contact_details").value_state == AVAILABLE


def test_unreadable_kid_is_erased_by_a_later_shred_only() -> None:
    s = Stream()
    s.collected(0, ["name"])
    s.shredded(5, "name")
    inv = inventory(s)
    assert item(inv, "name").value_state == ERASED
    assert inv.erasure_state == "full"
    s.collected(10, ["name"])
    assert item(inventory(s), "name").value_state == AVAILABLE


def test_deferred_erasure_and_legal_hold() -> None:
    s = Stream()
    s.collected(0, ["financial_details"])
    s.hold(1, ["financial_details"])
    s.erased(5, ["financial_details"])
    s.add(
        "ErasureDeferred",
        5,
        {
            "categories": ["financial_details"],
            "hold_ids": [stable_id("hold")],
            "ref_event_id": stable_id("e"),
        },
        producer_system="ledger",
    )
    row = item(inventory(s), "financial_details")
    assert row.value_state == ERASURE_DEFERRED and row.on_legal_hold
    assert inventory(s).erasure_state == "none"


def test_restricted_and_retain_until() -> None:
    s = Stream()
    s.collected(0, ["contact_details", "job_title"])
    rid = stable_id("r")
    s.restricted(1, ["contact_details"], purposes=["usage_demographics"], restriction_id=rid)
    s.add(
        "RetentionScheduleAssigned",
        2,
        {
            "categories": ["job_title"],
            "rule_id": "R1",
            "trigger_date": "2026-10-01",
            "retain_until": "2032-10-01",
        },
    )
    inv = inventory(s)
    assert item(inv, "contact_details").restricted and not item(inv, "job_title").restricted
    assert item(inv, "job_title").retain_until == date(2032, 10, 1)
    s.lifted(3, rid)
    assert not item(inventory(s), "contact_details").restricted


def test_portability_conditions() -> None:
    s = Stream()
    s.collected(0, ["contact_details"])  # data_subject, contract, automated
    s.collected(0, ["device_technical"], source={"type": "observed", "name": "website"})
    s.collected(0, ["job_title"], means="manual")
    s.collected(0, ["employer_details"], source={"type": "third_party", "name": "referee"})
    s.collected(0, ["product_service_usage"], source={"type": "derived", "name": "analytics"})
    s.collected(
        0,
        ["gender"],
        purposes=[
            {"purpose": "market_research_analysis", "lawful_basis": "legitimate_interests", "li_ref": "LI-2"}
        ],
    )
    s.collected(
        0, ["credit_history"], purposes=[{"purpose": "usage_demographics", "lawful_basis": "consent"}]
    )
    inv = inventory(s)
    assert portability_items(inv) == [
        ("contact_details", "f_contact_details"),
        ("credit_history", "f_credit_history"),
        ("device_technical", "f_device_technical"),
    ]
    s.shredded(5, "contact_details")
    assert ("contact_details", "f_contact_details") not in portability_items(inventory(s))


def test_roles_consents_preferences_suppression_recipients() -> None:
    s = Stream()
    s.registered(0, ["job_applicant"])
    s.add("SubjectRoleChanged", 1, {"role": "employee", "change": "added"})
    s.add("SubjectRoleChanged", 2, {"role": "job_applicant", "change": "removed"})
    s.consent_given(0, "usage_demographics")
    s.consent_given(0, "b2b_marketing")
    s.consent_withdrawn(3, "b2b_marketing")
    s.preference(0, "email", "opt_out")
    s.shared(
        4,
        recipient={
            "recipient_id": "SUP-002",
            "name": "B",
            "category": "supplier_processor",
            "role": "processor",
            "country": "GB",
        },
    )
    s.shared(4)
    s.shared(5, event_type="TransferredInternationally")
    inv = inventory(s)
    assert inv.roles == ("employee",)
    # Spec 6.3: every purpose consent is registered for is listed, NONE without a consent event.
    assert [(c.purpose, c.status) for c in inv.consents] == [
        ("agreed_other", NONE),
        ("b2b_marketing", WITHDRAWN),
        ("market_research_analysis", NONE),
        ("usage_demographics", GIVEN),
    ]
    assert [p.preference for p in inv.marketing_preferences if p.channel == "email"] == [OPT_OUT]
    assert inv.dm_suppressed
    assert inv.recipient_ids == ("SUP-001", "SUP-002")
    assert not inventory(s, 2).dm_suppressed

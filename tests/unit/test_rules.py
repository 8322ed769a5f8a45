"""Event-triggered compliance rules A1-A15, A22-A24 (spec section 5): one firing and one quiet case each."""

from __future__ import annotations

from fact_helpers import CODES, SUBJECT, Stream, at, stable_id

from ledger.domain.alert_model import Alert, alert_id
from ledger.domain.alerts import evaluate_subject
from ledger.domain.facts import Fact
from ledger.domain.rules import EVENT_RULES, RULE_CODES, RULE_EVENT_TYPES, alerts_for
from ledger.domain.rules_base import RuleInput, triggering_event_id
from ledger.domain.subject_state import SubjectState, value_categories

DM = "b2b_marketing"
NON_UK = {
    "recipient_id": "US-HOST-1",
    "name": "Example Hosting Inc",
    "category": "supplier_processor",
    "role": "processor",
    "country": "US",
}
CRA = {
    "recipient_id": "CRA-1",
    "name": "Example Credit Ltd",
    "category": "credit_reference_agency",
    "role": "controller",
    "country": "GB",
}
THIRD_PARTY = {"type": "third_party", "name": "client_organisation"}


def alerts(s: Stream) -> list[Alert]:
    return evaluate_subject(s.facts, CODES, resolved_subject_id=SUBJECT)


def fired(s: Stream, code: str) -> list[Alert]:
    return [a for a in alerts(s) if a.code == code]


def only_on(s: Stream, code: str, fact: Fact) -> Alert:
    found = fired(s, code)
    assert [a.trigger_id for a in found] == [fact.event_id], found
    return found[0]


def test_rule_table_covers_the_event_triggered_rules() -> None:
    assert list(EVENT_RULES) == [f"A{n}" for n in [*range(1, 16), 22, 23, 24]]
    assert len(RULE_CODES) == 18


def test_each_fact_is_judged_by_every_rule_that_can_fire_for_its_type() -> None:
    # A story where every rule fires, on every event type it can fire for; each fact at its own instant.
    s = Stream()
    oid, rid, hid = stable_id("dm-objection"), stable_id("r1"), stable_id("h1")
    s.collected(1, source=THIRD_PARTY)
    s.used(2, "relationship_follow_up", "contract", channel="email")  # A15
    s.collected(3, source=THIRD_PARTY)
    s.shared(4, "relationship_follow_up", "contract")  # A15 on a disclosure
    s.collected(5, source=THIRD_PARTY)
    s.shared(6, recipient=NON_UK, event_type="TransferredInternationally")  # A11, A15 on a transfer
    s.used(7, "usage_demographics", "consent")  # A1
    s.collected(8, purposes=[{"purpose": "usage_demographics", "lawful_basis": "consent"}])  # A1 entry
    s.shared(9, "legal_regulatory_compliance", "contract")  # A2
    s.used(10, "market_research_analysis", "legitimate_interests")  # A3
    s.objection(11, "direct_marketing", objection_id=oid)
    s.decided(12, oid, "overridden_compelling_grounds")  # A4
    s.preference(13, "email", "opt_out")
    s.used(14, DM, "legitimate_interests", li_ref="LI-1", channel="email")  # A5
    s.shared(15, DM, "consent")  # A5 on a share
    s.objection(16, "particular_situation", ["usage_demographics"])
    s.used(17, "usage_demographics", "legitimate_interests", li_ref="LI-4")  # A6
    s.shared(18, "usage_demographics", "legitimate_interests", li_ref="LI-4")  # A6 on a share
    s.restricted(19, ["contact_details"], restriction_id=rid)
    s.used(20, categories=["contact_details"])  # A7
    s.shared(21, recipient=NON_UK, event_type="TransferredInternationally")  # A7 on a transfer
    s.lifted(22, rid)  # A10
    s.shredded(23, "contact_details")
    s.used(24)  # A8
    s.collected(25)  # A9
    s.shredded(26, "contact_details")
    s.rectified(27, ["contact_details"])  # A9 on a rectification
    s.shredded(28, "name")
    s.registered(29, ["enquirer"], display_name=True)  # A9 on a registration
    s.shared(30, "crime_prevention", "legal_obligation", recipient=CRA)  # A12
    s.collected(31, ["health", "criminal_offence"])  # A13, A14
    s.decision(32, special_category_used=True, safeguards_notified=False)  # A22, A23
    s.hold(33, ["financial_details"], hold_id=hid)
    s.erased(34, ["financial_details"])  # A24
    state = SubjectState()
    fired: set[tuple[str, str]] = set()
    for fact in s.facts:
        given = RuleInput(fact, state, state.apply(fact, CODES), CODES, SUBJECT)
        every_rule = [a for _, rule in EVENT_RULES.values() for a in rule(given)]
        assert alerts_for(given) == every_rule, fact.event_type
        fired.update((a.code, fact.event_type) for a in every_rule)
    assert {code for code, _ in fired} == RULE_CODES
    for number, (code, _) in EVENT_RULES.items():
        assert {kind for c, kind in fired if c == code} <= RULE_EVENT_TYPES[number]
    kinds = {kind for c, kind in fired if c == "DATA_RECEIVED_AFTER_ERASURE"}
    assert kinds == {"DataCollected", "DataRectified", "SubjectRegistered"}


# -- A1 ----------------------------------------------------------------------------------------------
def test_a1_use_on_consent_basis_without_consent_raises_no_valid_consent() -> None:
    s = Stream()
    use = s.used(10, "usage_demographics", "consent")
    alert = only_on(s, "NO_VALID_CONSENT", use)
    assert alert.related_event_ids == ()
    assert "NONE" in alert.message


def test_a1_use_on_consent_basis_with_consent_given_is_quiet() -> None:
    s = Stream()
    s.consent_given(0, "usage_demographics")
    s.used(10, "usage_demographics", "consent")
    assert fired(s, "NO_VALID_CONSENT") == []


def test_a1_use_at_the_instant_of_withdrawal_raises_no_valid_consent_d8() -> None:
    s = Stream()
    s.consent_given(0, "usage_demographics")
    use = s.used(10, "usage_demographics", "consent")
    w = s.consent_withdrawn(10, "usage_demographics")  # same instant, appended after the use
    assert only_on(s, "NO_VALID_CONSENT", use).related_event_ids == (w.event_id,)


def test_a1_use_after_expiry_raises_no_valid_consent() -> None:
    s = Stream()
    s.consent_given(0, "usage_demographics", expires_at="2026-10-01T09:05:00Z")
    use = s.used(10, "usage_demographics", "consent")
    assert "EXPIRED" in only_on(s, "NO_VALID_CONSENT", use).message


def test_a1_legitimate_interest_use_needs_no_consent() -> None:
    s = Stream()
    s.used(10, "usage_demographics", "legitimate_interests", li_ref="LI-4")
    assert alerts(s) == []


def test_a1_collection_entry_on_consent_raises_per_entry_trigger() -> None:
    s = Stream()
    c = s.collected(
        10,
        purposes=[
            {"purpose": "agreement_performance", "lawful_basis": "contract"},
            {"purpose": "usage_demographics", "lawful_basis": "consent"},
        ],
    )
    found = fired(s, "NO_VALID_CONSENT")
    assert [a.trigger_id for a in found] == [f"{c.event_id}#1"]
    assert triggering_event_id(found[0].trigger_id) == c.event_id
    assert found[0].alert_id == alert_id("NO_VALID_CONSENT", f"{c.event_id}#1")


def test_a1_collection_entry_with_consent_at_the_same_instant_is_quiet() -> None:
    s = Stream()
    s.collected(10, purposes=[{"purpose": "usage_demographics", "lawful_basis": "consent"}])
    s.consent_given(10, "usage_demographics")
    assert fired(s, "NO_VALID_CONSENT") == []


# -- A2 ----------------------------------------------------------------------------------------------
def test_a2_unregistered_basis_raises_basis_not_registered() -> None:
    s = Stream()
    share = s.shared(10, "legal_regulatory_compliance", "contract")
    only_on(s, "BASIS_NOT_REGISTERED", share)


def test_a2_registered_basis_is_quiet() -> None:
    s = Stream()
    s.shared(10, "legal_regulatory_compliance", "legal_obligation")
    assert alerts(s) == []


def test_a2_each_collection_entry_is_judged_separately() -> None:
    s = Stream()
    c = s.collected(
        10,
        purposes=[
            {"purpose": "relationship_follow_up", "lawful_basis": "legal_obligation"},
            {"purpose": "agreement_performance", "lawful_basis": "contract"},
            {"purpose": "service_change_notices", "lawful_basis": "vital_interests"},
        ],
    )
    found = fired(s, "BASIS_NOT_REGISTERED")
    assert [a.trigger_id for a in found] == [f"{c.event_id}#0", f"{c.event_id}#2"]
    assert len({a.alert_id for a in found}) == 2


# -- A3 ----------------------------------------------------------------------------------------------
def test_a3_legitimate_interests_without_li_ref_raises_li_not_documented() -> None:
    s = Stream()
    use = s.used(10, "market_research_analysis", "legitimate_interests")
    assert "missing" in only_on(s, "LI_NOT_DOCUMENTED", use).message


def test_a3_wrong_li_ref_raises_li_not_documented_without_echoing_it() -> None:
    s = Stream()
    use = s.used(10, "market_research_analysis", "legitimate_interests", li_ref="free text by producer")
    alert = only_on(s, "LI_NOT_DOCUMENTED", use)
    assert "free text" not in alert.message and "LI-2" in alert.message


def test_a3_matching_li_ref_is_quiet() -> None:
    s = Stream()
    s.used(10, "market_research_analysis", "legitimate_interests", li_ref="LI-2")
    assert fired(s, "LI_NOT_DOCUMENTED") == []


# -- A4 ----------------------------------------------------------------------------------------------
def test_a4_override_of_dm_objection_raises_dm_objection_override_not_permitted() -> None:
    s = Stream()
    oid = stable_id("dm-objection")
    raised = s.objection(0, "direct_marketing", objection_id=oid)
    decision = s.decided(5, oid, "overridden_compelling_grounds")
    alert = only_on(s, "DM_OBJECTION_OVERRIDE_NOT_PERMITTED", decision)
    assert alert.related_event_ids == (raised.event_id,)


def test_a4_override_of_particular_situation_objection_is_quiet() -> None:
    s = Stream()
    oid = stable_id("ps-objection")
    s.objection(0, "particular_situation", ["usage_demographics"], objection_id=oid)
    s.decided(5, oid, "overridden_compelling_grounds")
    assert alerts(s) == []


def test_a4_upholding_a_dm_objection_is_quiet() -> None:
    s = Stream()
    oid = stable_id("dm-objection")
    s.objection(0, "direct_marketing", objection_id=oid)
    s.decided(5, oid, "upheld")
    assert alerts(s) == []


# -- A5 ----------------------------------------------------------------------------------------------
def test_a5_marketing_email_after_email_opt_out_raises_marketing_after_opt_out() -> None:
    s = Stream()
    out = s.preference(0, "email", "opt_out")
    use = s.used(10, DM, "legitimate_interests", li_ref="LI-1", channel="email")
    assert only_on(s, "MARKETING_AFTER_OPT_OUT", use).related_event_ids == (out.event_id,)


def test_a5_marketing_phone_after_email_opt_out_is_quiet() -> None:
    s = Stream()
    s.preference(0, "email", "opt_out")
    s.used(10, DM, "legitimate_interests", li_ref="LI-1", channel="phone")
    assert alerts(s) == []


def test_a5_li_marketing_after_consent_withdrawal_raises_marketing_after_opt_out_d12() -> None:
    s = Stream()
    s.consent_given(0)
    s.consent_withdrawn(5)
    use = s.used(10, DM, "legitimate_interests", li_ref="LI-1", channel="post")
    only_on(s, "MARKETING_AFTER_OPT_OUT", use)


def test_a5_marketing_at_the_instant_of_dm_objection_raises_d8() -> None:
    s = Stream()
    use = s.used(10, DM, "legitimate_interests", li_ref="LI-1", channel="email")
    s.objection(10, "direct_marketing")
    only_on(s, "MARKETING_AFTER_OPT_OUT", use)


def test_a5_marketing_after_opt_in_following_objection_is_quiet_d13() -> None:
    s = Stream()
    s.objection(0, "direct_marketing")
    s.preference(5, "sms", "opt_in")
    s.used(10, DM, "legitimate_interests", li_ref="LI-1", channel="sms")
    assert alerts(s) == []


def test_a5_dm_share_after_objection_raises_marketing_after_opt_out() -> None:
    s = Stream()
    s.objection(0, "direct_marketing")
    share = s.shared(10, DM, "legitimate_interests", li_ref="LI-1")
    only_on(s, "MARKETING_AFTER_OPT_OUT", share)


def test_a5_dm_share_after_single_channel_opt_out_is_quiet() -> None:
    s = Stream()
    s.preference(0, "email", "opt_out")
    s.shared(10, DM, "legitimate_interests", li_ref="LI-1")
    assert alerts(s) == []


# -- A6 ----------------------------------------------------------------------------------------------
def test_a6_use_under_pending_objection_raises_processing_after_objection() -> None:
    s = Stream()
    raised = s.objection(0, "particular_situation", ["usage_demographics"])
    use = s.used(10, "usage_demographics", "legitimate_interests", li_ref="LI-4")
    assert only_on(s, "PROCESSING_AFTER_OBJECTION", use).related_event_ids == (raised.event_id,)


def test_a6_share_under_upheld_objection_raises_processing_after_objection() -> None:
    s = Stream()
    oid = stable_id("ps")
    raised = s.objection(0, "particular_situation", ["usage_demographics"], objection_id=oid)
    decided = s.decided(5, oid, "upheld")
    share = s.shared(10, "usage_demographics", "legitimate_interests", li_ref="LI-4")
    alert = only_on(s, "PROCESSING_AFTER_OBJECTION", share)
    assert alert.related_event_ids == (raised.event_id, decided.event_id)


def test_a6_use_after_objection_overridden_is_quiet() -> None:
    s = Stream()
    oid = stable_id("ps")
    s.objection(0, "particular_situation", ["usage_demographics"], objection_id=oid)
    s.decided(5, oid, "overridden_legal_claims")
    s.used(10, "usage_demographics", "legitimate_interests", li_ref="LI-4")
    assert alerts(s) == []


def test_a6_use_for_another_purpose_is_quiet() -> None:
    s = Stream()
    s.objection(0, "particular_situation", ["usage_demographics"])
    s.used(10, "market_research_analysis", "legitimate_interests", li_ref="LI-2")
    assert alerts(s) == []


# -- A7 ----------------------------------------------------------------------------------------------
def test_a7_use_of_restricted_category_raises_processing_while_restricted() -> None:
    s = Stream()
    r = s.restricted(0, ["contact_details"])
    use = s.used(10, categories=["contact_details", "job_title"])
    assert only_on(s, "PROCESSING_WHILE_RESTRICTED", use).related_event_ids == (r.event_id,)


def test_a7_transfer_under_star_restriction_for_its_purpose_raises() -> None:
    s = Stream()
    s.restricted(0, ["*"], purposes=["agreement_performance"])
    t = s.shared(10, categories=["job_title"], event_type="TransferredInternationally")
    only_on(s, "PROCESSING_WHILE_RESTRICTED", t)


def test_a7_restriction_for_other_purpose_is_quiet() -> None:
    s = Stream()
    s.restricted(0, ["*"], purposes=["usage_demographics"])
    s.used(10)
    assert alerts(s) == []


def test_a7_restriction_exemption_is_quiet() -> None:
    s = Stream()
    s.restricted(0, ["contact_details"])
    s.used(10, restriction_exemption="legal_claims")
    assert alerts(s) == []


def test_a7_lifted_restriction_is_quiet() -> None:
    s = Stream()
    rid = stable_id("r1")
    s.restricted(0, ["contact_details"], restriction_id=rid)
    s.lifted(5, rid, informed=at(4))
    s.used(10)
    assert alerts(s) == []


# -- A8 ----------------------------------------------------------------------------------------------
def test_a8_use_of_shredded_category_raises_processing_after_erasure() -> None:
    s = Stream()
    s.collected(0)
    s.erased(5, ["contact_details"])
    shred = s.shredded(5, "contact_details")
    use = s.used(10)
    assert only_on(s, "PROCESSING_AFTER_ERASURE", use).related_event_ids == (shred.event_id,)


def test_a8_use_at_the_instant_of_the_shred_raises() -> None:
    s = Stream()
    use = s.used(5)
    s.shredded(5, "contact_details")
    only_on(s, "PROCESSING_AFTER_ERASURE", use)


def test_a8_use_after_recollection_is_quiet() -> None:
    s = Stream()
    s.shredded(5, "contact_details")
    s.collected(7)
    s.used(10)
    assert fired(s, "PROCESSING_AFTER_ERASURE") == []


def test_a8_use_of_other_category_is_quiet() -> None:
    s = Stream()
    s.shredded(5, "health")
    s.used(10)
    assert alerts(s) == []


# -- A9 ----------------------------------------------------------------------------------------------
def test_a9_collection_of_shredded_category_raises_data_received_after_erasure() -> None:
    s = Stream()
    shred = s.shredded(5, "contact_details")
    c = s.collected(10)
    assert only_on(s, "DATA_RECEIVED_AFTER_ERASURE", c).related_event_ids == (shred.event_id,)


def test_a9_registration_display_name_after_name_shredded_raises() -> None:
    s = Stream()
    s.shredded(5, "name")
    reg = s.registered(10, ["enquirer"], display_name=True)
    only_on(s, "DATA_RECEIVED_AFTER_ERASURE", reg)


def test_a9_rectification_of_shredded_category_raises() -> None:
    s = Stream()
    s.shredded(5, "postal_address")
    r = s.rectified(10, ["postal_address"])
    only_on(s, "DATA_RECEIVED_AFTER_ERASURE", r)


def test_a9_only_the_first_value_after_the_shred_raises() -> None:
    s = Stream()
    s.shredded(5, "contact_details")
    first = s.collected(10)
    s.collected(11)
    only_on(s, "DATA_RECEIVED_AFTER_ERASURE", first)


def test_a9_registration_without_display_name_is_quiet() -> None:
    s = Stream()
    s.shredded(5, "name")
    s.registered(10, ["enquirer"])
    assert alerts(s) == []


def test_a9_collection_of_other_category_is_quiet() -> None:
    s = Stream()
    s.shredded(5, "health")
    s.collected(10)
    assert alerts(s) == []


def test_a9_collection_before_the_shred_at_the_same_instant_is_quiet() -> None:
    s = Stream()
    s.collected(5)
    s.shredded(5, "contact_details")
    assert fired(s, "DATA_RECEIVED_AFTER_ERASURE") == []


# -- A10 ---------------------------------------------------------------------------------------------
def test_a10_lift_without_subject_informed_raises_restriction_lifted_without_prior_notice() -> None:
    s = Stream()
    rid = stable_id("r1")
    r = s.restricted(0, ["contact_details"], restriction_id=rid)
    lift = s.lifted(10, rid)
    assert only_on(s, "RESTRICTION_LIFTED_WITHOUT_PRIOR_NOTICE", lift).related_event_ids == (r.event_id,)


def test_a10_subject_informed_after_the_lift_raises() -> None:
    s = Stream()
    rid = stable_id("r1")
    s.restricted(0, ["contact_details"], restriction_id=rid)
    lift = s.lifted(10, rid, informed=at(11))
    only_on(s, "RESTRICTION_LIFTED_WITHOUT_PRIOR_NOTICE", lift)


def test_a10_subject_informed_at_or_before_the_lift_is_quiet() -> None:
    s = Stream()
    rid = stable_id("r1")
    s.restricted(0, ["contact_details"], restriction_id=rid)
    s.lifted(10, rid, informed=at(10))
    assert alerts(s) == []


# -- A11 ---------------------------------------------------------------------------------------------
def test_a11_share_to_us_without_dpf_raises_transfer_without_safeguard() -> None:
    s = Stream()
    share = s.shared(10, recipient=NON_UK)
    assert "US-HOST-1" in only_on(s, "TRANSFER_WITHOUT_SAFEGUARD", share).message


def test_a11_international_transfer_under_idta_is_quiet() -> None:
    s = Stream()
    s.shared(10, recipient=NON_UK, transfer_mechanism="idta", event_type="TransferredInternationally")
    assert alerts(s) == []


def test_a11_share_to_dpf_certified_us_recipient_is_quiet() -> None:
    s = Stream()
    s.shared(10, recipient={**NON_UK, "dpf_certified": True})
    assert alerts(s) == []


# -- A12 ---------------------------------------------------------------------------------------------
def test_a12_cra_share_without_notice_raises_cra_share_without_advance_notice() -> None:
    s = Stream()
    share = s.shared(10, "crime_prevention", "legal_obligation", recipient=CRA)
    only_on(s, "CRA_SHARE_WITHOUT_ADVANCE_NOTICE", share)


def test_a12_cra_notice_at_the_same_instant_is_not_in_advance() -> None:
    s = Stream()
    s.notice(10, ["cra_sharing"])
    share = s.shared(10, "crime_prevention", "legal_obligation", recipient=CRA)
    only_on(s, "CRA_SHARE_WITHOUT_ADVANCE_NOTICE", share)


def test_a12_general_notice_only_still_raises() -> None:
    s = Stream()
    s.notice(0, ["general"])
    share = s.shared(10, "crime_prevention", "legal_obligation", recipient=CRA)
    only_on(s, "CRA_SHARE_WITHOUT_ADVANCE_NOTICE", share)


def test_a12_cra_notice_strictly_earlier_is_quiet() -> None:
    s = Stream()
    s.notice(9, ["general", "cra_sharing"])
    s.shared(10, "crime_prevention", "legal_obligation", recipient=CRA)
    assert alerts(s) == []


# -- A13 / A14 ---------------------------------------------------------------------------------------
def test_a13_health_without_art9_condition_raises_one_special_category_alert() -> None:
    s = Stream()
    c = s.collected(10, ["health", "genetic", "name"])
    only_on(s, "SPECIAL_CATEGORY_WITHOUT_CONDITION", c)


def test_a13_health_with_an_art9_condition_on_some_purpose_is_quiet() -> None:
    s = Stream()
    s.collected(
        10,
        ["health"],
        purposes=[
            {"purpose": "agreement_performance", "lawful_basis": "contract"},
            {
                "purpose": "legal_regulatory_compliance",
                "lawful_basis": "legal_obligation",
                "art9_condition": "employment_social_security",
            },
        ],
    )
    assert alerts(s) == []


def test_a14_criminal_data_without_condition_raises_criminal_data_without_condition() -> None:
    s = Stream()
    c = s.collected(10, ["criminal_offence"])
    only_on(s, "CRIMINAL_DATA_WITHOUT_CONDITION", c)
    assert fired(s, "SPECIAL_CATEGORY_WITHOUT_CONDITION") == []


def test_a14_criminal_data_with_art10_condition_is_quiet() -> None:
    s = Stream()
    s.collected(
        10,
        ["criminal_offence"],
        purposes=[
            {"purpose": "crime_prevention", "lawful_basis": "legal_obligation", "art10_condition_ref": "x"}
        ],
    )
    assert alerts(s) == []


# -- A15 ---------------------------------------------------------------------------------------------
def test_a15_first_email_after_third_party_collection_raises_art14_notice_alert() -> None:
    s = Stream()
    c = s.collected(0, source=THIRD_PARTY)
    first = s.used(10, "relationship_follow_up", "contract", channel="email")
    s.used(20, "relationship_follow_up", "contract", channel="email")
    alert = only_on(s, "ART14_NOTICE_NOT_PROVIDED_AT_FIRST_CONTACT", first)
    assert alert.related_event_ids == (c.event_id,)


def test_a15_first_disclosure_after_public_source_collection_raises() -> None:
    s = Stream()
    s.collected(0, source={"type": "public_source", "name": "company_register"})
    share = s.shared(10)
    only_on(s, "ART14_NOTICE_NOT_PROVIDED_AT_FIRST_CONTACT", share)


def test_a15_notice_at_the_contact_instant_is_quiet() -> None:
    s = Stream()
    s.collected(0, source=THIRD_PARTY)
    s.used(10, "relationship_follow_up", "contract", channel="email")
    s.notice(10)
    assert alerts(s) == []


def test_a15_exempt_collection_is_quiet() -> None:
    s = Stream()
    s.collected(0, source=THIRD_PARTY, art14_exemption="disproportionate_effort")
    s.used(10, "relationship_follow_up", "contract", channel="email")
    assert alerts(s) == []


def test_a15_use_without_channel_is_not_a_communication() -> None:
    s = Stream()
    s.collected(0, source=THIRD_PARTY)
    s.used(10)
    assert alerts(s) == []


def test_a15_contact_before_the_collection_is_not_first_contact_after_it() -> None:
    s = Stream()
    s.used(0, "relationship_follow_up", "contract", channel="email")
    s.collected(5, source=THIRD_PARTY)
    assert alerts(s) == []


def test_a15_art13_collection_is_quiet() -> None:
    s = Stream()
    s.collected(0)
    s.used(10, "relationship_follow_up", "contract", channel="email")
    assert alerts(s) == []


# -- A22 / A23 ---------------------------------------------------------------------------------------
def test_a22_special_category_adm_without_ground_raises_adm_special_category_not_permitted() -> None:
    s = Stream()
    d = s.decision(10, special_category_used=True)
    only_on(s, "ADM_SPECIAL_CATEGORY_NOT_PERMITTED", d)


def test_a22_explicit_consent_is_quiet() -> None:
    s = Stream()
    s.decision(10, special_category_used=True, lawful_basis="consent", art9_condition="explicit_consent")
    assert alerts(s) == []


def test_a22_contract_with_substantial_public_interest_is_quiet() -> None:
    s = Stream()
    s.decision(10, special_category_used=True, art9_condition="substantial_public_interest")
    assert alerts(s) == []


def test_a22_substantial_public_interest_on_legitimate_interests_raises() -> None:
    s = Stream()
    d = s.decision(
        10,
        special_category_used=True,
        lawful_basis="legitimate_interests",
        art9_condition="substantial_public_interest",
    )
    only_on(s, "ADM_SPECIAL_CATEGORY_NOT_PERMITTED", d)


def test_a22_not_solely_automated_is_quiet() -> None:
    s = Stream()
    s.decision(10, special_category_used=True, solely_automated=False)
    assert alerts(s) == []


def test_a23_significant_solely_automated_without_safeguards_raises_adm_safeguards_missing() -> None:
    s = Stream()
    d = s.decision(10, safeguards_notified=False)
    only_on(s, "ADM_SAFEGUARDS_MISSING", d)


def test_a23_insignificant_decision_without_safeguards_is_quiet() -> None:
    s = Stream()
    s.decision(10, significant=False, safeguards_notified=False)
    assert alerts(s) == []


# -- A24 ---------------------------------------------------------------------------------------------
def test_a24_erasure_of_held_category_raises_erasure_blocked_by_legal_hold() -> None:
    s = Stream()
    hold = s.hold(0, ["financial_details"])
    e = s.erased(10, ["financial_details", "contact_details"])
    assert only_on(s, "ERASURE_BLOCKED_BY_LEGAL_HOLD", e).related_event_ids == (hold.event_id,)


def test_a24_full_erasure_under_any_hold_raises() -> None:
    s = Stream()
    s.hold(0, ["financial_details"])
    e = s.erased(10, ["*"])
    only_on(s, "ERASURE_BLOCKED_BY_LEGAL_HOLD", e)


def test_a24_erasure_after_hold_released_is_quiet() -> None:
    s = Stream()
    hid = stable_id("h1")
    s.hold(0, ["*"], hold_id=hid)
    s.released(5, hid)
    s.erased(10, ["contact_details"])
    assert alerts(s) == []


def test_a24_erasure_of_other_category_is_quiet() -> None:
    s = Stream()
    s.hold(0, ["financial_details"])
    s.erased(10, ["contact_details"])
    assert alerts(s) == []


# -- alert fields ------------------------------------------------------------------------------------
def test_alert_fields_are_deterministic_and_hold_no_values() -> None:
    s = Stream()
    s.preference(0, "email", "opt_out")
    use = s.used(10, DM, "legitimate_interests", li_ref="LI-1", channel="email")
    first = alerts(s)
    assert first == alerts(s)
    (alert,) = first
    assert alert.subject_id == SUBJECT
    assert alert.event_occurred_at == "2026-10-01T09:10:00.000000Z"
    assert alert.alert_id == alert_id("MARKETING_AFTER_OPT_OUT", use.event_id)
    assert alert.severity == "critical"
    assert use.event_id in alert.message
    assert "enc" not in alert.message and "AAAA" not in alert.message


def test_alerts_come_in_business_order_of_trigger() -> None:
    s = Stream()
    late = s.used(20, "usage_demographics", "consent")
    early = s.used(10, "usage_demographics", "consent")
    assert [a.trigger_id for a in alerts(s)] == [early.event_id, late.event_id]


# -- ties and the state fold -------------------------------------------------------------------------
def test_a6_use_at_the_instant_of_the_objection_raises_d8() -> None:
    s = Stream()
    use = s.used(10, "usage_demographics", "legitimate_interests", li_ref="LI-4")
    s.objection(10, "particular_situation", ["usage_demographics"])
    only_on(s, "PROCESSING_AFTER_OBJECTION", use)


def test_a7_use_at_the_instant_of_the_restriction_raises() -> None:
    s = Stream()
    use = s.used(10)
    s.restricted(10, ["*"])
    only_on(s, "PROCESSING_WHILE_RESTRICTED", use)


def test_subject_state_copy_is_independent_and_fold_reports_arrivals() -> None:
    s = Stream()
    state = SubjectState()
    state.apply(s.shredded(0, "name"), CODES)
    snapshot = state.copy()
    arrival = state.apply(s.registered(1, ["enquirer"], display_name=True), CODES)
    assert arrival.shredded == (("name", (s.facts[0].event_id,)),)
    assert state.shredded("name") == () and snapshot.shredded("name") == (s.facts[0].event_id,)
    assert state.roles == frozenset({"enquirer"}) and snapshot.roles == frozenset()
    assert value_categories(s.rectified(2, ["title", "name", "title"])) == ("name", "title")
    assert value_categories(s.used(3)) == ()

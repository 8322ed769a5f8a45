"""Consent state, marketing preferences, objections and DM suppression (spec 6.3, D8, D12, D13)."""

from __future__ import annotations

from fact_helpers import CODES, Stream, at, stable_id, text

from ledger.domain.consent import (
    CONSENT_ID_MISMATCH,
    EXPIRED,
    GIVEN,
    NONE,
    OPT_IN,
    OPT_OUT,
    OVERRIDDEN,
    PENDING,
    UNSPECIFIED,
    UPHELD,
    WITHDRAWN,
    ConsentBook,
    consent_purposes,
    fold_consent,
    parse_instant,
)

DM = "b2b_marketing"


def book(s: Stream, minutes: float) -> ConsentBook:
    return fold_consent(s.facts, CODES, at(minutes))


# -- consent status ----------------------------------------------------------------------------------
def test_no_consent_event_is_none() -> None:
    assert book(Stream(), 10).status(DM, at(10)).status == NONE


def test_consent_given_is_given_with_its_details() -> None:
    s = Stream()
    g = s.consent_given(0, consent_id=stable_id("c1"), explicit=True)
    status = book(s, 10).status(DM, at(10))
    assert status.status == GIVEN
    assert status.consent_id == stable_id("c1")
    assert status.given_at == at(0)
    assert status.method == "web_form"
    assert status.notice_version == "v1"
    assert status.explicit is True
    assert status.withdrawn_at is None
    assert status.event_id == g.event_id


def test_consent_is_per_purpose() -> None:
    s = Stream()
    s.consent_given(0, purpose="market_research_analysis")
    assert book(s, 10).status(DM, at(10)).status == NONE


def test_withdrawal_after_consent_is_withdrawn() -> None:
    s = Stream()
    s.consent_given(0, consent_id=stable_id("c1"))
    w = s.consent_withdrawn(5, consent_id=stable_id("c1"))
    status = book(s, 10).status(DM, at(10))
    assert status.status == WITHDRAWN
    assert status.withdrawn_at == at(5)
    assert status.consent_id == stable_id("c1")
    assert status.event_id == w.event_id


def test_status_as_of_before_withdrawal_is_given() -> None:
    s = Stream()
    s.consent_given(0)
    s.consent_withdrawn(5)
    assert book(s, 4).status(DM, at(4)).status == GIVEN


def test_withdrawal_without_consent_is_withdrawn() -> None:
    s = Stream()
    s.consent_withdrawn(5)
    status = book(s, 10).status(DM, at(10))
    assert status.status == WITHDRAWN
    assert status.consent_id is None


def test_new_consent_after_withdrawal_is_given() -> None:
    s = Stream()
    s.consent_given(0)
    s.consent_withdrawn(5)
    s.consent_given(6, consent_id=stable_id("c2"))
    status = book(s, 10).status(DM, at(10))
    assert (status.status, status.consent_id, status.withdrawn_at) == (GIVEN, stable_id("c2"), None)


def test_consent_expires_at_its_instant() -> None:
    s = Stream()
    s.consent_given(0, expires_at=text(at(30)))
    assert book(s, 29).status(DM, at(29)).status == GIVEN
    assert book(s, 30).status(DM, at(30)).status == EXPIRED
    assert book(s, 31).status(DM, at(31)).expires_at == at(30)


def test_later_withdrawal_beats_expiry() -> None:
    s = Stream()
    s.consent_given(0, expires_at=text(at(30)))
    s.consent_withdrawn(40)
    assert book(s, 50).status(DM, at(50)).status == WITHDRAWN


def test_same_instant_given_and_withdrawn_the_later_seq_wins() -> None:
    s = Stream()
    s.consent_given(5)
    s.consent_withdrawn(5)
    assert book(s, 5).status(DM, at(5)).status == WITHDRAWN
    s2 = Stream()
    s2.consent_withdrawn(5)
    s2.consent_given(5)
    assert book(s2, 5).status(DM, at(5)).status == GIVEN


def test_late_arriving_withdrawal_with_older_instant_is_ordered_by_occurred_at() -> None:
    s = Stream()
    s.consent_given(10)
    s.consent_withdrawn(5)  # appended later, happened earlier
    assert book(s, 20).status(DM, at(20)).status == GIVEN


def test_statuses_sorted_by_purpose() -> None:
    s = Stream()
    s.consent_given(0, purpose="usage_demographics")
    s.consent_given(0, purpose=DM)
    assert [c.purpose for c in book(s, 1).statuses(at(1))] == [DM, "usage_demographics"]


REGISTERED_FOR_CONSENT = ["agreed_other", "b2b_marketing", "market_research_analysis", "usage_demographics"]


def test_the_consent_view_lists_every_purpose_registered_for_consent_as_none_without_events() -> None:
    s = Stream()
    s.used(0)  # contract: not a consent purpose
    listed = book(s, 1).statuses(at(1), consent_purposes(s.facts, CODES, at(1)))
    assert [(c.purpose, c.status) for c in listed] == [(p, NONE) for p in REGISTERED_FOR_CONSENT]
    assert sorted(p for p, r in CODES.purposes.items() if "consent" in r.registered_bases) == (
        REGISTERED_FOR_CONSENT
    )


def test_the_consent_view_lists_a_purpose_processed_on_consent_even_if_not_registered_for_it() -> None:
    s = Stream()
    s.used(5, purpose="marketing_product_development", basis="consent")  # A1 and A2 territory
    s.collected(6, ["contact_details"], purposes=[{"purpose": "crime_prevention", "lawful_basis": "consent"}])
    s.consent_given(7, purpose="records_administration")
    purposes = consent_purposes(s.facts, CODES, at(5.5))
    assert "marketing_product_development" in purposes and "crime_prevention" not in purposes
    listed = {
        c.purpose: c.status for c in book(s, 10).statuses(at(10), consent_purposes(s.facts, CODES, at(10)))
    }
    assert listed == {
        **dict.fromkeys(REGISTERED_FOR_CONSENT, NONE),
        "marketing_product_development": NONE,
        "crime_prevention": NONE,
        "records_administration": GIVEN,
    }
    assert "legal_regulatory_compliance" not in listed


# -- annotations -------------------------------------------------------------------------------------
def test_withdrawal_without_earlier_consent_is_annotated() -> None:
    s = Stream()
    w = s.consent_withdrawn(5)
    assert ConsentBook().apply(w, CODES) == (CONSENT_ID_MISMATCH,)


def test_withdrawal_with_other_consent_id_is_annotated_and_still_effective() -> None:
    s = Stream()
    b = ConsentBook()
    b.apply(s.consent_given(0, consent_id=stable_id("c1")), CODES)
    assert b.apply(s.consent_withdrawn(5, consent_id=stable_id("other")), CODES) == (CONSENT_ID_MISMATCH,)
    assert b.status(DM, at(6)).status == WITHDRAWN


def test_withdrawal_matching_or_without_consent_id_is_not_annotated() -> None:
    s = Stream()
    b = ConsentBook()
    b.apply(s.consent_given(0, consent_id=stable_id("c1")), CODES)
    assert b.apply(s.consent_withdrawn(5, consent_id=stable_id("c1")), CODES) == ()
    assert b.apply(s.consent_withdrawn(6), CODES) == ()


# -- preferences -------------------------------------------------------------------------------------
def test_channel_preference_latest_wins() -> None:
    s = Stream()
    s.preference(0, "email", "opt_in")
    s.preference(5, "email", "opt_out")
    b = book(s, 10)
    assert b.preference("email").preference == OPT_OUT
    assert b.preference("email").changed_at == at(5)
    assert b.preference("sms").preference == UNSPECIFIED
    assert [p.preference for p in b.preferences(["sms", "email"])] == [OPT_OUT, UNSPECIFIED]
    s.preference(6, "email", "opt_in")
    assert book(s, 10).preference("email").preference == OPT_IN


# -- objections --------------------------------------------------------------------------------------
def test_objection_pending_upheld_overridden() -> None:
    s = Stream()
    oid = stable_id("o1")
    s.objection(0, "particular_situation", ["usage_demographics"], objection_id=oid)
    pending = book(s, 1).objection(oid)
    assert pending is not None and pending.state == PENDING and pending.active
    s.decided(5, oid, "upheld")
    upheld = book(s, 6).objection(oid)
    assert upheld is not None and upheld.state == UPHELD and upheld.active
    s.decided(7, oid, "overridden_compelling_grounds")
    state = book(s, 8).objection(oid)
    assert state is not None and state.state == OVERRIDDEN and not state.active


def test_override_of_direct_marketing_objection_has_no_effect() -> None:
    s = Stream()
    oid = stable_id("dm")
    s.objection(0, "direct_marketing", objection_id=oid)
    s.decided(5, oid, "overridden_legal_claims")
    state = book(s, 6).objection(oid)
    assert state is not None
    assert state.state == PENDING and state.purposes == frozenset({DM})
    assert book(s, 6).suppression(DM, "email", CODES).suppressed


def test_unknown_objection_is_none() -> None:
    assert ConsentBook().objection(stable_id("nope")) is None


# -- suppression -------------------------------------------------------------------------------------
def test_email_opt_out_suppresses_email_only() -> None:
    s = Stream()
    out = s.preference(0, "email", "opt_out")
    b = book(s, 1)
    assert b.suppression(DM, "email", CODES).blocking_event_ids == (out.event_id,)
    assert not b.suppression(DM, "phone", CODES).suppressed


def test_opt_out_naming_other_purpose_does_not_suppress_dm() -> None:
    s = Stream()
    s.preference(0, "email", "opt_out", purposes=["usage_demographics"])
    assert not book(s, 1).suppression(DM, "email", CODES).suppressed


def test_non_dm_purpose_is_never_suppressed() -> None:
    s = Stream()
    s.objection(0, "direct_marketing")
    assert not book(s, 1).suppression("agreement_performance", "email", CODES).suppressed


def test_dm_objection_suppresses_every_channel_and_shares() -> None:
    s = Stream()
    s.objection(0, "direct_marketing")
    b = book(s, 1)
    assert all(b.suppression(DM, c, CODES).suppressed for c in ("email", "phone", "post", "sms", "in_person"))
    assert b.suppression(DM, None, CODES).suppressed
    assert b.dm_suppressed(CODES)


def test_d12_consent_withdrawal_suppresses_every_channel() -> None:
    s = Stream()
    s.preference(0, "email", "opt_in")
    w = s.consent_withdrawn(5)
    b = book(s, 6)
    assert b.suppression(DM, "email", CODES).blocking_event_ids == (w.event_id,)
    assert b.suppression(DM, "post", CODES).suppressed
    assert b.suppression(DM, None, CODES).suppressed


def test_d13_channel_opt_in_after_dm_objection_lifts_that_channel_only() -> None:
    s = Stream()
    s.objection(0, "direct_marketing")
    s.preference(5, "email", "opt_in")
    b = book(s, 6)
    assert not b.suppression(DM, "email", CODES).suppressed
    assert b.suppression(DM, "phone", CODES).suppressed
    # a share is still blocked: the objection still suppresses other channels
    assert b.suppression(DM, None, CODES).suppressed
    assert not b.dm_suppressed(CODES)


def test_d13_new_consent_after_dm_objection_lifts_every_channel() -> None:
    s = Stream()
    s.objection(0, "direct_marketing")
    s.consent_given(5)
    b = book(s, 6)
    assert not b.suppression(DM, "phone", CODES).suppressed
    assert not b.suppression(DM, None, CODES).suppressed


def test_opt_in_before_the_block_does_not_lift_it() -> None:
    s = Stream()
    s.preference(0, "email", "opt_in")
    s.objection(5, "direct_marketing")
    assert book(s, 6).suppression(DM, "email", CODES).suppressed


def test_single_channel_opt_out_does_not_block_a_share() -> None:
    s = Stream()
    s.preference(0, "email", "opt_out")
    assert not book(s, 1).suppression(DM, None, CODES).suppressed


def test_dm_suppressed_needs_all_channels() -> None:
    s = Stream()
    for c in ("email", "phone", "post"):
        s.preference(0, c, "opt_out")
    assert not book(s, 1).dm_suppressed(CODES)
    s.preference(1, "sms", "opt_out")
    assert book(s, 2).dm_suppressed(CODES)


def test_particular_situation_objection_blocks_while_pending_or_upheld() -> None:
    s = Stream()
    oid = stable_id("ps")
    s.objection(0, "particular_situation", [DM], objection_id=oid)
    assert book(s, 1).suppression(DM, "email", CODES).suppressed
    s.decided(5, oid, "upheld")
    assert book(s, 6).suppression(DM, None, CODES).suppressed
    s.decided(7, oid, "overridden_compelling_grounds")
    assert not book(s, 8).suppression(DM, "email", CODES).suppressed


def test_d8_block_and_permission_at_same_instant_ordered_by_seq() -> None:
    s = Stream()
    s.preference(5, "email", "opt_in")
    s.preference(5, "email", "opt_out")
    assert book(s, 5).suppression(DM, "email", CODES).suppressed
    s2 = Stream()
    s2.preference(5, "email", "opt_out")
    s2.preference(5, "email", "opt_in")
    assert not book(s2, 5).suppression(DM, "email", CODES).suppressed


def test_block_at_the_use_instant_counts() -> None:
    s = Stream()
    s.consent_given(0)
    s.consent_withdrawn(5)
    assert book(s, 5).suppression(DM, "email", CODES).suppressed
    assert not book(s, 4).suppression(DM, "email", CODES).suppressed


def test_copy_is_independent() -> None:
    s = Stream()
    b = ConsentBook()
    b.apply(s.consent_given(0), CODES)
    c = b.copy()
    c.apply(s.consent_withdrawn(5), CODES)
    assert b.status(DM, at(6)).status == GIVEN
    assert c.status(DM, at(6)).status == WITHDRAWN


def test_parse_instant() -> None:
    assert parse_instant("2026-10-01T10:00:00+01:00") == at(0)
    assert parse_instant("not a time") is None
    assert parse_instant(None) is None

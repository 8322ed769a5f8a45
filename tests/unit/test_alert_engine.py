"""The alert engine: evaluation, history in append order (spec section 2), incremental = reference."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta

import pytest
from fact_helpers import CODES, RECORDED_BASE, SUBJECT, Stream, stable_id
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.alerts import (
    RAISED,
    RETRACTED,
    UPDATED,
    AlertChange,
    IncrementalAlerts,
    alert_history,
    evaluate_subject,
    event_annotations,
)
from ledger.domain.facts import Fact

DM = "b2b_marketing"
US = {
    "recipient_id": "US-HOST-1",
    "name": "Example Hosting Inc",
    "category": "supplier_processor",
    "role": "processor",
    "country": "US",
}


def history(s: Stream) -> list[AlertChange]:
    return alert_history(s.facts, CODES, SUBJECT)


def incremental(s: Stream, every: int = 16) -> list[AlertChange]:
    engine = IncrementalAlerts(CODES, SUBJECT, snapshot_every=every)
    out: list[AlertChange] = []
    for fact in s.facts:
        out.extend(engine.append(fact))
    assert engine.alerts == evaluate_subject(s.facts, CODES, resolved_subject_id=SUBJECT)
    return out


def summary(changes: list[AlertChange]) -> list[tuple[int, str, str]]:
    return [(c.seq, c.alert.code, c.change) for c in changes]


# -- evaluation --------------------------------------------------------------------------------------
def test_evaluation_ignores_the_order_facts_are_given_in() -> None:
    s = Stream()
    s.consent_given(0)
    s.used(10, DM, "consent", channel="email")
    s.consent_withdrawn(5)
    s.used(12, DM, "consent", channel="email")
    shuffled = list(s.facts)
    random.Random(7).shuffle(shuffled)
    assert evaluate_subject(shuffled, CODES, resolved_subject_id=SUBJECT) == evaluate_subject(
        s.facts, CODES, resolved_subject_id=SUBJECT
    )


def test_subject_id_of_alerts_is_the_resolved_one() -> None:
    s = Stream(subject_id=stable_id("merged-subject"))
    s.used(10, "usage_demographics", "consent")
    (alert,) = evaluate_subject(s.facts, CODES, resolved_subject_id=SUBJECT)
    assert alert.subject_id == SUBJECT


# -- history -----------------------------------------------------------------------------------------
def test_alert_raised_on_the_append_that_makes_it_true() -> None:
    s = Stream()
    use = s.used(10, "usage_demographics", "consent")
    (change,) = history(s)
    assert (change.seq, change.change, change.alert.trigger_id) == (1, RAISED, use.event_id)
    assert change.detected_at == change.recorded_at == use.recorded_at


def test_late_opt_out_raises_an_alert_retroactively_detected_at_its_append() -> None:
    s = Stream()
    use = s.used(10, DM, "legitimate_interests", li_ref="LI-1", channel="email")
    late = s.preference(5, "email", "opt_out")
    (change,) = history(s)
    assert change.alert.trigger_id == use.event_id
    assert (change.seq, change.change, change.detected_at) == (late.seq, RAISED, late.recorded_at)
    assert change.alert.related_event_ids == (late.event_id,)


def test_late_consent_retracts_then_late_withdrawal_raises_again_keeping_first_detection() -> None:
    s = Stream()
    use = s.used(10, "usage_demographics", "consent")
    s.consent_given(5, "usage_demographics")  # late: the use had consent after all
    s.consent_withdrawn(7, "usage_demographics")  # later still: it had been withdrawn again
    changes = history(s)
    assert summary(changes) == [
        (1, "NO_VALID_CONSENT", RAISED),
        (2, "NO_VALID_CONSENT", RETRACTED),
        (3, "NO_VALID_CONSENT", RAISED),
    ]
    assert {c.alert.alert_id for c in changes} == {changes[0].alert.alert_id}
    assert all(c.detected_at == use.recorded_at for c in changes)
    assert changes[2].recorded_at == s.facts[2].recorded_at


def test_changed_related_events_are_an_update() -> None:
    s = Stream()
    first = s.consent_withdrawn(2, "usage_demographics")
    s.used(10, "usage_demographics", "consent")
    second = s.consent_withdrawn(6, "usage_demographics")
    changes = history(s)
    assert summary(changes) == [(2, "NO_VALID_CONSENT", RAISED), (3, "NO_VALID_CONSENT", UPDATED)]
    assert changes[0].alert.related_event_ids == (first.event_id,)
    assert changes[1].alert.related_event_ids == (second.event_id,)
    assert changes[1].detected_at == changes[0].detected_at


def test_fact_with_later_occurred_at_does_not_change_earlier_alerts() -> None:
    s = Stream()
    s.used(10, "usage_demographics", "consent")
    s.consent_given(20, "usage_demographics")
    assert summary(history(s)) == [(1, "NO_VALID_CONSENT", RAISED)]


def test_history_is_reproducible_byte_for_byte() -> None:
    s = Stream()
    s.used(10, "usage_demographics", "consent")
    s.consent_given(5, "usage_demographics")
    s.shared(12, recipient=US)
    assert history(s) == history(s)


def test_incremental_matches_reference_on_the_retraction_story() -> None:
    s = Stream()
    s.used(10, "usage_demographics", "consent")
    s.consent_given(5, "usage_demographics")
    s.consent_withdrawn(7, "usage_demographics")
    s.shared(12, recipient=US)
    s.used(1, DM, "consent", channel="email")
    assert incremental(s, every=1) == history(s)


def test_fact_tied_with_the_latest_instant_is_judged_against_every_earlier_fact() -> None:
    s = Stream()
    s.consent_given(0, "usage_demographics")
    for minute in range(1, 6):
        s.used(minute, "usage_demographics", "consent")
    s.used(5, "usage_demographics", "consent")  # same instant as the latest fact
    s.consent_withdrawn(5, "usage_demographics")  # and again: the group is judged anew
    for every in (1, 2, 16):
        assert incremental(s, every=every) == history(s)
    assert summary(history(s)) == [(8, "NO_VALID_CONSENT", RAISED), (8, "NO_VALID_CONSENT", RAISED)]


def test_incremental_refuses_out_of_order_seq() -> None:
    s = Stream()
    a = s.used(10)
    engine = IncrementalAlerts(CODES, SUBJECT)
    engine.append(a)
    with pytest.raises(ValueError):
        engine.append(a)
    with pytest.raises(ValueError):
        IncrementalAlerts(CODES, SUBJECT, snapshot_every=0)


def test_incremental_long_in_order_stream_equals_evaluation() -> None:
    s = Stream()
    for i in range(300):
        s.used(i, DM, "consent", channel="email")
        if i % 50 == 0:
            s.consent_given(i, DM)
        if i % 70 == 0:
            s.preference(i, "email", "opt_out")
    engine = IncrementalAlerts(CODES, SUBJECT, snapshot_every=8)
    for fact in s.facts:
        engine.append(fact)
    assert engine.alerts == evaluate_subject(s.facts, CODES, resolved_subject_id=SUBJECT)


# -- annotations -------------------------------------------------------------------------------------
def test_duplicate_registration_and_consent_mismatch_are_annotated() -> None:
    s = Stream()
    s.registered(0, ["enquirer"])
    dup = s.registered(5, ["platform_user"])
    lone = s.consent_withdrawn(6, "usage_demographics")
    s.consent_given(7, DM, consent_id=stable_id("c1"))
    ok = s.consent_withdrawn(8, DM, consent_id=stable_id("c1"))
    assert event_annotations(s.facts, CODES) == {
        dup.event_id: ["DUPLICATE_SUBJECT_REGISTRATION"],
        lone.event_id: ["CONSENT_ID_MISMATCH"],
    }
    assert ok.event_id not in event_annotations(s.facts, CODES)


def test_registration_annotation_follows_business_order() -> None:
    s = Stream()
    later = s.registered(10, ["enquirer"])
    s.registered(5, ["enquirer"])  # appended second, happened first
    assert event_annotations(s.facts, CODES) == {later.event_id: ["DUPLICATE_SUBJECT_REGISTRATION"]}


def test_registrations_of_two_merged_subjects_are_not_duplicates() -> None:
    s = Stream()
    s.registered(0, ["enquirer"])
    s.add("SubjectRegistered", 1, {"roles": ["enquirer"]}, subject_id=stable_id("other"))
    assert event_annotations(s.facts, CODES) == {}


# -- property: incremental == reference under random late arrivals -----------------------------------
OBJECTIONS = [stable_id(f"obj-{i}") for i in range(3)]
RESTRICTIONS = [stable_id(f"res-{i}") for i in range(2)]
HOLDS = [stable_id(f"hold-{i}") for i in range(2)]
THIRD_PARTY = {"type": "third_party", "name": "referee"}

Step = Callable[[Stream, float, int], Fact]
MENU: list[Step] = [
    lambda s, m, i: s.consent_given(m, DM),
    lambda s, m, i: s.consent_withdrawn(m, DM),
    lambda s, m, i: s.consent_given(m, "usage_demographics", expires_at="2026-10-01T09:06:00Z"),
    lambda s, m, i: s.consent_withdrawn(m, "usage_demographics"),
    lambda s, m, i: s.preference(m, "email", "opt_out"),
    lambda s, m, i: s.preference(m, "email", "opt_in"),
    lambda s, m, i: s.objection(m, "direct_marketing", objection_id=stable_id(f"dm-{i}")),
    lambda s, m, i: s.objection(m, "particular_situation", ["usage_demographics", DM], OBJECTIONS[i % 3]),
    lambda s, m, i: s.decided(m, OBJECTIONS[i % 3], "upheld"),
    lambda s, m, i: s.decided(m, OBJECTIONS[i % 3], "overridden_compelling_grounds"),
    lambda s, m, i: s.used(m, DM, "legitimate_interests", li_ref="LI-1", channel="email"),
    lambda s, m, i: s.used(m, "usage_demographics", "consent"),
    lambda s, m, i: s.shared(m, DM, "consent"),
    lambda s, m, i: s.shared(m, recipient=US, event_type="TransferredInternationally"),
    lambda s, m, i: s.collected(m, source=THIRD_PARTY),
    lambda s, m, i: s.collected(
        m, ["health"], purposes=[{"purpose": "usage_demographics", "lawful_basis": "consent"}]
    ),
    lambda s, m, i: s.notice(m, ["cra_sharing"]),
    lambda s, m, i: s.shredded(m, "contact_details"),
    lambda s, m, i: s.rectified(m, ["contact_details"]),
    lambda s, m, i: s.restricted(m, ["contact_details"], restriction_id=RESTRICTIONS[i % 2]),
    lambda s, m, i: s.lifted(m, RESTRICTIONS[i % 2]),
    lambda s, m, i: s.hold(m, ["contact_details"], hold_id=HOLDS[i % 2]),
    lambda s, m, i: s.released(m, HOLDS[i % 2]),
    lambda s, m, i: s.erased(m, ["contact_details"]),
    lambda s, m, i: s.registered(m, ["enquirer"], display_name=True),
    lambda s, m, i: s.used(m, "relationship_follow_up", "contract", channel="phone"),
]


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=0, max_value=12), st.integers(min_value=0, max_value=len(MENU) - 1)),
        max_size=35,
    ),
    every=st.integers(min_value=1, max_value=4),
)
def test_incremental_history_equals_reference_history(steps: list[tuple[int, int]], every: int) -> None:
    s = Stream()
    for i, (minute, choice) in enumerate(steps):
        MENU[choice](s, minute, i)
    reference = history(s)
    assert incremental(s, every=every) == reference
    # detected_at never changes for an alert id, and a RAISED always precedes its RETRACTED
    first: dict[str, object] = {}
    live: set[str] = set()
    for c in reference:
        assert first.setdefault(c.alert.alert_id, c.detected_at) == c.detected_at
        if c.change == RAISED:
            assert c.alert.alert_id not in live
            live.add(c.alert.alert_id)
        else:
            assert c.alert.alert_id in live
            if c.change == RETRACTED:
                live.remove(c.alert.alert_id)
        assert c.recorded_at == RECORDED_BASE + timedelta(seconds=c.seq)
    final = {a.alert_id for a in evaluate_subject(s.facts, CODES, resolved_subject_id=SUBJECT)}
    assert live == final

"""Consents → Shares and Refusals for one actor at one instant (bedside.consent.evaluate)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bedside.consent.evaluate import ALL_TYPES, grants, shares_for
from bedside.policy.model import Refusal, Share

TYPES = "http://hl7.org/fhir/resource-types"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
HIV = (ACT_CODE, "HIV")
MH = (ACT_CODE, "MH")
DOCTOR = frozenset({"Practitioner/9", "PractitionerRole/3"})
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC).timestamp()
SOURCE = "Consent/c1"


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def classes(*names: str) -> list[dict[str, str]]:
    return [{"system": TYPES, "code": n} for n in names]


def labels(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"system": s, "code": c} for s, c in pairs]


def actors(*refs: str) -> list[dict[str, Any]]:
    return [{"role": {"text": "recipient"}, "reference": {"reference": r}} for r in refs]


def consent(kind: str = "permit", status: str = "active", cid: str = "c1", **prov: Any) -> dict:
    return {
        "resourceType": "Consent",
        "id": cid,
        "status": status,
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"text": "privacy"}],
        "patient": {"reference": "Patient/p1"},
        "provision": {"type": kind, **prov},
    }


def evaluate(*consents: dict, who: frozenset[str] = DOCTOR, **kw: Any) -> tuple[list, list]:
    return shares_for(consents, who, kw.pop("now", NOW), **kw)


# --- which Consents count --------------------------------------------------------------------


def test_a_plain_active_permit_shares_everything_with_everyone() -> None:
    assert evaluate(consent()) == ([Share("p1", SOURCE)], [])


def test_consents_that_are_not_active_do_not_count() -> None:
    for status in ("draft", "proposed", "inactive", "rejected", "entered-in-error"):
        assert evaluate(consent(status=status)) == ([], [])


def test_consents_of_another_scope_do_not_count() -> None:
    c = consent()
    c["scope"]["coding"][0]["code"] = "research"
    assert evaluate(c) == ([], [])


def test_the_root_period_must_contain_now() -> None:
    assert evaluate(consent(period={"start": "2026-07-01"})) == ([], [])
    assert evaluate(consent(period={"end": "2026-05-31"})) == ([], [])
    (share,), _ = evaluate(consent(period={"start": "2026-01-01", "end": "2026-12-21"}))
    assert share.until == ts("2026-12-21T23:59:59.999")


def test_a_period_end_covers_the_whole_of_its_precision() -> None:
    c = consent(period={"end": "2026-06-01"})
    assert evaluate(c, now=ts("2026-06-01T23:59:59.5"))[0]
    assert evaluate(c, now=ts("2026-06-02T00:00:00")) == ([], [])
    (share,), _ = evaluate(consent(period={"end": "2026-06"}))
    assert share.until == ts("2026-06-30T23:59:59.999")


# --- who, why and how --------------------------------------------------------------------------


def test_a_permit_naming_actors_applies_only_to_them() -> None:
    c = consent(actor=actors("PractitionerRole/3"))
    assert evaluate(c) == ([Share("p1", SOURCE)], [])
    assert evaluate(c, who=frozenset({"Practitioner/1"})) == ([], [])


def test_a_care_team_actor_applies_to_callers_who_carry_the_team() -> None:
    c = consent(actor=actors("CareTeam/t1"))
    assert evaluate(c, who=frozenset({"Practitioner/1", "CareTeam/t1"}))[0]
    assert evaluate(c, who=frozenset({"Practitioner/1"})) == ([], [])


def test_purpose_must_match_when_the_provision_names_one() -> None:
    c = consent(purpose=[{"system": REASON, "code": "HRESCH"}])
    assert evaluate(c) == ([], [])
    assert evaluate(c, purpose="HRESCH")[0]


def test_a_broader_purpose_covers_its_specializations() -> None:
    c = consent(purpose=[{"system": REASON, "code": "TREAT"}])
    assert evaluate(c, purpose="ETREAT")[0]
    assert evaluate(c, purpose="BTG")[0]
    narrow = consent(purpose=[{"system": REASON, "code": "ETREAT"}])
    assert evaluate(narrow, purpose="TREAT") == ([], [])


def test_only_seeing_actions_count() -> None:
    def action(code: str) -> list[dict[str, Any]]:
        system = "http://terminology.hl7.org/CodeSystem/consentaction"
        return [{"coding": [{"system": system, "code": code}]}]

    assert evaluate(consent(action=action("collect"))) == ([], [])
    for code in ("access", "use", "disclose"):
        assert evaluate(consent(action=action(code)))[0]


# --- what -------------------------------------------------------------------------------------


def test_a_permit_shares_its_classes_and_labels() -> None:
    c = consent(**{"class": classes("Observation", "Condition")}, securityLabel=labels(HIV))
    assert evaluate(c) == (
        [Share("p1", SOURCE, frozenset({"Observation", "Condition"}), frozenset({HIV}))],
        [],
    )


def test_a_root_deny_is_a_refusal() -> None:
    c = consent("deny", period={"end": "2027-01-01"}, **{"class": classes("Condition")})
    assert evaluate(c) == (
        [],
        [Refusal("p1", SOURCE, frozenset({"Condition"}), until=ts("2027-01-01T23:59:59.999"))],
    )


def test_a_root_deny_for_someone_else_does_not_refuse_this_actor() -> None:
    c = consent("deny", actor=actors("Practitioner/1"))
    assert evaluate(c) == ([], [])


# --- nesting: a deny inside a permit -----------------------------------------------------------


def test_a_nested_deny_with_labels_becomes_labels_not() -> None:
    c = consent(provision=[{"type": "deny", "securityLabel": labels(HIV, MH)}])
    assert evaluate(c) == ([Share("p1", SOURCE, labels_not=frozenset({HIV, MH}))], [])


def test_a_nested_deny_with_types_removes_them_from_the_share() -> None:
    c = consent(
        **{"class": classes("Observation", "Condition")},
        provision=[{"type": "deny", "class": classes("Condition")}],
    )
    assert evaluate(c) == ([Share("p1", SOURCE, frozenset({"Observation"}))], [])


def test_a_nested_deny_of_types_from_an_everything_share_leaves_every_other_type() -> None:
    c = consent(provision=[{"type": "deny", "class": classes("Condition")}])
    (share,), _ = evaluate(c)
    assert share.types == ALL_TYPES - {"Condition"}


def test_a_nested_deny_with_types_and_labels_splits_the_share() -> None:
    c = consent(
        **{"class": classes("Observation", "Condition")},
        provision=[{"type": "deny", "class": classes("Condition"), "securityLabel": labels(MH)}],
    )
    shares, _ = evaluate(c)
    assert set(shares) == {
        Share("p1", SOURCE, frozenset({"Observation"})),
        Share("p1", SOURCE, frozenset({"Condition"}), labels_not=frozenset({MH})),
    }


def test_a_nested_deny_of_everything_drops_the_share_for_its_actor_only() -> None:
    c = consent(provision=[{"type": "deny", "actor": actors("Practitioner/9")}])
    assert evaluate(c) == ([], [])
    assert evaluate(c, who=frozenset({"Practitioner/1"})) == ([Share("p1", SOURCE)], [])


def test_a_nested_deny_outside_its_period_does_not_subtract() -> None:
    past = consent(provision=[{"type": "deny", "period": {"end": "2026-01-01"}}])
    assert evaluate(past) == ([Share("p1", SOURCE)], [])


def test_a_nested_deny_that_starts_later_ends_the_share_before_it_starts() -> None:
    c = consent(provision=[{"type": "deny", "period": {"start": "2026-07-01"}}])
    (share,), _ = evaluate(c)
    assert share.until is not None and share.until < ts("2026-07-01T00:00:00")
    assert share.until > ts("2026-06-30T23:59:59")


def test_a_nested_deny_for_another_purpose_does_not_subtract() -> None:
    c = consent(
        provision=[{"type": "deny", "purpose": [{"system": REASON, "code": "HRESCH"}]}],
    )
    assert evaluate(c) == ([Share("p1", SOURCE)], [])
    assert evaluate(c, purpose="HRESCH") == ([], [])


def test_a_share_whose_labels_are_all_denied_is_dropped() -> None:
    c = consent(
        securityLabel=labels(HIV), provision=[{"type": "deny", "securityLabel": labels(HIV)}]
    )
    assert evaluate(c) == ([], [])


# --- nesting: a permit inside a deny -------------------------------------------------------------


def test_a_nested_permit_of_everything_lifts_the_refusal_for_its_actor() -> None:
    c = consent("deny", provision=[{"type": "permit", "actor": actors("Practitioner/9")}])
    assert evaluate(c) == ([Share("p1", SOURCE)], [])
    assert evaluate(c, who=frozenset({"Practitioner/1"})) == ([], [Refusal("p1", SOURCE)])


def test_a_nested_permit_of_some_types_refuses_the_rest() -> None:
    c = consent("deny", provision=[{"type": "permit", "class": classes("Immunization")}])
    shares, refusals = evaluate(c)
    assert shares == [Share("p1", SOURCE, frozenset({"Immunization"}))]
    assert refusals == [Refusal("p1", SOURCE, ALL_TYPES - {"Immunization"})]


def test_a_nested_permit_of_some_labels_refuses_the_other_labels() -> None:
    c = consent(
        "deny",
        securityLabel=labels(HIV, MH),
        provision=[{"type": "permit", "securityLabel": labels(MH)}],
    )
    assert evaluate(c) == (
        [Share("p1", SOURCE, labels_any=frozenset({MH}))],
        [Refusal("p1", SOURCE, labels_any=frozenset({HIV}))],
    )


def test_a_nested_permit_without_labels_inherits_the_denys_labels() -> None:
    c = consent(
        "deny",
        securityLabel=labels(HIV),
        provision=[{"type": "permit", "actor": actors("Practitioner/9")}],
    )
    assert evaluate(c) == ([Share("p1", SOURCE, labels_any=frozenset({HIV}))], [])


def test_a_nested_permit_stays_within_the_denys_types() -> None:
    c = consent(
        "deny",
        **{"class": classes("Condition", "Observation")},
        provision=[{"type": "permit", "class": classes("Condition")}],
    )
    assert evaluate(c) == (
        [Share("p1", SOURCE, frozenset({"Condition"}))],
        [Refusal("p1", SOURCE, frozenset({"Observation"}))],
    )


def test_a_nested_permit_ends_with_the_earlier_of_both_periods() -> None:
    c = consent(
        "deny",
        period={"end": "2026-12-31"},
        provision=[{"type": "permit", "period": {"end": "2026-08-01"}}],
    )
    (share,), refusals = evaluate(c)
    assert share.until == ts("2026-08-01T23:59:59.999")
    assert refusals == []


def test_several_consents_add_up() -> None:
    a = consent(cid="a", **{"class": classes("Observation")})
    b = consent("deny", cid="b", securityLabel=labels(HIV))
    shares, refusals = evaluate(a, b)
    assert shares == [Share("p1", "Consent/a", frozenset({"Observation"}))]
    assert refusals == [Refusal("p1", "Consent/b", labels_any=frozenset({HIV}))]


# --- what a revocation withdraws -----------------------------------------------------------------


def test_grants_of_a_permit_is_its_whole_scope() -> None:
    c = consent(
        actor=actors("Practitioner/9"),
        **{"class": classes("Observation")},
        provision=[{"type": "deny", "securityLabel": labels(HIV)}],
    )
    (g,) = grants(c)
    assert (g.actors, g.types, g.labels) == (frozenset({"Practitioner/9"}), {"Observation"}, None)


def test_grants_of_a_deny_are_its_exceptions() -> None:
    c = consent(
        "deny",
        actor=actors("Practitioner/9", "Practitioner/8"),
        provision=[{"type": "permit", "actor": actors("Practitioner/9")}],
    )
    (g,) = grants(c)
    assert g.actors == {"Practitioner/9"}
    assert grants(consent("deny")) == []


# --- particular resources (provision.data) ----------------------------------------------------


def data(*refs: str) -> list[dict[str, Any]]:
    return [{"meaning": "instance", "reference": {"reference": r}} for r in refs]


def test_a_permit_naming_one_result_shares_exactly_that_resource() -> None:
    one = consent(actor=actors("Practitioner/9"), data=data("Observation/o1"))
    shares, refusals = evaluate(one)
    assert shares == [
        Share("p1", SOURCE, frozenset({"Observation"}), ids=frozenset({"Observation/o1"}))
    ]
    assert refusals == []
    assert shares[0].ids_of("Observation") == {"o1"}
    assert shares[0].ids_of("Condition") == frozenset()  # names none: shares none of them
    assert evaluate(one, who=frozenset({"Practitioner/other"})) == ([], [])
    assert grants(one)[0].types == frozenset({"Observation"})  # what a revocation withdraws


def test_data_outside_the_provisions_classes_shares_nothing_rather_than_everything() -> None:
    stray = consent(data=data("Observation/o1"))
    stray["provision"]["class"] = classes("Condition")
    (share,), _ = evaluate(stray)
    assert share.ids == frozenset()
    assert share.ids_of("Observation") == frozenset() and share.ids_of("Condition") == frozenset()


def test_a_nested_deny_of_labels_still_narrows_a_share_of_named_resources() -> None:
    one = consent(
        data=data("Observation/o1", "Observation/o2"),
        provision=[{"type": "deny", "securityLabel": labels(HIV)}],
    )
    (share,), _ = evaluate(one)
    assert share.ids == {"Observation/o1", "Observation/o2"}
    assert share.labels_not == {HIV}

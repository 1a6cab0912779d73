"""A NEWS2 total checked against the Observations it is derived from (brief G3; docs/news2.md
"Where it is enforced").

A device scores NEWS2 at the bedside; the server does not take its word for it. Before a NEWS2
total is stored (:func:`check_total`, called for every write by the server's write hooks, so a
REST create or update, a transaction Bundle, an import and a sync push all pass it), the total
is recomputed from the parameter Observations its ``derivedFrom`` names, as the server holds
them, with the rule the device ran (:func:`bedside.clinical.news2.assess`). It is refused
(:class:`~bedside.errors.ClinicalRuleBroken`) with a plain sentence when:

* it states no score, or names no parameter Observations;
* a ``derivedFrom`` is not an Observation the writer can see on the server (a sync push sends the
  parameter Observations before the total: same push, or an earlier one), is about another
  patient, is not a NEWS2 parameter, is entered-in-error, or repeats a parameter;
* the parameters are incomplete or a reading is implausible;
* its aggregate, or any component score it states, differs from the recomputed one.

A total marked entered-in-error or cancelled states no score and is not checked. The sentences
name parameters, scores and Observation ids, never a reading or the patient.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from bedside.clinical.news2 import Assessment, Parameter, assess
from bedside.clinical.news2_codes import is_total
from bedside.clinical.news2_read import (
    component_scores,
    read_inputs,
    spo2_scale_of,
    total_score,
)
from bedside.errors import ClinicalRuleBroken, Unprocessable

__all__ = ["Lookup", "check_total"]

#: Reads an Observation by id (and version, for a versioned reference): its content as the
#: writer may see it, or None when it is not there or not visible.
Lookup = Callable[[str, int | None], Mapping[str, Any] | None]

_REFERENCE: Final = re.compile(r"Observation/([A-Za-z0-9\-.]{1,64})(?:/_history/([0-9]{1,9}))?")
_NOT_SCORED: Final = frozenset({"entered-in-error", "cancelled"})


def check_total(total: Mapping[str, Any], lookup: Lookup) -> Assessment | None:
    """The recomputed assessment of a NEWS2 total, or None when ``total`` is not one (or is
    entered-in-error or cancelled); ClinicalRuleBroken when it does not hold."""
    if not is_total(total) or total.get("status") in _NOT_SCORED:
        return None
    try:
        return _check(total, lookup)
    except ClinicalRuleBroken:
        raise
    except Unprocessable as exc:
        raise ClinicalRuleBroken(exc.message, expression=("Observation",)) from None


def _check(total: Mapping[str, Any], lookup: Lookup) -> Assessment:
    said = total_score(total)
    if said is None:
        raise ClinicalRuleBroken(
            "A NEWS2 total must state its score (valueInteger).",
            expression=("Observation.value",),
        )
    stated = component_scores(total)
    subject = _subject(total)
    if subject is None:
        raise _broken("A NEWS2 total must name its patient (subject).", "subject")
    references = total.get("derivedFrom")
    if not isinstance(references, list) or not references:
        raise _broken(
            "A NEWS2 total must name the parameter observations it was scored from (derivedFrom).",
            "derivedFrom",
        )
    parameters = []
    for reference in references:
        text = reference.get("reference") if isinstance(reference, Mapping) else None
        match = _REFERENCE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise _broken(
                "A NEWS2 total may be derived only from parameter observations"
                " (derivedFrom Observation/<id>).",
                "derivedFrom",
            )
        rid, version = match.group(1), match.group(2)
        found = lookup(rid, int(version) if version else None)
        if found is None:
            raise _broken(
                f"The NEWS2 total is derived from Observation/{rid}, which is not on the"
                " server (or not one you may read); send the parameter observations before"
                " the total.",
                "derivedFrom",
            )
        if _subject(found) != subject:
            raise _broken(
                f"Observation/{rid} is about another patient than the NEWS2 total.",
                "derivedFrom",
            )
        if found.get("status") in _NOT_SCORED:
            raise _broken(
                f"Observation/{rid} is marked entered-in-error or cancelled; a NEWS2 total"
                " cannot be derived from it.",
                "derivedFrom",
            )
        parameters.append(found)
    assessment = assess(read_inputs(parameters, spo2_scale=spo2_scale_of(total)))
    if not assessment.complete:
        raise _broken(" ".join(assessment.problems()), "derivedFrom")
    assert assessment.total is not None
    wrong = [
        f"the {p.label} score says {stated[p]} but the {p.label} observation scores"
        f" {assessment.scores[p]}"
        for p in Parameter
        if p in stated and stated[p] != assessment.scores[p]
    ]
    if said != assessment.total or wrong:
        opening = (
            f"The NEWS2 total says {said}, but the observations it is derived from score"
            f" {assessment.total}"
            if said != assessment.total
            else "The NEWS2 total's components do not match the observations it is derived from"
        )
        detail = f" ({'; '.join(wrong)})" if wrong else ""
        raise _broken(f"{opening}{detail}; it was not stored.", "value")
    return assessment


def _subject(resource: Mapping[str, Any]) -> str | None:
    subject = resource.get("subject")
    reference = subject.get("reference") if isinstance(subject, Mapping) else None
    return reference if isinstance(reference, str) and reference else None


def _broken(sentence: str, element: str) -> ClinicalRuleBroken:
    return ClinicalRuleBroken(sentence, expression=(f"Observation.{element}",))

"""The RCP 2017 clinical risk bands of a NEWS2 aggregate and the response each calls for.

Aggregate 0 is routine; 1-4 low (a ward response); any single parameter scoring 3 low-medium
(an urgent ward response); 5-6 medium (an urgent response); 7 or more high (an emergency
response). The words of :data:`RESPONSES` paraphrase RCP 2017, "NEWS thresholds and triggers"
and "Clinical response to the NEWS trigger thresholds"; a local escalation policy may say more,
never less.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

__all__ = ["RESPONSES", "Band", "Response", "risk_band"]


class Band(StrEnum):
    """The RCP clinical risk bands, lowest first."""

    ROUTINE = "routine"
    LOW = "low"
    LOW_MEDIUM = "low-medium"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class Response:
    """What a band calls for, in plain words (RCP 2017, "NEWS thresholds and triggers" and
    "Clinical response to the NEWS trigger thresholds", paraphrased)."""

    band: Band
    risk: str  # "Low-medium"
    response: str  # "Urgent ward response"
    monitoring: str  # how often observations are repeated
    action: str  # who does what

    @property
    def label(self) -> str:
        """One line for a banner: "Low-medium risk: urgent ward response"."""
        return f"{self.risk} risk: {self.response.lower()}"


RESPONSES: Final[Mapping[Band, Response]] = MappingProxyType(
    {
        Band.ROUTINE: Response(
            Band.ROUTINE,
            "Low",
            "Routine monitoring",
            "Repeat observations at least every 12 hours.",
            "Continue routine NEWS2 monitoring.",
        ),
        Band.LOW: Response(
            Band.LOW,
            "Low",
            "Ward response",
            "Repeat observations at least every 4 to 6 hours.",
            "Tell the registered nurse, who assesses the patient and decides whether"
            " monitoring should be more frequent or care escalated.",
        ),
        Band.LOW_MEDIUM: Response(
            Band.LOW_MEDIUM,
            "Low-medium",
            "Urgent ward response",
            "Repeat observations at least every hour.",
            "The registered nurse tells the medical team caring for the patient, who review"
            " the patient and decide whether care must be escalated.",
        ),
        Band.MEDIUM: Response(
            Band.MEDIUM,
            "Medium",
            "Urgent response",
            "Repeat observations at least every hour.",
            "The registered nurse tells the medical team at once and asks for an urgent"
            " assessment by a clinician skilled in caring for acutely ill patients; care"
            " continues where the patient can be monitored.",
        ),
        Band.HIGH: Response(
            Band.HIGH,
            "High",
            "Emergency response",
            "Monitor vital signs continuously.",
            "The registered nurse tells the medical team at once (at least specialist"
            " registrar level); an emergency assessment by a team with critical-care skills,"
            " including airway management; consider transfer to a high-dependency unit or ICU.",
        ),
    }
)


def risk_band(total: int, highest: int) -> Band:
    """The band for an aggregate ``total`` whose highest single parameter score is ``highest``.

    RCP 2017: 7 or more is high, 5-6 medium; below 5, any one parameter scoring 3 is
    low-medium; otherwise 1-4 is low and 0 routine.
    """
    if total >= 7:
        return Band.HIGH
    if total >= 5:
        return Band.MEDIUM
    if highest >= 3:
        return Band.LOW_MEDIUM
    return Band.LOW if total >= 1 else Band.ROUTINE

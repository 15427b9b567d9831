"""Event categories from activity titles, and the role presets built on them.

A row may carry several categories ("Midterm evaluations and first stipend
payments" is both ``evaluation`` and ``stipend``). Rules are keyword patterns
tried in order; a title that matches none is ``other``.
"""

from __future__ import annotations

import re

from feeds.model import CATEGORIES

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("proposal", r"\bproposal|\bproject (ideas|applications?)|mentorships available"),
        ("application", r"^(?!.*\breview).*\b(mentee|student)s?\b.*\bappl(y|ies|ication)|"
                        r"^(?!.*\breview)(?!.*\bproject).*\bapplications?\b"),
        ("review", r"\breview"),
        ("selection", r"\bselect|\badmission|\bdecision|\bmatching|\bnotification"),
        ("program-start", r"\b(program|mentorship|coding|work)\b.*\b(begins?|starts?)\b|"
                          r"\b(begins?|starts?)\b.*\b(program|mentorship|coding)\b"),
        ("kickoff", r"\bkick[\s-]?off|\borientation"),
        ("info-session", r"\binfo(rmation)?\s+sessions?|\boffice hours|\bwebinar"),
        ("evaluation", r"\bevaluation|\bcheckpoint"),
        ("stipend", r"\bstipend|\bpayment"),
        ("program-end", r"\blast day|\b(program|term|mentorship|coding)\b.*\bends?\b|"
                        r"\bend of (the )?(term|program)"),
        ("results", r"\bresults?\b|\bannounce"),
    )
)  # fmt: skip

ROLES: dict[str, tuple[str, ...]] = {
    "mentee": (
        "application", "selection", "program-start", "kickoff", "info-session",
        "evaluation", "stipend", "program-end", "results",
    ),
    "mentor": (
        "proposal", "review", "selection", "program-start", "kickoff", "info-session",
        "evaluation", "program-end", "results",
    ),
    "admin": CATEGORIES,
}  # fmt: skip
"""Role presets: the categories each kind of user cares about."""


def classify(title: str) -> tuple[str, ...]:
    """Return the categories of an activity title (at least one)."""
    found = tuple(name for name, pattern in _RULES if pattern.search(title))
    if "selection" in found and "results" in found:
        found = tuple(name for name in found if name != "results")
    return found or ("other",)


def expand(categories: tuple[str, ...] | list[str], role: str | None) -> frozenset[str]:
    """Combine explicit categories and a role preset into one filter set.

    Raises ``ValueError`` naming the valid choices for an unknown role or category.
    """
    wanted = set(categories)
    unknown = wanted - set(CATEGORIES)
    if unknown:
        raise ValueError(
            f"unknown category {sorted(unknown)[0]!r}; choose from {', '.join(CATEGORIES)}"
        )
    if role is not None:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; choose from {', '.join(ROLES)}")
        wanted |= set(ROLES[role])
    return frozenset(wanted)

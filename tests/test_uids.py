"""UIDs are stable across runs and cosmetic edits, and move with the row not the date."""

from __future__ import annotations

from feeds.timeline import parse_markdown

BASE = """# Term 03 - 2031 Sept - Nov

### Timeline

| Activity | Dates |
|---|---|
| Project Proposals Open | Wed, July 2 – Tue, July 29, 11AM PDT |
| Info session | Tue, Aug 5 |
| Info session | Tue, Aug 12 |
"""


EXPECTED = [
    "lfx-2031-t3-project-proposals-open@lfx-cal",
    "lfx-2031-t3-info-session@lfx-cal",
    "lfx-2031-t3-info-session-2@lfx-cal",
]


def uids(text: str) -> list[str]:
    return [event.uid for event in parse_markdown(text, "t.md").events]


def test_stable_across_runs() -> None:
    # Written out: a uid derived from anything that varies between runs (hash seed,
    # clock, file path) differs from these literal values.
    assert uids(BASE) == EXPECTED


def test_repeated_titles_are_numbered() -> None:
    assert uids(BASE)[1:] == [
        "lfx-2031-t3-info-session@lfx-cal",
        "lfx-2031-t3-info-session-2@lfx-cal",
    ]


def test_cosmetic_edits_keep_uids() -> None:
    edited = (
        BASE.replace("| Project Proposals Open |", "|   **project  proposals open** |")
        .replace("Wed, July 2", "Thurs, July 2")
        .replace("|---|---|", "| --- | :--- |")
    )
    assert uids(edited) == EXPECTED


def test_a_moved_date_keeps_the_uid() -> None:
    moved = BASE.replace("Tue, July 29", "Thu, July 31")
    assert uids(moved) == EXPECTED


def test_long_titles_are_cut_with_a_digest() -> None:
    long_title = "Final mentee evaluations and mentee feedback/blog submission due, second stipend"
    text = BASE.replace("Info session | Tue, Aug 12", f"{long_title} | Tue, Aug 12")
    uid = uids(text)[2]
    assert len(uid.split("@")[0]) <= len("lfx-2031-t3-") + 48
    assert uid.startswith("lfx-2031-t3-final-mentee-evaluations-and-mentee")
    assert uid != uids(text.replace("second stipend", "third stipend"))[2]

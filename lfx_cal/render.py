"""Human-readable text for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from feeds.model import Timeline, endpoint_text


def table(timelines: Sequence[Timeline]) -> str:
    """A plain-text table per timeline; doubtful rows are marked with ``!``."""
    blocks = []
    for timeline in timelines:
        lines = [f"{timeline.term.id}  {timeline.term.title}  ({timeline.source})"]
        for event in timeline.events:
            end = endpoint_text(event.end) if event.end is not None else ""
            mark = "!" if timeline.flagged(event) else " "
            lines.append(
                f"{mark}{event.line:>4}  {endpoint_text(event.start):<20}  {end:<20}  "
                f"{'/'.join(event.categories):<22}  {event.title}"
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)

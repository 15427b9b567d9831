"""Finding the timeline in a Markdown term document and cutting it into rows.

Uses markdown-it-py (CommonMark + GFM tables and strikethrough) so that tables,
escapes, emphasis and nested lists are read the way GitHub renders them. Deleted
text (``~~March 20~~``, ``<del>``) is dropped; emphasis markers are dropped; each
row keeps the 1-based line number of the source line it came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import cache
from typing import NamedTuple

from markdown_it import MarkdownIt
from markdown_it.token import Token

from feeds.dates import looks_dated

_TIMELINE = re.compile(r"\btime\s*line\b|\bschedule\b|\bkey dates\b", re.IGNORECASE)
_DATE_HEADER = re.compile(r"\b(date|dates|when|deadline|time|schedule)\b", re.IGNORECASE)
_ACTIVITY_HEADER = re.compile(
    r"\b(activit\w*|event|milestone|what|item|phase|task|description|step)\b", re.IGNORECASE
)
_DELETE_OPEN = re.compile(r"<(del|s|strike)\b[^>]*>", re.IGNORECASE)
_DELETE_CLOSE = re.compile(r"</(del|s|strike)\s*>", re.IGNORECASE)
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}=+[ \t]*$")


class Row(NamedTuple):
    """One candidate row: its line, and either split cells or one text to split later.

    ``activity`` and ``when`` are set for table rows; ``text`` for list items and
    paragraphs, whose date and activity still have to be told apart. ``children``
    holds undated nested items (notes) and ``parent`` the undated item above.
    """

    line: int
    activity: str = ""
    when: str = ""
    text: str = ""
    parent: str = ""
    depth: int = 0
    in_table: bool = False


class Section(NamedTuple):
    """The rows of a document's timeline, the table's year hint and the title."""

    rows: tuple[Row, ...]
    title: str
    header_text: str


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def inline_lines(token: Token) -> list[tuple[int, str]]:
    """Plain text of an inline token, one entry per source line (offset, text)."""
    pieces: list[tuple[int, str]] = [(0, "")]
    deleted = 0
    for child in token.children or ():
        kind = child.type
        if kind == "s_open":
            deleted += 1
        elif kind == "s_close":
            deleted = max(0, deleted - 1)
        elif kind == "html_inline":
            if _DELETE_OPEN.match(child.content):
                deleted += 1
            elif _DELETE_CLOSE.match(child.content):
                deleted = max(0, deleted - 1)
            elif _BREAK.match(child.content):
                pieces[-1] = (pieces[-1][0], pieces[-1][1] + " ")
        elif kind in {"softbreak", "hardbreak"}:
            pieces.append((pieces[-1][0] + 1, ""))
        elif deleted == 0 and kind in {"text", "code_inline"}:
            pieces[-1] = (pieces[-1][0], pieces[-1][1] + child.content)
    return [(offset, " ".join(text.split())) for offset, text in pieces]


def plain(token: Token) -> str:
    """Plain text of an inline token on one line."""
    return " ".join(text for _, text in inline_lines(token) if text)


def _line(token: Token) -> int:
    return token.map[0] + 1 if token.map else 0


def _table_rows(tokens: Sequence[Token], start: int) -> tuple[list[Row], int, str]:
    """Read the table opening at *start*; return its rows, the index after it, its header."""
    rows: list[list[tuple[int, str]]] = []
    index = start
    current: list[tuple[int, str]] = []
    row_line = 0
    while tokens[index].type != "table_close":
        token = tokens[index]
        if token.type == "tr_open":
            current, row_line = [], _line(token)
        elif token.type == "inline":
            current.append((row_line, plain(token)))
        elif token.type == "tr_close":
            rows.append(current)
        index += 1
    if not rows:
        return [], index + 1, ""
    header = [text for _, text in rows[0]]
    when_col = next((i for i, h in enumerate(header) if _DATE_HEADER.search(h)), None)
    what_col = next((i for i, h in enumerate(header) if _ACTIVITY_HEADER.search(h)), None)
    if when_col is None:
        scores = [
            sum(looks_dated(r[i][1]) for r in rows[1:] if i < len(r)) for i in range(len(header))
        ]
        best = max(range(len(header)), key=lambda i: scores[i], default=None)
        when_col = best if best is not None and scores[best] else None
    if when_col is None:
        return [], index + 1, ""
    if what_col is None or what_col == when_col:
        what_col = next((i for i in range(len(header)) if i != when_col), when_col)
    out = [
        Row(line=r[0][0], activity=r[what_col][1], when=r[when_col][1], in_table=True)
        for r in rows[1:]
        if len(r) > max(when_col, what_col) and (r[what_col][1] or r[when_col][1])
    ]
    return out, index + 1, " ".join(header)


def _block_rows(tokens: Sequence[Token], start: int, stop: int) -> tuple[list[Row], str]:
    rows: list[Row] = []
    header = ""
    depth = 0
    parents: list[str] = []
    index = start
    while index < stop:
        token = tokens[index]
        if token.type == "table_open":
            table, index, head = _table_rows(tokens, index)
            rows.extend(table)
            header = header or head
            continue
        if token.type in {"bullet_list_open", "ordered_list_open"}:
            depth += 1
        elif token.type in {"bullet_list_close", "ordered_list_close"}:
            depth -= 1
        elif token.type == "list_item_open":
            parents.append("")
        elif token.type == "list_item_close" and parents:
            parents.pop()
        elif token.type == "inline":
            base = _line(token)
            parent = parents[-2] if len(parents) > 1 else ""
            for offset, text in inline_lines(token):
                if text:
                    rows.append(Row(line=base + offset, text=text, parent=parent, depth=depth))
            if parents and not parents[-1]:
                parents[-1] = plain(token)
        index += 1
    return rows, header


def _headings(tokens: Sequence[Token]) -> Iterator[tuple[int, int, str]]:
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            yield index, int(token.tag[1]), plain(tokens[index + 1])


def _sections(tokens: Sequence[Token], title: str) -> Iterator[Section]:
    heads = list(_headings(tokens))
    for position, (index, level, name) in enumerate(heads):
        if not _TIMELINE.search(name):
            continue
        stop = next((i for i, lvl, _ in heads[position + 1 :] if lvl <= level), len(tokens))
        rows, header = _block_rows(tokens, index + 3, stop)
        yield Section(tuple(rows), title, header)


def _atx_headings(lines: list[str]) -> Iterator[tuple[int, int, str]]:
    """ATX headings outside fenced code: (line index, level, text), a cheap pre-scan."""
    fence = ""
    for index, line in enumerate(lines):
        opening = _FENCE.match(line)
        if opening:
            marker = opening.group(1)
            if not fence:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = ""
            continue
        if not fence and (heading := _ATX.match(line)):
            yield index, len(heading.group(1)), heading.group(2) or ""


def _title(lines: list[str], heads: list[tuple[int, int, str]]) -> str:
    setext = next((i for i, line in enumerate(lines[1:], 1) if _SETEXT.match(line)), None)
    if setext is not None and lines[setext - 1].strip() and (not heads or setext < heads[0][0]):
        return " ".join(lines[setext - 1].split())
    return " ".join(heads[0][2].replace("*", "").split()) if heads else ""


def read_sections(text: str) -> Iterator[Section]:
    """Yield candidate timeline sections, best first.

    First every section under a heading named like "Timeline" (down to the next
    heading of the same or a higher level); then, as a fallback, each table of
    the document on its own. Only the timeline section is handed to the Markdown
    parser when a plain ``#`` heading marks it; otherwise the whole document is.
    """
    lines = text.splitlines()
    heads = list(_atx_headings(lines))
    title = _title(lines, heads)
    for position, (start, level, name) in enumerate(heads):
        if not _TIMELINE.search(name):
            continue
        stop = next((i for i, lvl, _ in heads[position + 1 :] if lvl <= level), len(lines))
        tokens = _parser().parse("\n".join(lines[start:stop]))
        for token in tokens:
            if token.map:
                token.map = [token.map[0] + start, token.map[1] + start]
        yield from _sections(tokens, title)
    tokens = _parser().parse(text)
    yield from _sections(tokens, title)
    for index, token in enumerate(tokens):
        if token.type == "table_open":
            rows, _, header = _table_rows(tokens, index)
            yield Section(tuple(rows), title, header)

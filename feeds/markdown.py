"""Finding the timelines in a Markdown term document and cutting them into rows.

Two steps, both linear in the document's size:

1. A line scan (no regex that can backtrack) finds the *outline*: ATX and setext
   headings outside fenced code and front matter, and *labels*: a bold
   paragraph naming a timeline (``**Timeline:**``) or a lead-in line ending in
   ``:`` that mentions a timeline, dates or a schedule ("Key dates for 2027:").
   A timeline *region* runs from such a heading to the next heading of the same
   or a higher level, or from a label over the list or table right after it.
   A region inside another region is part of it.
2. Only the regions go through markdown-it-py (CommonMark + GFM tables and
   strikethrough), so tables, escapes, emphasis and nested lists are read the
   way GitHub renders them. Deleted text (``~~March 20~~``, ``<del>``) is
   dropped; emphasis markers are dropped; each row keeps its 1-based line.

Without any region, the document's tables with a date column are the fallback.
Sub-headings inside a region are not rows: a month heading ("### March 2027")
is the context of the rows below it, and a dated heading ("#### Term 3:
September 5th - November 30th") is handed on as a heading row (term metadata).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import cache
from html.parser import HTMLParser
from typing import NamedTuple

from markdown_it import MarkdownIt
from markdown_it.token import Token

from feeds.dates import looks_dated

TIMELINE_WORDS = re.compile(
    r"\btime\s*-?\s*lines?\b|\bschedules?\b|\b(?:key|important|program|term|main)\s+dates\b"
    r"|\bdeadlines\b|^\s*dates\s*$",
    re.IGNORECASE,
)
"""Names of a timeline section: in a heading, a bold label or a lead-in line."""
_LEAD_IN_WORDS = re.compile(r"\btime\s*-?\s*lines?\b|\bschedules?\b|\bdates\b", re.IGNORECASE)
_NOT_TITLES = re.compile(
    r"^\W*(?:table\s+of\s+)?contents\W*$|^\W*toc\W*$|\bcompleted\s+projects?\b|^\W*index\W*$",
    re.IGNORECASE,
)
_DATE_HEADER = re.compile(r"\b(date|dates|when|deadline|time|schedule)\b", re.IGNORECASE)
_ACTIVITY_HEADER = re.compile(
    r"\b(activit\w*|event|milestone|what|item|phase|task|description|step)\b", re.IGNORECASE
)
_START_HEADER = re.compile(r"\b(start|starts|opens?|from|begins?)\b", re.IGNORECASE)
_END_HEADER = re.compile(r"\b(end|ends|closes?|to|until|due|deadline)\b", re.IGNORECASE)
_TIME_HEADER = re.compile(r"\b(time|times|hour|hours)\b", re.IGNORECASE)
_HAS_LETTERS = re.compile(r"[^\W\d_]{2,}")
_HEADER_ZONE = re.compile(r"[(\[]\s*([A-Za-z][A-Za-z+\-0-9: ]{0,12}?)\s*[)\]]")


def _column(header: Sequence[str], pattern: re.Pattern[str], skip: int | None = None) -> int | None:
    """The first column whose header matches *pattern* (other than *skip*)."""
    return next((i for i, h in enumerate(header) if i != skip and pattern.search(h)), None)


def _header_zone(text: str) -> str:
    """``Time (UTC)`` → ``UTC``: the zone a time column's header names, if any."""
    match = _HEADER_ZONE.search(text)
    return match.group(1) if match else ""


_DELETE_OPEN = re.compile(r"<(del|s|strike)\b[^>]*>", re.IGNORECASE)
_DELETE_CLOSE = re.compile(r"</(del|s|strike)\s*>", re.IGNORECASE)
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_ATX = re.compile(r" {0,3}(#{1,6})(?=[ \t]|$)")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_LIST_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
_MAX_LABEL = 160
MAX_LINE = 4000
"""Longest line read inside a timeline (characters); a longer one is dropped with a warning."""
MAX_LIST_ITEMS = 1000
"""Most list items read from one timeline section; the rest are dropped with a warning."""
MAX_SECTIONS = 20
"""Most timeline sections read from one document."""
_SCORED_ROWS = 50
_MAX_COLUMNS = 20
_TABLE_CHARS = frozenset("|:- \t")


class Row(NamedTuple):
    """One candidate row: its line, and either split cells or one text to split later.

    ``activity`` and ``when`` are set for table rows; ``text`` for list items,
    paragraphs and dated sub-headings (``heading``), whose date and activity
    still have to be told apart. ``depth`` is the list nesting (0 outside lists);
    ``context`` is the nearest month/year sub-heading above the row.
    """

    line: int
    activity: str = ""
    when: str = ""
    text: str = ""
    parent: str = ""
    depth: int = 0
    in_table: bool = False
    context: str = ""
    heading: bool = False


class Section(NamedTuple):
    """One timeline of a document: its rows and the texts that identify its term.

    ``names`` are the section's own heading or label, then the headings that
    enclose it (nearest first); ``header_text`` is a table header or lead-in line.
    """

    rows: tuple[Row, ...]
    title: str
    header_text: str
    names: tuple[str, ...] = ()
    line: int = 0
    notices: tuple[tuple[int, str], ...] = ()


class Heading(NamedTuple):
    """A heading of the outline: its 0-based line, level (7 for a label) and text."""

    at: int
    level: int
    text: str


@cache
def _parser() -> MarkdownIt:
    """Block structure only: inline markup is parsed lazily, where there is any."""
    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    return parser.disable("inline")


@cache
def _inline_parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


_MARKUP = re.compile(r"[*_~<>\\`\[\]&!]")
"""Characters that may start inline markup; text without any of them is plain."""


def _children(token: Token) -> list[Token] | None:
    """The inline children of *token*, parsed on first use; None when its text is plain.

    The block parser leaves inline text unparsed (most table cells and list items
    hold no markup, and parsing every one was most of the work on a large table).
    """
    if token.children:
        return token.children
    if _MARKUP.search(token.content) is None:
        return None
    parsed = _inline_parser().parseInline(token.content)
    token.children = parsed[0].children if parsed and parsed[0].children else []
    return token.children


def inline_lines(token: Token) -> list[tuple[int, str]]:
    """Plain text of an inline token, one entry per source line (offset, text)."""
    children = _children(token)
    if children is None:
        return [(i, " ".join(line.split())) for i, line in enumerate(token.content.split("\n"))]
    pieces: list[tuple[int, list[str]]] = [(0, [])]
    deleted = 0
    for child in children:
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
                pieces[-1][1].append(" ")
        elif kind in {"softbreak", "hardbreak"}:
            pieces.append((pieces[-1][0] + 1, []))
        elif deleted == 0 and kind in {"text", "code_inline"}:
            pieces[-1][1].append(child.content)
    return [(offset, " ".join("".join(parts).split())) for offset, parts in pieces]


def plain(token: Token) -> str:
    """Plain text of an inline token on one line."""
    if _children(token) is None:  # most table cells
        content = token.content
        if "  " in content or "\n" in content or "\t" in content:
            return " ".join(content.split())
        return content.strip()
    return " ".join(text for _, text in inline_lines(token) if text)


def _line(token: Token) -> int:
    return token.map[0] + 1 if token.map else 0


def _table_rows(tokens: Sequence[Token], start: int, offset: int = 0) -> tuple[list[Row], int, str]:
    """Read the table opening at *start*; return its rows, the index after it, its header."""
    rows: list[list[tuple[int, str]]] = []
    index = start
    current: list[tuple[int, str]] = []
    row_line = 0
    while index < len(tokens) and tokens[index].type != "table_close":
        token = tokens[index]
        if token.type == "tr_open":
            current, row_line = [], _line(token) + offset
        elif token.type == "inline":
            current.append((row_line, plain(token)))
        elif token.type == "tr_close":
            rows.append(current)
        index += 1
    out, header = _interpret(rows)
    return out, index + 1, header


class _HtmlTable(HTMLParser):
    """The cells of the ``<table>`` elements of an HTML block, with each row's line."""

    def __init__(self, first_line: int) -> None:
        super().__init__(convert_charrefs=True)
        self.line = first_line
        self.tables: list[list[list[tuple[int, str]]]] = []
        self.cell: list[str] | None = None
        self.deleted = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.line + self.getpos()[0] - 1
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
            self.row_line = line
        elif tag in {"td", "th"} and self.tables and self.tables[-1]:
            self.cell = []
        elif tag in {"del", "s", "strike"}:
            self.deleted += 1
        elif tag == "br" and self.cell is not None:
            self.cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"td", "th"} and self.cell is not None and self.tables and self.tables[-1]:
            text = " ".join("".join(self.cell).split())
            self.tables[-1][-1].append((self.row_line, text))
            self.cell = None
        elif tag in {"del", "s", "strike"}:
            self.deleted = max(0, self.deleted - 1)

    def handle_data(self, data: str) -> None:
        if self.cell is not None and not self.deleted:
            self.cell.append(data)


def _html_table_rows(token: Token, offset: int = 0) -> tuple[list[Row], str]:
    """Rows of the HTML tables in an ``html_block`` token (GitHub renders them as tables)."""
    parser = _HtmlTable(_line(token) + offset)
    parser.feed(token.content)
    parser.close()
    rows: list[Row] = []
    header = ""
    for table in parser.tables:
        found, head = _interpret([r for r in table if r])
        rows.extend(found)
        header = header or head
    return rows, header


def _interpret(rows: list[list[tuple[int, str]]]) -> tuple[list[Row], str]:
    """Rows of a table (its first row the header): which columns are what, and the rows."""
    if not rows:
        return [], ""
    header = [text for _, text in rows[0]]
    start_col = _column(header, _START_HEADER)
    end_col = _column(header, _END_HEADER, skip=start_col)
    when_col = next((i for i, h in enumerate(header) if _DATE_HEADER.search(h)), None)
    if start_col is not None and end_col is not None:
        when_col = start_col
    what_col = next((i for i, h in enumerate(header) if _ACTIVITY_HEADER.search(h)), None)
    if when_col is None:
        scores = [
            sum(looks_dated(r[i][1]) for r in rows[1 : _SCORED_ROWS + 1] if i < len(r))
            for i in range(min(len(header), _MAX_COLUMNS))
        ]
        best = max(range(len(scores)), key=lambda i: scores[i], default=None)
        when_col = best if best is not None and scores[best] else None
    if when_col is None:
        return [], ""
    used = {when_col, end_col} if start_col is not None and end_col is not None else {when_col}
    time_col = _column(header, _TIME_HEADER, skip=when_col)
    if time_col is not None and _DATE_HEADER.search(_TIME_HEADER.sub("", header[time_col])):
        time_col = None  # "Date and time" is the date column itself
    if time_col is not None and start_col is None:
        used.add(time_col)
    if what_col is None or what_col in used:
        what_col = next((i for i in range(len(header)) if i not in used), when_col)
    zone = _header_zone(header[time_col]) if time_col is not None else ""

    def when(cells: list[tuple[int, str]]) -> str:
        text = cells[when_col][1]
        if start_col is not None and end_col is not None and end_col < len(cells):
            end = cells[end_col][1]
            return f"{text} – {end}" if text and end else text or end
        if time_col is not None and time_col in used and time_col < len(cells):
            time = cells[time_col][1]
            if time and not _HAS_LETTERS.search(time) and zone:
                time = f"{time} {zone}"
            return f"{text} {time}".strip() if text else ""
        return text

    out = [
        Row(line=r[0][0], activity=r[what_col][1], when=when(r), in_table=True)
        for r in rows[1:]
        if len(r) > max(when_col, what_col) and (r[what_col][1] or when(r))
    ]
    return out, " ".join(header)


_MONTH_OR_YEAR = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\b|(?<!\d)(?:19|20)\d\d(?!\d)",
    re.IGNORECASE,
)
_DAY_NUMBER = re.compile(r"(?<![\d:])\d{1,2}(?:st|nd|rd|th)?(?![\d:])", re.IGNORECASE)


def _block_rows(
    tokens: Sequence[Token], start: int, stop: int, offset: int = 0
) -> tuple[list[Row], str]:
    """Rows of tokens ``[start, stop)``; *offset* is added to every line (a region's start)."""
    rows: list[Row] = []
    header = ""
    depth = 0
    context = ""
    quoted = 0
    parents: list[str] = []
    index = start
    while index < stop:
        token = tokens[index]
        if token.type == "table_open":
            table, index, head = _table_rows(tokens, index, offset)
            rows.extend([row._replace(context=context) for row in table] if context else table)
            header = header or head
            continue
        if token.type == "html_block" and "<table" in token.content.lower():
            table, head = _html_table_rows(token, offset)
            rows.extend(row._replace(context=context) for row in table)
            header = header or head
            index += 1
            continue
        if token.type == "heading_open" and index + 1 < stop:
            text = plain(tokens[index + 1])
            if _DAY_NUMBER.search(_MONTH_OR_YEAR.sub(" ", text)) and looks_dated(text):
                rows.append(Row(line=_line(token) + offset, text=text, heading=True))
            else:
                context = text if _MONTH_OR_YEAR.search(text) else ""
            index += 3
            continue
        if token.type == "blockquote_open":
            quoted += 1  # a quotation is an aside ("> Update: …"), not a row
        elif token.type == "blockquote_close":
            quoted = max(0, quoted - 1)
        elif quoted:
            pass
        elif token.type in {"bullet_list_open", "ordered_list_open"}:
            depth += 1
        elif token.type in {"bullet_list_close", "ordered_list_close"}:
            depth -= 1
        elif token.type == "list_item_open":
            parents.append("")
        elif token.type == "list_item_close" and parents:
            parents.pop()
        elif token.type == "inline":
            base = _line(token) + offset
            parent = parents[-2] if len(parents) > 1 else ""
            for shift, text in inline_lines(token):
                if text:
                    rows.append(
                        Row(line=base + shift, text=text, parent=parent, depth=depth,
                            context=context)
                    )  # fmt: skip
            if parents and not parents[-1]:
                parents[-1] = plain(token)
        index += 1
    return rows, header


def _atx(line: str) -> tuple[int, str] | None:
    """``(level, text)`` of an ATX heading line, without a backtracking regex."""
    match = _ATX.match(line)
    if match is None:
        return None
    text = line[match.end() :].strip()
    if text.endswith("#"):
        closed = text.rstrip("#")
        if not closed or closed[-1] in " \t":
            text = closed.rstrip()
    return len(match.group(1)), text


def _unmark(text: str) -> str:
    return " ".join(text.replace("*", " ").replace("_", " ").split())


def _may_label(line: str) -> bool:
    """A cheap test before :func:`_is_label`: short, and bold or ending in ':'."""
    if len(line) > _MAX_LABEL + 8:
        return False
    stripped = line.rstrip()
    return stripped.endswith((":", "*", "_")) or stripped.lstrip().startswith(("**", "__"))


def _is_label(line: str, following: str) -> bool:
    """A bold paragraph naming a timeline, or a lead-in line ending in ':' before a list."""
    stripped = line.strip()
    if not stripped or len(stripped) > _MAX_LABEL or stripped[0] in "|>#":
        return False
    if _LIST_ITEM.match(line):
        return False
    text = _unmark(stripped)
    bold = stripped.startswith(("**", "__")) and (
        stripped.endswith(("**", "__", ":")) or stripped.rstrip("*_ ").endswith(":")
    )
    if bold and TIMELINE_WORDS.search(text.rstrip(": ")):
        return True
    if text.endswith(":") and _LEAD_IN_WORDS.search(text):
        nxt = following.strip()
        return nxt.startswith("|") or bool(_LIST_ITEM.match(following))
    return False


def outline(lines: Sequence[str]) -> list[Heading]:
    """Headings (levels 1–6) and timeline labels (level 7) outside code and front matter."""
    heads: list[Heading] = []
    fence = ""
    start = 0
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in {"---", "..."}), None)
        if end is not None:
            start = end + 1
    previous_plain = False
    for index in range(start, len(lines)):
        line = lines[index]
        lead = line[:4].lstrip()[:1]
        if not lead:
            previous_plain = False
            continue
        if lead in "`~" and (opening := _FENCE.match(line)):
            marker = opening.group(1)
            if not fence:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = ""
            previous_plain = False
            continue
        if fence:
            continue
        if lead == "#" and (atx := _atx(line)) is not None:
            heads.append(Heading(index, *atx))
            previous_plain = False
            continue
        if lead in "=-" and previous_plain and (underline := _SETEXT.match(line)):
            level = 1 if underline.group(1)[0] == "=" else 2
            heads.append(Heading(index - 1, level, " ".join(lines[index - 1].split())))
            previous_plain = False
            continue
        is_item = lead in "-*+0123456789" and _LIST_ITEM.match(line) is not None
        if not is_item and lead not in "|>" and _may_label(line):
            following = lines[index + 1] if index + 1 < len(lines) else ""
            after = following
            if not after.strip() and index + 2 < len(lines):
                after = lines[index + 2]  # a lead-in, a blank line, then the list
            if _is_label(line, after) and not _SETEXT.match(following):
                heads.append(Heading(index, 7, _unmark(line.strip()).rstrip(":").strip()))
        previous_plain = not (lead in "|>" or is_item or line.startswith("    "))
    return heads


def _title(heads: Sequence[Heading]) -> str:
    """The first real heading: not a table of contents, completed projects or a timeline."""
    real = [h for h in heads if h.level <= 6]
    for head in real:
        text = _unmark(head.text)
        if text and not _NOT_TITLES.search(text) and not TIMELINE_WORDS.search(text):
            return text
    return _unmark(real[0].text) if real else ""


def _label_end(lines: Sequence[str], index: int, limit: int) -> int:
    """The line after the list or table that follows a label at *index*."""
    position = index + 1
    while position < limit and not lines[position].strip():
        position += 1
    seen = False
    while position < limit:
        line = lines[position]
        stripped = line.strip()
        if not stripped:
            ahead = position + 1
            while ahead < limit and not lines[ahead].strip():
                ahead += 1
            if ahead < limit and (
                _LIST_ITEM.match(lines[ahead]) or lines[ahead][:1] in {" ", "\t"}
            ):
                position = ahead
                continue
            break
        if stripped.startswith("|") or _LIST_ITEM.match(line) or line[:1] in {" ", "\t"}:
            seen = True
        elif not seen:
            break
        position += 1
    return position


class Region(NamedTuple):
    """Lines ``[start, stop)`` of one timeline, and the headings that name and enclose it."""

    start: int
    stop: int
    names: tuple[str, ...]
    header: str


def regions(lines: Sequence[str], heads: Sequence[Heading]) -> list[Region]:
    """Every timeline region, outermost only, in document order (linear time)."""
    found: list[Region] = []
    stack: list[Heading] = []  # enclosing headings
    stops = _stops(heads, len(lines))
    open_until = -1
    for position, head in enumerate(heads):
        while stack and stack[-1].level >= head.level and head.level <= 6:
            stack.pop()
        is_timeline = TIMELINE_WORDS.search(head.text) or (
            head.level == 7 and _LEAD_IN_WORDS.search(head.text)
        )
        if is_timeline and head.at >= open_until:
            if head.level == 7:
                limit = stops[position]
                stop = _label_end(lines, head.at, limit)
                header = head.text
            else:
                stop, header = stops[position], ""
            names = (head.text, *(h.text for h in reversed(stack) if h.level <= 6))
            found.append(Region(head.at, stop, names, header))
            open_until = stop
        if head.level <= 6:
            stack.append(head)
    return found


def _stops(heads: Sequence[Heading], end: int) -> list[int]:
    """For each heading, the line of the next heading of the same or a higher level."""
    stops = [end] * len(heads)
    pending: list[int] = []  # indexes of headings still open, levels increasing
    for position, head in enumerate(heads):
        level = min(head.level, 6) if head.level <= 6 else 7
        if head.level <= 6:
            while pending and min(heads[pending[-1]].level, 7) >= level:
                stops[pending.pop()] = head.at
        else:
            while pending and heads[pending[-1]].level == 7:
                stops[pending.pop()] = head.at
        pending.append(position)
    return stops


class Document(NamedTuple):
    """A document's lines, outline and title, scanned once."""

    lines: list[str]
    heads: list[Heading]
    title: str


def scan(text: str) -> Document:
    """Split *text* into lines and find its outline and title (linear time)."""
    lines = text.splitlines()
    heads = outline(lines)
    return Document(lines, heads, _title(heads))


def _clip(lines: Sequence[str], start: int, stop: int) -> tuple[str, list[tuple[int, str]]]:
    """The text of lines ``[start, stop)`` within the limits, and a notice per cut."""
    notices: list[tuple[int, str]] = []
    kept: list[str] = []
    items = 0
    for index in range(start, stop):
        line = lines[index]
        if len(line) > MAX_LINE:
            notices.append((index + 1, f"line of {len(line)} characters is too long to read"
                            f" (limit {MAX_LINE}); skipped"))  # fmt: skip
            line = ""
        elif _LIST_ITEM.match(line):
            items += 1
            if items > MAX_LIST_ITEMS:
                notices.append((index + 1, f"more than {MAX_LIST_ITEMS} list items in one"
                                " timeline; the rest are not read"))  # fmt: skip
                break
        kept.append(line)
    return "\n".join(kept), notices


def timeline_sections(doc: Document) -> Iterator[Section]:
    """Yield the sections under timeline headings and labels, in document order."""
    lines = doc.lines
    for count, region in enumerate(regions(lines, doc.heads)):
        if count == MAX_SECTIONS:
            notice = (region.start + 1, f"more than {MAX_SECTIONS} timeline sections;"
                      " the rest are not read")  # fmt: skip
            yield Section((), doc.title, "", region.names, region.start + 1, (notice,))
            return
        text, notices = _clip(lines, region.start, region.stop)
        tokens = _parser().parse(text)
        first = 0
        if tokens and tokens[0].type in {"heading_open", "paragraph_open"}:
            first = 3  # the heading or label itself is not a row
        rows, header = _block_rows(tokens, first, len(tokens), region.start)
        yield Section(
            tuple(rows), doc.title, header or region.header, region.names, region.start + 1,
            tuple(notices),
        )  # fmt: skip


def has_tables(doc: Document) -> bool:
    """True when some line looks like a table's delimiter row (``| --- | --- |``) or HTML table."""
    return any(
        ("|" in line and "-" in line and set(line.strip()) <= _TABLE_CHARS)
        or "<table" in line.lower()
        for line in doc.lines
    )


def table_sections(doc: Document) -> Iterator[Section]:
    """The fallback: each table of the whole document with a date column, on its own."""
    if not has_tables(doc):
        return
    text, notices = _clip(doc.lines, 0, len(doc.lines))
    tokens = _parser().parse(text)
    stack: list[Heading] = []
    heads = iter(h for h in doc.heads if h.level <= 6)
    pending = next(heads, None)
    for index, token in enumerate(tokens):
        html = token.type == "html_block" and "<table" in token.content.lower()
        if token.type != "table_open" and not html:
            continue
        line = _line(token)
        while pending is not None and pending.at < line - 1:
            while stack and stack[-1].level >= pending.level:
                stack.pop()
            stack.append(pending)
            pending = next(heads, None)
        if html:
            rows, header = _html_table_rows(token)
        else:
            rows, _, header = _table_rows(tokens, index)
        names = tuple(h.text for h in reversed(stack))
        yield Section(tuple(rows), doc.title, header, names, line, tuple(notices))

"""Reading term documents from a file, an http(s) URL or standard input.

HTTP uses httpx (imported only when a URL is read) with a timeout and a size
cap; an error status or an HTML page where Markdown was expected is a
:class:`~feeds.errors.SourceError` that says what to do instead.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import NamedTuple

from feeds.errors import SourceError

MAX_BYTES = 5 * 1024 * 1024
"""Largest document read (term READMEs are well under 100 kB)."""
TIMEOUT = 15.0
_BLOB = re.compile(r"^https://github\.com/([^/]+)/([^/]+)/blob/(.+)$")
_HTML = re.compile(rb"^\s*(<!doctype html|<html)", re.IGNORECASE)


class Document(NamedTuple):
    """A document's text and where it came from (``url`` is set for http sources)."""

    name: str
    text: str
    url: str | None = None


def raw_url(url: str) -> str:
    """Turn a GitHub ``/blob/`` page address into the raw file address."""
    match = _BLOB.match(url)
    if not match:
        return url
    owner, repo, rest = match.groups()
    return f"https://raw.githubusercontent.com/{owner}/{repo}/{rest}"


def _decode(name: str, data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise SourceError(
            name, f"larger than {MAX_BYTES // 1024 // 1024} MiB", "is it a term document?"
        )
    if _HTML.match(data):
        raise SourceError(
            name, "got an HTML page, not a Markdown or YAML document", "use the raw file's address"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise SourceError(
            name, f"not UTF-8 text (byte {error.start})", "save the document as UTF-8"
        ) from None


def fetch(url: str, *, timeout: float = TIMEOUT) -> Document:
    """GET a document over http(s); raises SourceError for any failure."""
    document = fetch_if_changed(url, timeout=timeout).document
    if document is None:  # 304 to a request without validators: a broken server
        raise SourceError(url, "HTTP 304 to an unconditional request", "check the address")
    return document


class Fetched(NamedTuple):
    """The result of a conditional GET: no document when the server said 304 Not Modified."""

    document: Document | None
    etag: str | None
    last_modified: str | None


def fetch_if_changed(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = TIMEOUT,
) -> Fetched:
    """GET *url*, with ``If-None-Match`` / ``If-Modified-Since`` from an earlier fetch if given.

    Returns ``Fetched(None, …)`` on 304, else the document and the validators the
    server sent. Reads at most MAX_BYTES; raises SourceError for any failure.
    """
    import httpx

    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    address = raw_url(url)
    try:
        with httpx.stream(
            "GET", address, headers=headers, timeout=timeout, follow_redirects=True
        ) as response:
            tags = response.headers.get("ETag"), response.headers.get("Last-Modified")
            if response.status_code == 304:
                return Fetched(None, tags[0] or etag, tags[1] or last_modified)
            if response.status_code != 200:
                raise SourceError(
                    url,
                    f"HTTP {response.status_code} {response.reason_phrase}",
                    "check the address; it must serve the raw document",
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    break
    except httpx.HTTPError as error:
        raise SourceError(
            url, f"cannot fetch: {error}", "check the address and the network"
        ) from None
    return Fetched(Document(url, _decode(url, bytes(body)), address), *tags)


def read(source: str) -> Document:
    """Read a source: ``-`` for standard input, an http(s) URL, or a file path."""
    if source == "-":
        return Document("<stdin>", _decode("<stdin>", sys.stdin.buffer.read(MAX_BYTES + 1)))
    if source.startswith(("http://", "https://")):
        return fetch(source)
    path = Path(source)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SourceError(source, "no such file", "check the path") from None
    except IsADirectoryError:
        raise SourceError(source, "is a directory", "name the README.md inside it") from None
    except OSError as error:
        raise SourceError(source, f"cannot read: {error.strerror}") from None
    return Document(source, _decode(source, data))

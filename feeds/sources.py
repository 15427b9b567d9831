"""Reading term documents from a file, an http(s) URL or standard input.

HTTP uses httpx (imported only when a URL is read) with a timeout and a size
cap; an error status or an HTML page where Markdown was expected is a
:class:`~feeds.errors.SourceError` that says what to do instead.

Decisions:

* **Every fetch has a total deadline** (``deadline``, default :data:`DEADLINE`),
  not only a per-read timeout: a server that drips one byte a second never
  trips a read timeout. The request runs on httpx's async client inside its own
  short-lived event loop under :func:`asyncio.timeout`, which cancels it wherever
  it waits (connect, headers, body); the sync API callers see is unchanged.
* **Errors name the public form of the URL** (:func:`feeds.public.public_source`):
  no credentials, no query. httpx's own log lines go through
  :class:`feeds.public.RedactingFilter`.
* An HTML page is recognised by its bytes or by ``Content-Type: text/html``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import NamedTuple

from feeds.errors import SourceError
from feeds.public import public_source, redact, redact_library_logs

MAX_BYTES = 5 * 1024 * 1024
"""Largest document read (term READMEs are well under 100 kB)."""
TIMEOUT = 15.0
"""Seconds any single network step (connect, one read) may take."""
DEADLINE = 30.0
"""Seconds a whole fetch (connect, headers, body, redirects) may take."""
_BLOB = re.compile(r"^https://github\.com/([^/]+)/([^/]+)/blob/(.+)$")
_HTML = re.compile(rb"^\s*(<!doctype html|<html)", re.IGNORECASE)


class Document(NamedTuple):
    """A document's text and where it came from (``url`` is set for http sources).

    For an http source both ``name`` and ``url`` are public (:func:`public_source`):
    no user info, no query. Only the fetch itself sees the real address.
    """

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


def decode(name: str, data: bytes) -> str:
    """A document's bytes as text: UTF-8 (BOM allowed), not HTML, at most :data:`MAX_BYTES`."""
    return _decode(name, data)


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


def fetch(url: str, *, timeout: float = TIMEOUT, deadline: float = DEADLINE) -> Document:
    """GET a document over http(s); raises SourceError for any failure."""
    document = fetch_if_changed(url, timeout=timeout, deadline=deadline).document
    if document is None:  # 304 to a request without validators: a broken server
        raise SourceError(
            public_source(url), "HTTP 304 to an unconditional request", "check the address"
        )
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
    deadline: float = DEADLINE,
) -> Fetched:
    """GET *url*, with ``If-None-Match`` / ``If-Modified-Since`` from an earlier fetch if given.

    Returns ``Fetched(None, …)`` on 304, else the document and the validators the
    server sent. Reads at most MAX_BYTES and gives up after *deadline* seconds in
    all; raises SourceError (naming the URL without credentials or query) for any
    failure.
    """
    import asyncio  # only URL reads pay for the event loop machinery (cold start)
    import concurrent.futures

    redact_library_logs("httpx", "httpcore")
    request = _fetch(url, etag, last_modified, timeout, deadline)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(request)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # called from a coroutine
        return pool.submit(asyncio.run, request).result()


async def _fetch(
    url: str, etag: str | None, last_modified: str | None, timeout: float, deadline: float
) -> Fetched:
    import asyncio

    import httpx

    name = public_source(url)
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    address = raw_url(url)
    try:
        async with (
            asyncio.timeout(deadline),
            httpx.AsyncClient(timeout=min(timeout, deadline), follow_redirects=True) as client,
            client.stream("GET", address, headers=headers) as response,
        ):
            tags = response.headers.get("ETag"), response.headers.get("Last-Modified")
            if response.status_code == 304:
                return Fetched(None, tags[0] or etag, tags[1] or last_modified)
            if response.status_code != 200:
                raise SourceError(
                    name,
                    f"HTTP {response.status_code} {response.reason_phrase}",
                    "check the address; it must serve the raw document",
                )
            kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind in ("text/html", "application/xhtml+xml"):
                raise SourceError(
                    name,
                    f"got an HTML page ({kind}), not a Markdown or YAML document",
                    "use the raw file's address",
                )
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    break
    except SourceError:
        raise
    except TimeoutError:
        raise SourceError(
            name,
            f"no complete answer within {deadline:g} s",
            "check the server; raise the source's fetch_deadline if it is just slow",
        ) from None
    except httpx.HTTPError as error:
        raise SourceError(
            name, f"cannot fetch: {redact(str(error))}", "check the address and the network"
        ) from None
    except (OSError, ValueError) as error:  # a malformed URL or a socket-level failure
        raise SourceError(
            name, f"cannot fetch: {redact(str(error))}", "check the address and the network"
        ) from None
    # The document is known by its public form from here on (issue 10 item 2: every
    # output, from ICS URL/DESCRIPTION to warnings and JSON, names the source this way).
    return Fetched(Document(name, _decode(name, bytes(body)), public_source(address)), *tags)


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

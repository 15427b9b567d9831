"""Subscribe links for a feed address, built exactly as the page script builds them."""

from __future__ import annotations

from urllib.parse import quote, urljoin

GOOGLE = "https://calendar.google.com/calendar/render?cid="
OUTLOOK = "https://outlook.live.com/calendar/0/addfromweb?url="
_JS_SAFE = "!~*'()"
"""Characters encodeURIComponent leaves alone besides letters, digits and ``-_.``."""


def encode_component(text: str) -> str:
    """Percent-encode like JavaScript's ``encodeURIComponent``."""
    return quote(text, safe=_JS_SAFE)


def normalize_base(base_url: str | None) -> str | None:
    """A base URL ending with ``/`` (so relative feed paths join under it), or None."""
    if not base_url:
        return None
    return base_url if base_url.endswith("/") else base_url + "/"


def subscribe_links(address: str, name: str) -> dict[str, str]:
    """``webcal``, ``google``, ``outlook`` and ``download`` links for an absolute feed URL."""
    webcal = "webcal:" + address.split(":", 1)[1] if address.startswith("http") else address
    return {
        "webcal": webcal,
        "google": GOOGLE + encode_component(webcal),
        "outlook": OUTLOOK + encode_component(address) + "&name=" + encode_component(name),
        "download": address,
    }


def absolute(base_url: str, path: str) -> str:
    """Join a relative feed path to a base URL."""
    return urljoin(base_url, path)

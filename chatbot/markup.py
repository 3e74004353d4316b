"""Safe Markdown for the chat page: text from the model, the guidance or the patient is shown, never run or fetched.

HTML is escaped (a `<script>` or `<img onerror>` shows as text), Markdown images become their alt text (nothing is
loaded from another host), and a link is kept only when it is http(s) to a host the reply's sources use; any other
link (`javascript:`, `data:`, another host) becomes its text, and a bare address to another host is shown as code.
"""

from __future__ import annotations

import html
import re
from typing import Iterable
from urllib.parse import urlsplit

_IMAGE = re.compile(r"!\[([^\]]*)\]\s*(?:\([^)]*\)|\[[^\]]*\])")
_LINK = re.compile(r"\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"(?m)^(\s{0,3})\[([^\]]+)\]:")
_BRACKET_IMAGE = re.compile(r"!\[")
_BARE_URL = re.compile(r"(?<![<\w`/])(?:(?:https?|ftp)://|www\.)(?:(?!&[lg]t;)[^\s<>()\[\]`\"'])+", re.I)


def safe_markdown(text: str, allowed_hosts: Iterable[str] = ()) -> str:
    """`text` made safe to render as Markdown: no HTML, no images, links only to `allowed_hosts` over http(s)."""
    hosts = {h.lower() for h in allowed_hosts}
    text = html.escape(text, quote=False)
    text = _IMAGE.sub(lambda m: m.group(1), text)
    text = _LINK.sub(lambda m: m.group(0) if _allowed(html.unescape(m.group(2)), hosts) else m.group(1), text)
    text = _REFERENCE.sub(lambda m: f"{m.group(1)}\\[{m.group(2)}\\]:", text)  # reference definitions: shown as text
    # the page turns a bare address into a link: one to another host is shown as code, which is never linked
    text = _BARE_URL.sub(lambda m: m.group(0) if _allowed(html.unescape(m.group(0)), hosts) else f"`{m.group(0)}`", text)
    return _BRACKET_IMAGE.sub("!\\[", text)


def safe_url(url: str, allowed_hosts: Iterable[str] = ()) -> bool:
    """True for an http(s) link to one of `allowed_hosts` (any host when none are given)."""
    hosts = {h.lower() for h in allowed_hosts}
    return _allowed(url, hosts) if hosts else _scheme_ok(url)


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _scheme_ok(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _allowed(url: str, hosts: set[str]) -> bool:
    return _scheme_ok(url) and host_of(url) in hosts

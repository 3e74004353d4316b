"""Safe Markdown: HTML escaped, images dropped, links only to allowed hosts over http(s)."""

from __future__ import annotations

import pytest

from chatbot.markup import host_of, safe_markdown, safe_url

SOURCES = {"medlineplus.gov"}


@pytest.mark.parametrize(("text", "gone", "kept"), [
    ("<script>alert(1)</script> Rest.", "<script>", "&lt;script&gt;"),
    ('<img src=x onerror="alert(1)"> Drink water.', "<img", "&lt;img"),
    ("[click](javascript:alert(1))", "javascript:", "click"),
    ("[data](data:text/html;base64,PHNjcmlwdD4=)", "data:", "data"),
    ("![pixel](https://tracker.example.com/p.png)", "tracker.example.com", "pixel"),
    ("![pixel][1]\n[1]: https://tracker.example.com/p.png", "![", "pixel"),
    ("[other host](https://evil.example.com/x)", "evil.example.com/x)", "other host"),
    ("&#60;script&#62;", "&#60;", "&amp;#60;"),
    ("Go to http://evil.example.com/x now.", " http://evil", "`http://evil.example.com/x`"),
])
def test_unsafe_markup_becomes_text(text: str, gone: str, kept: str) -> None:
    shown = safe_markdown(text, SOURCES)
    assert gone not in shown.replace("\\[", "["), shown
    assert kept in shown


def test_a_link_to_a_source_host_is_kept() -> None:
    text = "See [high blood pressure](https://medlineplus.gov/highbloodpressure.html) or https://medlineplus.gov/."
    assert safe_markdown(text, SOURCES) == text


def test_plain_text_is_unchanged() -> None:
    text = "Eat less salt. Walk every day. A reading of 130/80 or higher is high."
    assert safe_markdown(text) == text


def test_safe_url_accepts_only_http_links() -> None:
    assert safe_url("https://medlineplus.gov/x")
    assert not safe_url("javascript:alert(1)")
    assert not safe_url("https://evil.example.com/x", SOURCES)
    assert host_of("https://MedlinePlus.gov/x") == "medlineplus.gov"

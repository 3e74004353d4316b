"""Input normalisation: hidden characters cannot slip a message past screening."""

from __future__ import annotations

import pytest

from chatbot.normalize import has_words, normalize_text
from chatbot.screening import screen


@pytest.mark.parametrize("raw, clean", [
    ("ch\u200best pa\u200din", "chest pain"),  # zero-width space and joiner
    ("\ufeffhello", "hello"),  # byte-order mark
    ("soft\u00adhyphen", "softhyphen"),
    ("\u202eevil\u202c text", "evil text"),  # bidi override
    ("\u2066isolated\u2069", "isolated"),
    ("ｃｈｅｓｔ　ｐａｉｎ", "chest pain"),  # full-width letters and ideographic space (NFKC)
    ("e\u0301", "\u00e9"),  # combining accent composed
    ("tag\U000e0041\U000e0042s", "tags"),  # Unicode tag characters
])
def test_hidden_and_compatibility_characters_are_removed(raw: str, clean: str) -> None:
    assert normalize_text(raw) == clean


def test_control_characters_become_spaces_and_whitespace_collapses() -> None:
    assert normalize_text("fever\x00and\x07chills\x1b") == "fever and chills"
    assert normalize_text("  lots \t of\r   space  ") == "lots of space"


def test_line_breaks_are_kept_but_blank_runs_shrink() -> None:
    assert normalize_text("line one  \n\n\n\n  line two\nline three") == "line one\n\nline two\nline three"


@pytest.mark.parametrize("raw", ["", "   ", "\u200b\u200b", "\x00\x01\x7f", "😀 😀", "ｈｅｌｌｏ\u200b ｗｏｒｌｄ"])
def test_normalisation_is_idempotent(raw: str) -> None:
    once = normalize_text(raw)
    assert normalize_text(once) == once


def test_only_invisible_or_control_characters_normalise_to_empty() -> None:
    assert normalize_text("\u200b\u200d\ufeff") == ""
    assert normalize_text("\x00\x01\x02") == ""


@pytest.mark.parametrize("message", [
    "i want to k\u200bill mys\u200delf",
    "ｉ ｗａｎｔ ｔｏ ｋｉｌｌ ｍｙｓｅｌｆ",
    "i want to\u00a0kill\u2009myself",  # no-break and thin spaces
])
def test_obfuscated_crisis_messages_are_still_caught_after_normalising(message: str) -> None:
    assert screen(normalize_text(message)).route == "crisis"


@pytest.mark.parametrize("text, expected", [
    ("fever", True),
    ("38", True),
    ("发烧", True),
    ("😀😀", False),
    ("?!...", False),
    ("", False),
    ("❤️ 👍", False),
])
def test_has_words(text: str, expected: bool) -> None:
    assert has_words(text) is expected

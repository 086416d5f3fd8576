"""Parsing uploads into text (pure)."""

from __future__ import annotations

import time

import pytest

from ragagent.core import errors
from ragagent.rag.parsing import build_parsed, normalise_content_type


def test_html_keeps_visible_text_and_drops_active_content() -> None:
    html = (
        "<html><head><title>Guide</title><script>alert(1)</script><style>p{}</style></head>"
        "<body><h1>Setup <b>steps</b></h1><p onclick='x()'>Run <i>make</i>.</p>"
        "<!-- secret comment --><iframe src='evil'></iframe><form><input value='pw'></form>"
        "<h2>Next</h2><ul><li>one</li><li>two</li></ul></body></html>"
    )
    parsed = build_parsed(html, "text/html")
    assert parsed.title == "Guide"
    assert "# Setup steps" in parsed.text
    assert "## Next" in parsed.text
    assert "Run make." in parsed.text
    for gone in ("alert", "secret comment", "evil", "pw", "<", "onclick", "p{}"):
        assert gone not in parsed.text


def test_markdown_title_is_its_first_heading() -> None:
    assert build_parsed("intro\n# The Title\ntext", "text/markdown").title == "The Title"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("text/plain", "text/plain"),
        ("text/HTML; charset=utf-8", "text/html"),
        ("text/x-markdown", "text/markdown"),
    ],
)
def test_supported_content_types_are_normalised(header: str, expected: str) -> None:
    assert normalise_content_type(header) == expected


@pytest.mark.parametrize("header", ["application/msword", "image/png", "", None])
def test_unsupported_content_types_are_415(header: str | None) -> None:
    with pytest.raises(errors.UnsupportedMediaType) as caught:
        normalise_content_type(header)
    assert caught.value.status_code == 415


def build_flat_html(paragraphs: int) -> str:
    """The worst case for a per-tag parser: many tiny sibling paragraphs."""
    return "<html><body>" + "<p>tea</p>\n" * paragraphs + "</body></html>"


def test_flat_html_parses_in_linear_time() -> None:
    """50 KB of tiny paragraphs took 9 s with per-tag inserts; a linear pass takes ms."""
    body = build_flat_html(5_000)
    started = time.process_time()
    parsed = build_parsed(body, "text/html")
    assert time.process_time() - started < 1.0
    assert parsed.text.count("tea") == 5_000


def test_html_over_the_element_cap_is_refused_with_413() -> None:
    with pytest.raises(errors.PayloadTooLarge) as caught:
        build_parsed(build_flat_html(20), "text/html", max_html_elements=10)
    assert caught.value.status_code == 413
    assert "more than 10 elements (RAGAGENT_MAX_HTML_ELEMENTS)" in caught.value.detail


def test_html_still_parsing_at_its_deadline_is_refused_with_422() -> None:
    with pytest.raises(errors.ValidationFailed) as caught:
        build_parsed(build_flat_html(2_000), "text/html", deadline=time.monotonic() - 1)
    assert "took too long to parse (RAGAGENT_PARSE_TIMEOUT_SECONDS)" in caught.value.detail


def test_deeply_nested_dropped_elements_end_where_they_close() -> None:
    body = "<nav>" * 3 + "menu" + "</nav>" * 3 + "<p>kept</p><embed src=x><p>also kept</p>"
    assert build_parsed(body, "text/html").text.split() == ["kept", "also", "kept"]

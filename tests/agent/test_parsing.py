"""Parsing uploads into text (pure)."""

from __future__ import annotations

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


@pytest.mark.parametrize("header", ["application/pdf", "image/png", "", None])
def test_unsupported_content_types_are_415(header: str | None) -> None:
    with pytest.raises(errors.UnsupportedMediaType) as caught:
        normalise_content_type(header)
    assert caught.value.status_code == 415

"""Turn an uploaded document into plain text with Markdown-style headings; pure.

HTML is reduced to its visible text: scripts, styles, forms, embedded objects
and comments are dropped, so nothing active survives into chunks, answers or
the chat page. Headings become ``#`` lines and block elements become
paragraphs, which lets the chunker keep sections together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bs4 import BeautifulSoup, Comment, Tag

from ragagent.core import errors

CONTENT_TYPES: Final = ("text/plain", "text/markdown", "text/html")
_DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "form",
    "svg",
    "canvas",
    "head",
    "nav",
    "footer",
)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = (
    "p",
    "div",
    "section",
    "article",
    "li",
    "pre",
    "blockquote",
    "tr",
    "br",
    "table",
    "ul",
    "ol",
    "main",
    "header",
    "dd",
    "dt",
)


@dataclass(frozen=True)
class ParsedDocument:
    text: str
    title: str


def normalise_content_type(value: str | None) -> str:
    """``text/html; charset=utf-8`` -> ``text/html``; raises 415 for anything unsupported."""
    media = (value or "").split(";", 1)[0].strip().lower()
    if media == "text/x-markdown":
        media = "text/markdown"
    if media not in CONTENT_TYPES:
        raise errors.UnsupportedMediaType(
            f"unsupported content type {media or '(none)'!r}; use one of {', '.join(CONTENT_TYPES)}"
        )
    return media


def build_parsed(body: str, content_type: str) -> ParsedDocument:
    """Plain text and a best-guess title for ``body`` of the given (normalised) type."""
    if content_type == "text/html":
        return _parse_html(body)
    return ParsedDocument(text=body.replace("\x00", ""), title=_first_heading(body))


def _first_heading(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()[:300]
    return ""


def _parse_html(body: str) -> ParsedDocument:
    soup = BeautifulSoup(body, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for node in soup.find_all(string=lambda s: isinstance(s, Comment)):
        node.extract()
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all(list(_HEADINGS)):
        _mark_heading(tag)
    for tag in soup.find_all(_BLOCKS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    text = soup.get_text("").replace("\x00", "")
    lines = (
        " ".join(line.split()) if not line.startswith("#") else line.strip()
        for line in text.splitlines()
    )
    text = "\n".join(lines)
    return ParsedDocument(text=text, title=title[:300] or _first_heading(text))


def _mark_heading(tag: Tag) -> None:
    level = _HEADINGS[tag.name]
    heading = " ".join(tag.get_text(" ", strip=True).split())
    tag.replace_with(f"\n\n{'#' * level} {heading}\n\n")

"""Turn an uploaded document into plain text with Markdown-style headings; pure.

Text formats arrive as ``str``; file formats (PDF, DOCX, PPTX: ``FILE_TYPES``) as bytes,
which ``pdf_text``, ``docx_text`` and ``pptx_text`` turn into page, heading or slide
sections.

HTML is reduced to its visible text: scripts, styles, forms, embedded objects
and comments are dropped, so nothing active survives into chunks, answers or
the chat page. Headings become ``#`` lines and block elements become
paragraphs, which lets the chunker keep sections together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ragagent.core import errors
from ragagent.rag import docx_text, html_text, pdf_text, pptx_text

FILE_TYPES: Final = (pdf_text.MEDIA_TYPE, docx_text.MEDIA_TYPE, pptx_text.MEDIA_TYPE)
CONTENT_TYPES: Final = ("text/plain", "text/markdown", "text/html", *FILE_TYPES)
_HEADING_LINE = re.compile(r"^#[^\n]*", re.MULTILINE)
_BLANK_RUN = re.compile(r"\n[^\S\n]*(?:\n[^\S\n]*)+")
# A generous bound for real pages (a 5 MiB document of short paragraphs has about 200,000).
DEFAULT_MAX_HTML_ELEMENTS: Final = 250_000


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


def build_parsed(
    body: str,
    content_type: str,
    *,
    max_html_elements: int = DEFAULT_MAX_HTML_ELEMENTS,
    deadline: float | None = None,
) -> ParsedDocument:
    """Plain text and a best-guess title for ``body`` of the given (normalised) type.

    HTML over ``max_html_elements`` elements is refused (413), as is HTML still being
    parsed at ``deadline`` (a ``time.monotonic()`` value; 422).
    """
    if content_type == "text/html":
        return _parse_html(body, max_elements=max_html_elements, deadline=deadline)
    return ParsedDocument(text=body.replace("\x00", ""), title=_first_heading(body))


def build_file_parsed(
    data: bytes,
    content_type: str,
    *,
    max_pages: int,
    max_unpacked_bytes: int,
    deadline: float | None = None,
) -> ParsedDocument:
    """Text (``#`` sections: pages of a PDF, headings of a DOCX, slides of a PPTX) and the
    file's own title ("" when it has none) of ``data``, one of ``FILE_TYPES``; 413/422 as
    the extractors say."""
    if content_type == pdf_text.MEDIA_TYPE:
        found = pdf_text.build_pdf_text(
            data, max_pages=max_pages, max_text_bytes=max_unpacked_bytes, deadline=deadline
        )
    else:
        office = pptx_text.PPTX if content_type == pptx_text.MEDIA_TYPE else docx_text.DOCX
        found = office.build_text(data, max_unpacked_bytes=max_unpacked_bytes, deadline=deadline)
    return ParsedDocument(text=found.text.replace("\x00", ""), title=found.title[:300])


def _first_heading(text: str) -> str:
    found = _HEADING_LINE.search(text)
    return found.group().lstrip("#").strip()[:300] if found else ""


def _parse_html(body: str, *, max_elements: int, deadline: float | None) -> ParsedDocument:
    parsed = html_text.build_html_text(body, max_elements=max_elements, deadline=deadline)
    # Blank runs first: each block element leaves one, and there can be hundreds of thousands.
    text = _BLANK_RUN.sub("\n\n", parsed.text.replace("\x00", ""))
    lines = (
        " ".join(line.split()) if not line.startswith("#") else line.strip()
        for line in text.splitlines()
    )
    text = "\n".join(lines)
    return ParsedDocument(text=text, title=parsed.title[:300] or _first_heading(text))

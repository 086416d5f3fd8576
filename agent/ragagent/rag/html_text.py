"""Visible text of an HTML document in one linear pass (the standard library's tokenizer).

The parser appends text pieces to a list and joins them once, so its cost grows with the
document's size and not with the number of elements squared. Scripts, styles, forms,
embedded objects and comments are dropped, so nothing active survives into chunks,
answers or the chat page; headings become ``#`` lines and block elements paragraph
breaks, which lets the chunker keep sections together.

Two bounds keep one upload from holding a worker for long: ``max_elements`` start tags
(413 past it) and ``deadline`` (a ``time.monotonic()`` value, 422 past it), checked as the
parser goes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Final

from ragagent.core import errors

DROP_TAGS: Final = frozenset(
    {
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
    }
)
HEADINGS: Final = {f"h{n}": n for n in range(1, 7)}
BLOCKS: Final = frozenset(
    {
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
    }
)
# Elements that never have an end tag, so they never open a dropped or heading region.
VOID: Final = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"}
    | {"param", "source", "track", "wbr"}
)
BREAK: Final = "\n\n"
CHECK_EVERY: Final = 256  # elements between deadline checks: time.monotonic() is not free


@dataclass(frozen=True)
class HtmlText:
    text: str
    title: str


class _Extractor(HTMLParser):
    """Collects visible text, the <title> and heading lines; see the module docstring."""

    def __init__(self, *, max_elements: int, deadline: float | None) -> None:
        super().__init__(convert_charrefs=True)
        self.max_elements = max_elements
        self.deadline = deadline
        self.elements = 0
        self.pieces: list[str] = []
        self.title: list[str] = []
        self.heading: list[str] | None = None
        self.heading_level = 0
        # Open dropped elements by name: a count, not a stack, so deep nesting costs O(1) a tag.
        self.dropped: dict[str, int] = {}
        self.in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._count()
        if tag == "title":
            self.in_title = True
        if tag in DROP_TAGS:
            if tag not in VOID:
                self.dropped[tag] = self.dropped.get(tag, 0) + 1
        elif not self.dropped:
            self._open(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._count()
        if not self.dropped and tag in BLOCKS and self.heading is None:
            self.pieces.append(BREAK)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if self.dropped:
            if tag in self.dropped:
                self.dropped[tag] -= 1
                if not self.dropped[tag]:
                    del self.dropped[tag]
            return
        if self.heading is not None and HEADINGS.get(tag) == self.heading_level:
            self._close_heading()
        elif tag in BLOCKS and self.heading is None:
            self.pieces.append(BREAK)

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title.append(data)
        if self.dropped:
            return
        if self.heading is not None:
            self.heading.append(data)
        else:
            self.pieces.append(data)

    def _open(self, tag: str) -> None:
        if tag in HEADINGS and self.heading is None:
            self.heading, self.heading_level = [], HEADINGS[tag]
        elif tag in BLOCKS and self.heading is None:
            self.pieces.append(BREAK)

    def _close_heading(self) -> None:
        assert self.heading is not None
        words = " ".join(piece.strip() for piece in self.heading).split()
        self.pieces.append(f"{BREAK}{'#' * self.heading_level} {' '.join(words)}{BREAK}")
        self.heading, self.heading_level = None, 0

    def _count(self) -> None:
        self.elements += 1
        if self.elements > self.max_elements:
            raise errors.PayloadTooLarge(
                f"the HTML document has more than {self.max_elements} elements "
                "(RAGAGENT_MAX_HTML_ELEMENTS)"
            )
        checking = self.deadline is not None and self.elements % CHECK_EVERY == 0
        if checking and time.monotonic() > (self.deadline or 0.0):
            raise errors.ValidationFailed(
                "the HTML document took too long to parse "
                "(RAGAGENT_PARSE_TIMEOUT_SECONDS); split it into smaller documents"
            )

    def result(self) -> HtmlText:
        if self.heading is not None:  # an unclosed heading still counts as one
            self._close_heading()
        title = " ".join(" ".join(self.title).split())
        return HtmlText(text="".join(self.pieces), title=title)


def build_html_text(body: str, *, max_elements: int, deadline: float | None = None) -> HtmlText:
    """Visible text (raw whitespace; headings as ``#`` lines) and the <title> of ``body``."""
    extractor = _Extractor(max_elements=max_elements, deadline=deadline)
    extractor.feed(body)
    extractor.close()
    return extractor.result()

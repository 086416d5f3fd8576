"""The text of a PowerPoint (.pptx) deck (python-pptx), one ``#`` section per slide.

Each slide becomes ``# slide <n>: <its title>`` (or ``# slide <n>`` without one), so the
chunker keeps a slide's text together and a citation names the slide, as a PDF's names its
page. Below the heading come the slide's other text frames in reading order (top to
bottom, then left to right; grouped shapes too), its tables as one line per row with cells
joined by `` | ``, and its speaker notes, which often carry what the slide only hints at.
A line of body text that starts with ``#`` is escaped, so it cannot pose as a slide.

A .pptx is a zip archive: ``file_text.check_office_archive`` refuses a zip bomb (413) or
a password-protected (OLE) deck (422) before python-pptx unpacks anything, and
``deadline`` (a ``time.monotonic()`` value) is checked between slides (422). Slides
with no text are skipped; a deck of only pictures is a 422 that says it has no text.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final

from ragagent.core import errors
from ragagent.rag import file_text

if TYPE_CHECKING:
    from pptx.shapes.base import BaseShape
    from pptx.slide import Slide

MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
# Grouped shapes nest; a deck that nests deeper than any editor makes is refused, not walked.
MAX_GROUP_DEPTH: Final = 32


def _read(data: io.BytesIO, deadline: float | None) -> tuple[list[str], str]:
    """``# slide <n>`` sections of each slide's text, and the deck's own title (or "")."""
    # Imported here, not at the top: python-pptx brings Pillow, +13 MiB and about a second
    # that only an agent which is sent a deck should pay.
    import pptx

    deck = pptx.Presentation(data)
    return _sections(deck.slides, deadline), deck.core_properties.title or ""


def _sections(slides: Iterable[Slide], deadline: float | None) -> list[str]:
    sections = []
    for number, slide in enumerate(slides, start=1):
        file_text.check_deadline(deadline, "PPTX")
        section = _slide_section(slide, number)
        if section:
            sections.append(section)
    return sections


def _slide_section(slide: Slide, number: int) -> str:
    """The slide's heading and body; "" for a slide with no text at all."""
    title_shape = slide.shapes.title
    title = " ".join(title_shape.text_frame.text.split()) if title_shape is not None else ""
    skipped = title_shape.shape_id if title_shape is not None else None
    body = [text for shape in _reading_order(slide.shapes, 0) if shape.shape_id != skipped
            for text in _shape_texts(shape) if text]  # fmt: skip
    notes = _notes(slide)
    if notes:
        body.append(f"Notes: {notes}")
    if not title and not body:
        return ""
    heading = f"# slide {number}: {title}" if title else f"# slide {number}"
    return "\n\n".join([heading, *body])


def _reading_order(shapes: Iterable[BaseShape], depth: int) -> Iterator[BaseShape]:
    """Leaf shapes top to bottom, then left to right; a group's shapes in its place."""
    if depth > MAX_GROUP_DEPTH:
        raise errors.ValidationFailed(f"the PPTX nests groups deeper than {MAX_GROUP_DEPTH}")
    from pptx.shapes.group import GroupShape

    for shape in sorted(shapes, key=lambda shape: (shape.top or 0, shape.left or 0)):
        if isinstance(shape, GroupShape):
            yield from _reading_order(shape.shapes, depth + 1)
        else:
            yield shape


def _shape_texts(shape: BaseShape) -> list[str]:
    if getattr(shape, "has_table", False):
        rows = shape.table.rows  # type: ignore[attr-defined]  # a GraphicFrame with a table
        lines = (file_text.build_row_text([" ".join(c.text.split()) for c in row.cells])
                 for row in rows)  # fmt: skip
        return ["\n".join(line for line in lines if line)]
    if shape.has_text_frame:
        frame = shape.text_frame  # type: ignore[attr-defined]  # has_text_frame says it has one
        paragraphs = (" ".join(paragraph.text.split()) for paragraph in frame.paragraphs)
        return [file_text.escape_headings(text) for text in paragraphs]
    return []


def _notes(slide: Slide) -> str:
    if not slide.has_notes_slide:
        return ""
    frame = slide.notes_slide.notes_text_frame
    return file_text.escape_headings(" ".join(frame.text.split())) if frame is not None else ""


def _library_errors() -> tuple[type[Exception], ...]:
    from pptx.exc import PythonPptxError

    return (PythonPptxError,)


# How a .pptx becomes text: ``PPTX.build_text(data, max_unpacked_bytes=..., deadline=...)``.
PPTX: Final = file_text.OfficeFormat(
    "PPTX", "the PPTX has no text (only pictures, or empty slides)", _library_errors, _read
)

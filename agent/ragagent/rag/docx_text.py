"""The text of a Word (.docx) document in reading order (python-docx), headings as ``#``.

Paragraphs styled "Heading <n>" become ``#`` lines of that level, so the chunker cuts at
them and every chunk starts with its section's heading, which a citation names; tables
become one line per row, cells joined by `` | ``. A line of body text that starts with
``#`` is escaped, so it cannot pose as a heading.

A .docx is a zip archive, so before python-docx unpacks it the archive's declared sizes
are checked (``file_text.check_office_archive``: a zip bomb is refused with 413).
``deadline`` (a ``time.monotonic()`` value) is checked as blocks are read
(422). A password-protected document is not a zip archive but an OLE container: that,
and anything else python-docx cannot read, is a 422 that says so.
"""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING, Final

from ragagent.rag import file_text

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.table import Table
    from docx.text.paragraph import Paragraph

MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CHECK_EVERY: Final = 50  # blocks, or table rows, between deadline checks
_HEADING_STYLE = re.compile(r"heading\s*([1-6])$", re.IGNORECASE)


def _read(data: io.BytesIO, deadline: float | None) -> tuple[list[str], str]:
    """Headings as ``#`` lines, paragraphs and table rows, and the document's title (or "")."""
    # Imported here, not at the top: python-docx (with lxml) adds several MiB to every agent
    # process, which only one that is sent a document should pay, as with python-pptx.
    import docx

    document = docx.Document(data)
    return _texts(document, deadline), document.core_properties.title or ""


def _texts(document: DocxDocument, deadline: float | None) -> list[str]:
    """Each paragraph's and table's text in reading order, checking ``deadline`` as it goes."""
    texts = []
    for index, block in enumerate(document.iter_inner_content()):
        if index % CHECK_EVERY == 0:
            file_text.check_deadline(deadline, "DOCX")
        texts.append(_block_text(block, deadline))
    return texts


def _block_text(block: Paragraph | Table, deadline: float | None) -> str:
    from docx.table import Table  # imported with docx by _read by now: a lookup

    if isinstance(block, Table):
        return "\n".join(file_text.build_row_text(cells) for cells in _rows(block, deadline))
    text = " ".join(block.text.split())
    level = _heading_level(block)
    if level and text:
        return f"{'#' * level} {text}"
    return file_text.escape_headings(text)


def _heading_level(paragraph: Paragraph) -> int:
    """1-6 for a "Heading <n>" (or "Title", as 1) paragraph style; 0 for body text."""
    name = paragraph.style.name if paragraph.style is not None else ""
    if (name or "").lower() == "title":
        return 1
    found = _HEADING_STYLE.match(name or "")
    return int(found.group(1)) if found else 0


def _rows(table: Table, deadline: float | None) -> list[list[str]]:
    """Each row's cell texts; one table can hold most of a document, so rows check too."""
    rows = []
    for index, row in enumerate(table.rows):
        if index % CHECK_EVERY == 0:
            file_text.check_deadline(deadline, "DOCX")
        rows.append([" ".join(cell.text.split()) for cell in row.cells])
    return rows


def _library_errors() -> tuple[type[Exception], ...]:
    from docx.exceptions import PythonDocxError
    from docx.opc.exceptions import OpcError

    return (OpcError, PythonDocxError)


# How a .docx becomes text: ``DOCX.build_text(data, max_unpacked_bytes=..., deadline=...)``.
DOCX: Final = file_text.OfficeFormat("DOCX", "the DOCX has no text", _library_errors, _read)

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

from ragagent.core import errors
from ragagent.rag import file_text

if TYPE_CHECKING:
    from docx.document import Document as DocxDocument
    from docx.table import Table
    from docx.text.paragraph import Paragraph

MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CHECK_EVERY: Final = 50  # blocks, or table rows, between deadline checks
_HEADING_STYLE = re.compile(r"heading\s*([1-6])$", re.IGNORECASE)


def build_docx_text(
    data: bytes, *, max_unpacked_bytes: int, deadline: float | None = None
) -> file_text.FileText:
    """Headings as ``#`` lines, paragraphs and table rows, and the document's title (or "")."""
    file_text.check_office_archive(data, kind="DOCX", max_unpacked_bytes=max_unpacked_bytes)
    # Imported here, not at the top: python-docx (with lxml) adds several MiB to every agent
    # process, which only one that is sent a document should pay, as with python-pptx.
    import docx
    from docx.exceptions import PythonDocxError
    from docx.opc.exceptions import OpcError

    def read() -> tuple[list[str], str]:
        document = docx.Document(io.BytesIO(data))
        return _texts(document, deadline), document.core_properties.title or ""

    blocks, title = file_text.parse_or_422("DOCX", (OpcError, PythonDocxError), read)
    text = "\n\n".join(block for block in blocks if block)
    if not text.strip():
        raise errors.ValidationFailed("the DOCX has no text")
    return file_text.FileText(text=text, title=" ".join(title.split()))


def _texts(document: DocxDocument, deadline: float | None) -> list[str]:
    """Each paragraph's and table's text in reading order, checking ``deadline`` as it goes."""
    texts = []
    for index, block in enumerate(document.iter_inner_content()):
        if index % CHECK_EVERY == 0:
            file_text.check_deadline(deadline, "DOCX")
        texts.append(_block_text(block, deadline))
    return texts


def _block_text(block: Paragraph | Table, deadline: float | None) -> str:
    from docx.table import Table  # imported by build_docx_text by now: a lookup

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

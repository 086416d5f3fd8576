"""Real PDF, DOCX and PPTX files, made by the tests (no binary fixtures in git).

PDFs are written with pypdf: one page per text, each with a Helvetica text layer, so
pypdf's extractor reads back what was written; a page given as ``None`` has no text
layer (like a scanned page). DOCX files are written with python-docx, PPTX decks with
python-pptx.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

import docx
import pptx
from pptx.shapes.shapetree import GroupShapes, SlideShapes
from pptx.util import Inches
from pypdf import PageObject, PdfWriter
from pypdf.generic import ContentStream, DictionaryObject, NameObject

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX_TYPE = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def build_pdf(
    pages: Sequence[str | None],
    *,
    title: str = "",
    user_password: str = "",
    owner_password: str = "",
) -> bytes:
    """A PDF with one page per item, encrypted (AES-128) when a password is given: with an
    owner password alone it opens without one, as most "protected" PDFs do."""
    writer = PdfWriter()
    for text in pages:
        page = writer.add_blank_page(width=612, height=792)
        if text is not None:
            _write_text(page, text)
    if title:
        writer.add_metadata({"/Title": title})
    if user_password or owner_password:
        writer.encrypt(
            user_password=user_password, owner_password=owner_password or None, algorithm="AES-128"
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _write_text(page: PageObject, text: str) -> None:
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    fonts = DictionaryObject({NameObject("/F1"): font})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    lines = " T* ".join(f"({line}) Tj" for line in escaped.split("\n"))
    stream = ContentStream(None, None)
    stream.set_data(f"BT /F1 12 Tf 14 TL 72 720 Td {lines} ET".encode("latin-1"))
    page.replace_contents(stream)


def build_docx(
    sections: list[tuple[str, list[str]]],
    *,
    title: str = "",
    table: list[list[str]] | None = None,
) -> bytes:
    """A DOCX of (heading, paragraphs) sections, Heading 1 each, and an optional table."""
    document = docx.Document()
    if title:
        document.core_properties.title = title
    for heading, paragraphs in sections:
        document.add_heading(heading, level=1)
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def build_pptx(slides: Sequence[Slide], *, title: str = "") -> bytes:
    """A deck with one "Title Only" slide per item: its text boxes stacked downwards in the
    given order (the last one inside a group when ``grouped``), a table and speaker notes."""
    deck = pptx.Presentation()
    if title:
        deck.core_properties.title = title
    for item in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[5])
        if item.title:
            slide.shapes.title.text = item.title
        else:
            slide.shapes._spTree.remove(slide.shapes.title._element)
        _add_body(slide, item)
        if item.notes:
            slide.notes_slide.notes_text_frame.text = item.notes
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class Slide:
    title: str = ""
    texts: Sequence[str] = ()
    table: Sequence[Sequence[str]] = ()
    notes: str = ""
    grouped: bool = False


def _add_body(slide: pptx.slide.Slide, item: Slide) -> None:
    # Added bottom-up, so the reading order (by position) differs from the insertion order.
    for index, text in reversed(list(enumerate(item.texts))):
        shapes: SlideShapes | GroupShapes = slide.shapes
        if item.grouped and index == len(item.texts) - 1:
            shapes = slide.shapes.add_group_shape().shapes
        box = shapes.add_textbox(Inches(1), Inches(2 + index), Inches(6), Inches(0.8))
        box.text_frame.text = text
    if item.table:
        rows, cols = len(item.table), len(item.table[0])
        frame = slide.shapes.add_table(rows, cols, Inches(1), Inches(6), Inches(6), Inches(1))
        for row, values in zip(frame.table.rows, item.table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value


def build_zip_bomb(unpacked_bytes: int) -> bytes:
    """A small zip that would unpack to ``unpacked_bytes``, laid out like a DOCX."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(unpacked_bytes // len(block)):
                member.write(block)
    return out.getvalue()


def build_lying_zip_bomb(unpacked_bytes: int, *, declared_bytes: int = 1000) -> bytes:
    """A zip bomb whose headers declare its big member to be ``declared_bytes`` long."""
    data = bytearray(build_zip_bomb(unpacked_bytes))
    # The uncompressed size is at offset 22 of a local header, 24 of a central directory entry.
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        while at >= 0:
            if b"word/document.xml" in data[at : at + 80]:
                struct.pack_into("<I", data, at + offset, declared_bytes)
            at = data.find(signature, at + 4)
    return bytes(data)

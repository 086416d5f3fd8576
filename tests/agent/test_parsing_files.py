"""PDF and DOCX files into text with page and heading sections (pure), on real files the
tests write with pypdf and python-docx."""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile

import pytest

from ragagent.core import errors, models
from ragagent.core.config import Settings
from ragagent.rag import chunking, docx_text, file_text, ingest, parsing, pdf_text
from tests.support.office_files import (
    DOCX_TYPE,
    build_docx,
    build_lying_zip_bomb,
    build_pdf,
    build_zip_bomb,
)

PAGES = [
    "Brightwater lighthouse keeper winds the lamp at dusk.",
    "The lamp is visible for 22 nautical miles.\n# not a heading",
]


def _read_pdf(
    data: bytes, *, max_pages: int = 10, max_text_bytes: int = 10**8, deadline: float | None = None
) -> file_text.FileText:
    return pdf_text.build_pdf_text(
        data, max_pages=max_pages, max_text_bytes=max_text_bytes, deadline=deadline
    )


def test_a_pdf_becomes_one_section_per_page_with_its_own_title() -> None:
    parsed = _read_pdf(build_pdf(PAGES, title="Lighthouse"))
    assert parsed.title == "Lighthouse"
    assert parsed.text.startswith("# p. 1\n\nBrightwater lighthouse keeper")
    assert "# p. 2\n\nThe lamp is visible for 22 nautical miles." in parsed.text
    # The page's own "#" line is text, not a third section.
    assert [s.heading for s in chunking.build_sections(parsed.text)] == ["# p. 1", "# p. 2"]


def test_every_chunk_of_a_pdf_starts_with_its_page() -> None:
    long_page = " ".join(f"Sentence {n} about the lamp." for n in range(60))
    text = _read_pdf(build_pdf(["Intro.", long_page])).text
    chunks = chunking.build_chunks(text, size=300, overlap=40)
    assert len(chunks) > 3
    assert chunks[0].startswith("# p. 1")
    assert all(chunk.startswith("# p. 2\n\n") for chunk in chunks[1:])


def test_blank_pages_are_skipped_but_a_pdf_of_only_blank_pages_is_422() -> None:
    text = _read_pdf(build_pdf([None, "Only page two."])).text
    assert text == "# p. 2\n\nOnly page two."
    with pytest.raises(errors.ValidationFailed, match="no extractable text"):
        _read_pdf(build_pdf([None, None]))


def test_a_password_protected_pdf_is_422_and_an_owner_only_one_is_read() -> None:
    with pytest.raises(errors.ValidationFailed, match="encrypted with a password"):
        _read_pdf(build_pdf(PAGES, user_password="s3cret"))
    owner_only = build_pdf(PAGES, owner_password="owner")
    assert "22 nautical miles" in _read_pdf(owner_only).text


@pytest.mark.parametrize("data", [b"%PDF-1.7\n" + bytes(range(256)) * 4, b"not a pdf at all", b""])
def test_a_corrupt_pdf_is_422(data: bytes) -> None:
    with pytest.raises(errors.ValidationFailed, match="the PDF could not be read"):
        _read_pdf(data)


def test_a_pdf_over_the_page_cap_is_413_before_any_page_is_read() -> None:
    with pytest.raises(errors.PayloadTooLarge, match="has 5 pages; the limit is 3"):
        _read_pdf(build_pdf(["x"] * 5), max_pages=3)


def test_a_pdf_whose_text_is_over_the_unpacked_cap_is_413() -> None:
    with pytest.raises(errors.PayloadTooLarge, match="text is larger than 60 bytes"):
        _read_pdf(build_pdf(PAGES), max_text_bytes=60)


def test_a_pdf_page_with_an_oversized_content_stream_is_413_before_it_is_parsed() -> None:
    line = "The lamp is visible for 22 nautical miles from the lighthouse."
    # About 2.8 MB of text operators on one page: many seconds to extract.
    huge_page = "\n".join([line] * 40_000)
    started = time.process_time()
    with pytest.raises(errors.PayloadTooLarge, match=r"page 2 of the PDF has \d+ bytes of content"):
        _read_pdf(build_pdf(["Intro.", huge_page]))
    assert time.process_time() - started < 5.0


def test_a_pdf_still_parsing_at_its_deadline_is_422() -> None:
    with pytest.raises(errors.ValidationFailed, match="took too long to parse"):
        _read_pdf(build_pdf(PAGES), deadline=time.monotonic() - 1)


def test_a_docx_keeps_its_headings_tables_and_title() -> None:
    data = build_docx(
        [("Install", ["Run make install.", "# a hash line"]), ("Usage", ["Ask a question."])],
        title="Guide",
        table=[["Port", "8000"], ["Metrics", "9090"]],
    )
    parsed = docx_text.DOCX.build_text(data, max_unpacked_bytes=10**8)
    assert parsed.title == "Guide"
    assert parsed.text == (
        "# Install\n\nRun make install.\n\n\\# a hash line\n\n# Usage\n\nAsk a question."
        "\n\nPort | 8000\nMetrics | 9090"
    )


def test_a_docx_still_parsing_at_its_deadline_is_422() -> None:
    data = build_docx([("Rows", ["A table follows."])], table=[["a", "b"]] * 10)
    with pytest.raises(errors.ValidationFailed, match="the DOCX took too long to parse"):
        docx_text.DOCX.build_text(data, max_unpacked_bytes=10**8, deadline=time.monotonic() - 1)


def test_a_docx_zip_bomb_is_413_without_being_unpacked() -> None:
    bomb = build_zip_bomb(64 * 1024 * 1024)
    assert len(bomb) < 200_000
    started = time.monotonic()
    with pytest.raises(errors.PayloadTooLarge, match="unpacks to 67108"):
        docx_text.DOCX.build_text(bomb, max_unpacked_bytes=10 * 1024 * 1024)
    assert time.monotonic() - started < 1.0


def test_a_zip_bomb_that_lies_about_its_size_is_never_inflated_past_the_lie() -> None:
    bomb = build_lying_zip_bomb(128 * 1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(errors.ValidationFailed, match="the DOCX could not be read"):
            docx_text.DOCX.build_text(bomb, max_unpacked_bytes=10 * 1024 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "encrypted with a password"),
        (b"PK\x03\x04 truncated", "not a valid .docx"),
        (b"plain text", "not a valid .docx"),
        (_zip({"hello.txt": b"not a docx"}), "could not be read"),
        (_zip({"[Content_Types].xml": b"<Types"}), "could not be read"),
        (build_docx([]), "has no text"),
    ],
)
def test_a_broken_or_protected_docx_is_422(data: bytes, message: str) -> None:
    with pytest.raises(errors.ValidationFailed, match=message):
        docx_text.DOCX.build_text(data, max_unpacked_bytes=10**8)


def test_the_file_types_are_supported_content_types() -> None:
    assert parsing.normalise_content_type("application/PDF") == "application/pdf"
    assert parsing.normalise_content_type(DOCX_TYPE) == DOCX_TYPE


def _settings(**overrides: object) -> Settings:
    return Settings(ingest_samples_on_start=False, **overrides)  # type: ignore[arg-type]


def test_a_file_without_a_title_of_its_own_is_titled_by_its_file_name() -> None:
    doc = models.FileInput(
        data=build_pdf(PAGES), content_type="application/pdf", external_id="manuals/lamp.pdf"
    )
    prepared = ingest.build_prepared(doc, _settings())
    assert prepared.values.title == "lamp.pdf"
    assert prepared.values.content_type == "application/pdf"
    assert prepared.chunks[0].startswith("# p. 1")


def test_a_file_error_names_the_file() -> None:
    doc = models.FileInput(
        data=build_pdf(["x"] * 4), content_type="application/pdf", external_id="big.pdf"
    )
    with pytest.raises(errors.PayloadTooLarge, match=r"^big.pdf: the PDF has 4 pages"):
        ingest.build_prepared(doc, _settings(max_document_pages=2))


def test_a_pdf_sent_as_json_text_is_415_with_a_hint() -> None:
    doc = models.DocumentInput(text="%PDF-1.4", content_type="application/pdf")
    with pytest.raises(errors.UnsupportedMediaType, match="raw request body"):
        ingest.build_prepared(doc, _settings())

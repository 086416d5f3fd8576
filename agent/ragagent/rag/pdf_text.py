"""The text layer of a PDF, page by page (pypdf, pure Python); no OCR.

Each page becomes a ``# p. <n>`` section, so the chunker keeps a page's text together and
every chunk starts with its page: a citation can name it (``report.pdf p. 3``) and a
re-index, which re-chunks the stored text, keeps it. A line of the page's own text that
starts with ``#`` is escaped, so it cannot pose as a page heading.

Bounds, so one upload cannot hold a worker for long or crash it: at most ``max_pages``
pages (413), at most ``MAX_PAGE_CONTENT_BYTES`` of content stream in one page (413),
``deadline`` (a ``time.monotonic()`` value) checked before each page (422), at most
``max_text_bytes`` of extracted text (413), and pypdf's own caps on decompressed stream
sizes (413). A password-protected PDF, a
corrupt one and one without any text layer (scanned pages) are refused with 422 and a
message that says which.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Final

from ragagent.core import errors
from ragagent.rag import file_text

if TYPE_CHECKING:
    import pypdf

MEDIA_TYPE: Final = "application/pdf"
# The deadline is checked between pages, and pypdf's extraction grows faster than linearly
# with one page's content stream (2 MiB takes about 5 s of CPU, 5.4 MiB about 40 s): so
# one page's stream is capped, and a page of ordinary text (a few KiB) is far below it.
MAX_PAGE_CONTENT_BYTES: Final = 2 * 1024 * 1024


def build_pdf_text(
    data: bytes, *, max_pages: int, max_text_bytes: int, deadline: float | None = None
) -> file_text.FileText:
    """``# p. <n>`` sections of each page's text, and the PDF's own title (or "").

    Compressed page streams can hold far more text than the file's size suggests, so the
    extracted text is capped too: over ``max_text_bytes`` is a 413.
    """
    # Imported here, not at the top: pypdf (with its codecs) adds about 10 MiB to every
    # agent process, which only one that is sent a PDF should pay (bench.soak idle-ws
    # counts each process's MiB).
    from pypdf import errors as pdf_errors

    try:
        return _extract(data, max_pages=max_pages, max_text_bytes=max_text_bytes, deadline=deadline)
    except pdf_errors.LimitReachedError as exc:
        raise errors.PayloadTooLarge(f"the PDF is too large to parse: {exc}") from None
    except pdf_errors.FileNotDecryptedError:
        raise _encrypted() from None
    except (pdf_errors.PyPdfError, *file_text.CORRUPT_FILE_ERRORS) as exc:
        raise errors.ValidationFailed(f"the PDF could not be read ({_short(exc)})") from None


def _extract(
    data: bytes, *, max_pages: int, max_text_bytes: int, deadline: float | None
) -> file_text.FileText:
    import pypdf  # see build_pdf_text

    reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
    # An owner password only restricts editing; such a PDF opens with an empty user password.
    if reader.is_encrypted and not reader.decrypt(""):
        raise _encrypted()
    count = len(reader.pages)
    if count > max_pages:
        raise errors.PayloadTooLarge(
            f"the PDF has {count} pages; the limit is {max_pages} (RAGAGENT_MAX_DOCUMENT_PAGES)"
        )
    sections, size = [], 0
    for number, page in enumerate(reader.pages, start=1):
        file_text.check_deadline(deadline, "PDF")
        _check_page_content(page, number)
        text = file_text.escape_headings(page.extract_text() or "").strip()
        size += len(text.encode())
        if size > max_text_bytes:
            raise errors.PayloadTooLarge(
                f"the PDF's text is larger than {max_text_bytes} bytes "
                "(RAGAGENT_MAX_UNPACKED_BYTES)"
            )
        if text:
            sections.append(f"# p. {number}\n\n{text}")
    if not sections:
        raise errors.ValidationFailed(
            "the PDF has no extractable text (scanned or image-only pages are not OCRed)"
        )
    title = reader.metadata.title if reader.metadata is not None else None
    return file_text.FileText(text="\n\n".join(sections), title=" ".join((title or "").split()))


def _check_page_content(page: pypdf.PageObject, number: int) -> None:
    contents = page.get_contents()
    size = len(contents.get_data()) if contents is not None else 0
    if size > MAX_PAGE_CONTENT_BYTES:
        raise errors.PayloadTooLarge(
            f"page {number} of the PDF has {size} bytes of content; the limit is "
            f"{MAX_PAGE_CONTENT_BYTES} per page"
        )


def _encrypted() -> errors.ValidationFailed:
    return errors.ValidationFailed(
        "the PDF is encrypted with a password; upload an unprotected copy"
    )


def _short(exc: Exception) -> str:
    """The error's class and the first line of its message, without file internals' length."""
    message = str(exc).split("\n", 1)[0][:200]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__

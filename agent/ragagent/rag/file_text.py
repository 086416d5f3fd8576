"""What the file-format extractors (``pdf_text``, ``docx_text``, ``pptx_text``) share: their
result, their time bound, the checks an Office file (a zip archive) passes before its
library unpacks it, and the one way an Office format's blocks become a ``FileText``
(``OfficeFormat.build_text``). Pure."""

from __future__ import annotations

import io
import re
import struct
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeVar

from ragagent.core import errors

T = TypeVar("T")
MAX_PARTS: Final = 10_000
_HASH_LINE: Final = re.compile(r"^(\s*)#", re.MULTILINE)
# Encrypted Office documents (and old binary .doc/.ppt files) are OLE compound files.
_OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# What the format libraries raise on a corrupt or hostile file, besides their own errors:
# they meet untrusted bytes, and each of these is then the file's fault, not a bug of ours
# (a missing part is a KeyError, a bad XML part lxml's XMLSyntaxError, a SyntaxError, a
# truncated stream a zlib or struct error, a reference loop a RecursionError, ...).
CORRUPT_FILE_ERRORS: Final = (
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    ArithmeticError,
    AssertionError,
    RecursionError,
    SyntaxError,
    EOFError,
    zlib.error,
    struct.error,
    zipfile.BadZipFile,
)


@dataclass(frozen=True)
class FileText:
    """A file's text with Markdown-style ``#`` section lines, and its own title ("" if none)."""

    text: str
    title: str


def check_deadline(deadline: float | None, kind: str) -> None:
    """Raise 422 once ``deadline`` (a ``time.monotonic()`` value) has passed."""
    if deadline is not None and time.monotonic() > deadline:
        raise errors.ValidationFailed(
            f"the {kind} took too long to parse (RAGAGENT_PARSE_TIMEOUT_SECONDS); "
            "split it into smaller documents"
        )


def check_office_archive(data: bytes, *, kind: str, max_unpacked_bytes: int) -> None:
    """Refuse what the Office library must not unpack: a password-protected (OLE) file or no
    zip archive at all (422), more than ``MAX_PARTS`` members or more than
    ``max_unpacked_bytes`` declared in all, a zip bomb (413). zipfile never inflates a member
    past its declared size, so the declared sizes bound the work."""
    suffix = kind.lower()
    if data.startswith(_OLE_MAGIC):
        raise errors.ValidationFailed(
            f"the {kind} is encrypted with a password (or is an old binary .{suffix[:3]} file); "
            f"upload an unprotected .{suffix}"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise errors.ValidationFailed(f"the {kind} is not a valid .{suffix} (zip) file") from None
    if len(members) > MAX_PARTS:
        raise errors.PayloadTooLarge(
            f"the {kind} has {len(members)} parts; the limit is {MAX_PARTS}"
        )
    unpacked = sum(member.file_size for member in members)
    if unpacked > max_unpacked_bytes:
        raise errors.PayloadTooLarge(
            f"the {kind} unpacks to {unpacked} bytes; the limit is {max_unpacked_bytes} "
            "(RAGAGENT_MAX_UNPACKED_BYTES)"
        )


def escape_headings(text: str) -> str:
    """Escape every line of body text that starts with ``#``, so it cannot pose as a section
    heading (which the chunker cuts at and a citation names)."""
    return _HASH_LINE.sub(r"\1\\#", text)


def build_row_text(cells: list[str]) -> str:
    """A table row as one line, cells joined by `` | ``. A merged cell repeats in each grid
    column it spans: it is kept once."""
    unique = [cell for index, cell in enumerate(cells) if cell and cell not in cells[:index]]
    return escape_headings(" | ".join(unique))


def parse_or_422(
    kind: str, library_errors: tuple[type[Exception], ...], parse: Callable[[], T]
) -> T:
    """``parse()``, with what the format library (``library_errors``) or Python itself
    (``CORRUPT_FILE_ERRORS``) raises on a corrupt file turned into a 422 naming the error."""
    caught: tuple[type[Exception], ...] = (*library_errors, *CORRUPT_FILE_ERRORS)
    try:
        return parse()
    except caught as exc:
        raise errors.ValidationFailed(
            f"the {kind} could not be read ({type(exc).__name__})"
        ) from None


@dataclass(frozen=True)
class OfficeFormat:
    """What tells one Office format (DOCX, PPTX) from another (``build_text``).

    Both callables import their library when called, not at module import: an Office library
    (with lxml, and Pillow for PPTX) costs several MiB that only an agent which is sent such
    a file should pay, and only once the archive has passed ``check_office_archive``.
    """

    kind: str  # "DOCX": how the errors name the file
    no_text: str  # the 422's message for a file with no text at all
    library_errors: Callable[[], tuple[type[Exception], ...]]  # what the library raises
    # The file's text blocks in reading order ("" for none) and its title (or ""), checking
    # the deadline (a ``time.monotonic()`` value, or None) as it goes.
    read: Callable[[io.BytesIO, float | None], tuple[list[str], str]]

    def build_text(
        self, data: bytes, *, max_unpacked_bytes: int, deadline: float | None = None
    ) -> FileText:
        """The blocks ``read`` finds, blank ones dropped, one paragraph each, and the file's
        title with its white space folded. The archive is checked before it is opened
        (413/422); a file the library cannot read is a 422, and so is one with no text."""
        check_office_archive(data, kind=self.kind, max_unpacked_bytes=max_unpacked_bytes)
        blocks, title = parse_or_422(
            self.kind, self.library_errors(), lambda: self.read(io.BytesIO(data), deadline)
        )
        text = "\n\n".join(block for block in blocks if block)
        if not text.strip():
            raise errors.ValidationFailed(self.no_text)
        return FileText(text=text, title=" ".join(title.split()))

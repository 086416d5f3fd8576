"""What the file-format extractors (``pdf_text``, ``docx_text``) share: their result and
their time bound. Pure."""

from __future__ import annotations

import struct
import time
import zipfile
import zlib
from dataclasses import dataclass
from typing import Final

from ragagent.core import errors

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

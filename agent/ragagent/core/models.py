"""Plain data that every layer shares: documents, chat turns and embedding vectors.

Nothing here does I/O or imports another agent module, so the database layer
can return these types and the API can publish them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ChatTurn:
    """One earlier message of a conversation, as the answerer sees it."""

    role: Literal["user", "assistant", "system"]
    content: str


# --- documents -------------------------------------------------------------------
# One model per stage of a document's life, each field declared once: what a client
# sends (DocumentInput; the API's DocumentCreate adds its limits), what ingestion
# records (DocumentRecord), the row it writes (DocumentValues, with the parsed body) and
# the row as read back (Document; the API publishes it as DocumentPublic).


class DocumentInput(BaseModel):
    """One document as a client sends it, before ingestion parses, hashes and chunks it.

    Only the types are checked here: ingestion refuses empty text and unsupported
    content types, and the API's ``DocumentCreate`` adds its size limits.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    content_type: str = Field(
        "text/plain",
        description="text/plain, text/markdown or text/html (else 415). PDF, DOCX and PPTX "
        "files are sent as the raw request body, with their own Content-Type.",
    )
    external_id: str | None = None
    title: str | None = None
    source: str | None = None
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Free JSON, filterable by containment."
    )


class FileInput(DocumentInput):
    """A document in a file format (application/pdf, or the DOCX or PPTX type): ingestion extracts
    its text from ``data``, with the limits on pages, unpacked size and parse time."""

    text: str = ""
    data: bytes = Field(repr=False)


class DocumentRecord(BaseModel):
    """What ingestion records about a document: its resolved identity and title, its
    description, the hash of everything that, if changed, replaces it, and its sizes."""

    model_config = ConfigDict(frozen=True)

    external_id: str
    title: str
    source: str | None
    content_type: str
    content_hash: str
    metadata: dict[str, Any]
    char_count: int
    chunk_count: int


class DocumentValues(DocumentRecord):
    """The row ingestion writes (its chunks go separately).

    ``body`` is the parsed, normalised text the chunks are cut from, kept so that
    a re-index can cut them again with other settings.
    """

    body: str


class Document(DocumentRecord):
    """A stored document as it is listed and read; its body stays in the database."""

    id: int
    created_at: datetime
    updated_at: datetime

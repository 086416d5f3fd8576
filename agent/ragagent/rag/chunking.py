"""Split a document's text into overlapping chunks; pure functions, no I/O.

Character-based, but structure-aware: the text is first cut into sections at
Markdown headings, each section into paragraphs, and paragraphs are packed
into chunks of at most ``size`` characters. Only a paragraph longer than a
chunk is cut inside, at sentence ends, then at spaces, then anywhere. Each
chunk repeats its section heading so it stays meaningful on its own, and
starts with the last ``overlap`` characters of the chunk before it in the same
section so a sentence that straddles a boundary is still found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADING = re.compile(r"^#{1,6}\s+\S", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Section:
    heading: str
    body: str


def build_chunks(text: str, *, size: int, overlap: int) -> list[str]:
    """Chunks of ``text``; empty or whitespace-only text gives no chunk.

    ``overlap`` must be smaller than ``size`` (Settings enforces it).
    """
    if overlap >= size:
        raise ValueError("overlap must be smaller than size")
    chunks: list[str] = []
    for section in build_sections(normalise(text)):
        budget = max(size - len(section.heading) - 2, size // 2)
        pieces = _pack(_split_long(_paragraphs(section.body), budget), budget, overlap)
        if not pieces:
            # A heading with no body is still searchable text.
            pieces = [section.heading]
        chunks.extend(_with_heading(section.heading, piece) for piece in pieces)
    return chunks


def normalise(text: str) -> str:
    """Unix newlines, no trailing spaces, at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def build_sections(text: str) -> list[Section]:
    """Cut at Markdown headings; text before the first heading has an empty heading."""
    starts = [m.start() for m in _HEADING.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    sections = []
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        sections.append(_section(text[begin:end]))
    return [s for s in sections if s.body or s.heading]


def _section(block: str) -> Section:
    first, _, rest = block.partition("\n")
    if _HEADING.match(first):
        return Section(first.strip(), rest.strip())
    return Section("", block.strip())


def _paragraphs(body: str) -> list[str]:
    return [p.strip() for p in _PARAGRAPH_BREAK.split(body) if p.strip()]


def _split_long(paragraphs: list[str], budget: int) -> list[str]:
    """Cut paragraphs longer than ``budget`` at sentences, then words, then characters."""
    out: list[str] = []
    for paragraph in paragraphs:
        if len(paragraph) <= budget:
            out.append(paragraph)
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            out.extend(_split_words(sentence, budget))
    return out


def _split_words(sentence: str, budget: int) -> list[str]:
    if len(sentence) <= budget:
        return [sentence]
    pieces: list[str] = []
    current = ""
    for word in sentence.split(" "):
        while len(word) > budget:
            pieces.extend([current] if current else [])
            pieces.append(word[:budget])
            current, word = "", word[budget:]
        if current and len(current) + 1 + len(word) > budget:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return [*pieces, current] if current else pieces


def _pack(units: list[str], budget: int, overlap: int) -> list[str]:
    """Greedily join units (paragraphs or sentences) into chunks with overlap."""
    chunks: list[str] = []
    current = ""
    for unit in units:
        if current and len(current) + 2 + len(unit) > budget:
            chunks.append(current)
            current = _tail(current, overlap, budget - len(unit) - 2)
        current = f"{current}\n\n{unit}" if current else unit
    if current:
        chunks.append(current)
    return chunks


def _tail(chunk: str, overlap: int, room: int) -> str:
    """The last ``overlap`` characters of ``chunk``, starting at a word, if they fit."""
    keep = min(overlap, room)
    if keep <= 0:
        return ""
    tail = chunk[-keep:]
    space = tail.find(" ")
    if 0 <= space < len(tail) - 1 and len(tail) == keep and keep < len(chunk):
        tail = tail[space + 1 :]
    return tail.strip()


def heading_of(chunk: str) -> str | None:
    """The section heading ``chunk`` starts with (as ``build_chunks`` repeats it), without its
    ``#`` marks: ``p. 3`` for a page of a PDF; None when the chunk starts with body text."""
    first = chunk.split("\n", 1)[0]
    if not _HEADING.match(first):
        return None
    return first.lstrip("#").strip()


def _with_heading(heading: str, piece: str) -> str:
    if not heading or piece.startswith(heading):
        return piece
    return f"{heading}\n\n{piece}"

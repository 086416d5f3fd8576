"""PowerPoint decks into one ``# slide <n>`` section per slide (pure), on real decks the
tests write with python-pptx."""

from __future__ import annotations

import time

import pytest

from ragagent.core import errors, models
from ragagent.core.config import Settings
from ragagent.rag import chunking, ingest, parsing, pptx_text
from tests.support.office_files import PPTX_TYPE, Slide, build_docx, build_pptx, build_zip_bomb

PUMPS = Slide(
    "Pumps",
    ["Prime the pump first.", "# not a slide", "Then open the valve."],
    table=[["Part", "Interval"], ["Seal", "monthly"]],
    notes="Seals wear faster in salt air.",
    grouped=True,
)


def _read(data: bytes, *, deadline: float | None = None) -> str:
    return pptx_text.PPTX.build_text(data, max_unpacked_bytes=10**8, deadline=deadline).text


def test_each_slide_is_a_section_with_its_text_in_reading_order_tables_and_notes() -> None:
    parsed = pptx_text.PPTX.build_text(build_pptx([PUMPS], title="Plant"), max_unpacked_bytes=10**8)
    assert parsed.title == "Plant"
    # Text boxes were added bottom-up, the last one inside a group: position decides.
    assert parsed.text == (
        "# slide 1: Pumps\n\nPrime the pump first.\n\n\\# not a slide\n\nThen open the valve."
        "\n\nPart | Interval\nSeal | monthly\n\nNotes: Seals wear faster in salt air."
    )


def test_a_slide_without_a_title_is_numbered_and_an_empty_slide_is_skipped() -> None:
    deck = build_pptx([Slide(texts=["Untitled text."]), Slide(), Slide("Last")])
    assert _read(deck) == "# slide 1\n\nUntitled text.\n\n# slide 3: Last"


def test_every_chunk_of_a_deck_starts_with_its_slide_which_a_citation_names() -> None:
    slides = [Slide(f"Topic {n}", [f"Sentence {n}-{i} about topic {n}." for i in range(40)])
              for n in (1, 2)]  # fmt: skip
    chunks = chunking.build_chunks(_read(build_pptx(slides)), size=400, overlap=50)
    assert len(chunks) > 2
    assert all(chunk.startswith("# slide ") for chunk in chunks)
    assert {chunking.heading_of(chunk) for chunk in chunks} == {
        "slide 1: Topic 1",
        "slide 2: Topic 2",
    }


def test_a_deck_without_a_title_of_its_own_is_titled_by_its_file_name() -> None:
    doc = models.FileInput(data=build_pptx([PUMPS]), content_type=PPTX_TYPE,
                           external_id="decks/plant.pptx")  # fmt: skip
    prepared = ingest.build_prepared(doc, Settings(ingest_samples_on_start=False))
    assert prepared.values.title == "plant.pptx"
    assert prepared.values.content_type == PPTX_TYPE
    assert parsing.normalise_content_type(PPTX_TYPE.upper()) == PPTX_TYPE


def test_a_deck_still_parsing_at_its_deadline_is_422() -> None:
    with pytest.raises(errors.ValidationFailed, match="the PPTX took too long to parse"):
        _read(build_pptx([PUMPS]), deadline=time.monotonic() - 1)


def test_a_pptx_zip_bomb_is_413_without_being_unpacked() -> None:
    with pytest.raises(errors.PayloadTooLarge, match="the PPTX unpacks to 67108"):
        pptx_text.PPTX.build_text(build_zip_bomb(64 * 1024 * 1024), max_unpacked_bytes=10**7)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "encrypted with a password"),
        (b"PK\x03\x04 truncated", "not a valid .pptx"),
        (build_docx([("A Word file", ["Not a deck."])]), "could not be read"),
        (build_pptx([Slide(), Slide()]), "has no text"),
    ],
)
def test_a_broken_protected_or_empty_deck_is_422(data: bytes, message: str) -> None:
    with pytest.raises(errors.ValidationFailed, match=message):
        _read(data)

"""Chunking: sizes, overlap, headings and paragraphs (pure, no database)."""

from __future__ import annotations

import itertools

import pytest

from ragagent.rag.chunking import build_chunks, build_sections, heading_of, normalise


def test_short_text_is_one_chunk() -> None:
    assert build_chunks("Hello world.", size=200, overlap=20) == ["Hello world."]


def test_blank_text_gives_no_chunk() -> None:
    assert build_chunks(" \n\n \t", size=200, overlap=20) == []


def test_chunks_never_exceed_size_for_long_prose() -> None:
    text = " ".join(f"Sentence {i} talks about topic {i % 7}." for i in range(400))
    chunks = build_chunks(text, size=300, overlap=50)
    assert len(chunks) > 10
    assert max(len(c) for c in chunks) <= 300


def test_consecutive_chunks_overlap() -> None:
    text = "\n\n".join(f"Paragraph {i} has some words in it." for i in range(40))
    chunks = build_chunks(text, size=200, overlap=60)
    for previous, current in itertools.pairwise(chunks):
        shared = current.split("\n\n")[0]
        assert shared in previous


def test_paragraphs_are_not_cut_when_they_fit() -> None:
    paragraphs = [f"Paragraph number {i} " + "word " * 20 for i in range(10)]
    chunks = build_chunks("\n\n".join(paragraphs), size=400, overlap=0)
    for paragraph in paragraphs:
        assert any(paragraph.strip() in chunk for chunk in chunks)


def test_every_chunk_of_a_section_repeats_its_heading() -> None:
    body = "\n\n".join(f"Line {i} about installing the agent." for i in range(30))
    chunks = build_chunks(f"# Intro\n\nHello.\n\n## Install\n\n{body}", size=200, overlap=20)
    install = [c for c in chunks if "installing" in c]
    assert len(install) > 2
    assert all(c.startswith("## Install\n\n") for c in install)
    assert chunks[0] == "# Intro\n\nHello."


def test_sections_split_at_markdown_headings_only() -> None:
    text = "Preamble\n\n# A\n\nalpha #not-a-heading\n\n## B\n\nbeta"
    sections = build_sections(text)
    assert [(s.heading, s.body) for s in sections] == [
        ("", "Preamble"),
        ("# A", "alpha #not-a-heading"),
        ("## B", "beta"),
    ]


def test_a_single_huge_word_is_cut_hard() -> None:
    chunks = build_chunks("x" * 1000, size=300, overlap=0)
    assert "".join(chunks) == "x" * 1000
    assert all(len(c) <= 300 for c in chunks)


def test_normalise_collapses_blank_lines_and_windows_newlines() -> None:
    assert normalise("a  \r\n\r\n\r\n\r\nb\r\n") == "a\n\nb"


def test_overlap_must_be_smaller_than_size() -> None:
    with pytest.raises(ValueError, match="overlap"):
        build_chunks("text", size=100, overlap=100)


def test_heading_of_a_chunk_is_the_section_it_repeats() -> None:
    chunks = build_chunks("# p. 3\n\n" + "Lamp text. " * 40, size=120, overlap=10)
    assert {heading_of(chunk) for chunk in chunks} == {"p. 3"}
    assert heading_of("Body text first.\n\n# Later") is None
    assert heading_of("\\# escaped hash line") is None

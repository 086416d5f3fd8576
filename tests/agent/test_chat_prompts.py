"""Prompt assembly: delimited, numbered passages; history trimmed to its token budget."""

from __future__ import annotations

from ragagent.core.models import ChatTurn
from ragagent.rag import prompts
from ragagent.rag.types import RetrievedChunk
from tests.agent import documents


def chunk(n: int, text: str) -> RetrievedChunk:
    return documents.retrieved(n, text, score=1.0 / n)


def turns(*contents: str) -> list[ChatTurn]:
    """A conversation that starts with the user and alternates from there."""
    return [ChatTurn("user" if i % 2 == 0 else "assistant", c) for i, c in enumerate(contents)]


def test_context_numbers_passages_in_rank_order() -> None:
    context = prompts.build_context([chunk(1, "Alpha text."), chunk(2, "Beta text.")])
    first = '<document index="1" title="Doc 1">\nAlpha text.\n</document>'
    second = '<document index="2" title="Doc 2">\nBeta text.\n</document>'
    assert context.index(first) < context.index(second)
    assert context.startswith("<documents>\n")
    assert context.endswith("\n</documents>")


def test_context_says_so_when_nothing_was_retrieved() -> None:
    assert prompts.build_context([]) == prompts.NO_CONTEXT


def test_history_keeps_the_most_recent_turns_that_fit_the_budget() -> None:
    history = turns("a" * 400, "b" * 40, "c" * 40)
    kept = prompts.trim_history(history, budget=25, max_turns=10)
    assert [t.content[0] for t in kept] == ["b", "c"]


def test_history_stops_at_the_first_turn_that_does_not_fit() -> None:
    history = turns("a" * 4, "b" * 400, "c" * 4)
    kept = prompts.trim_history(history, budget=50, max_turns=10)
    assert [t.content for t in kept] == ["cccc"]


def test_history_respects_the_turn_limit_and_drops_system_turns() -> None:
    history = [ChatTurn("system", "x"), *(ChatTurn("user", str(i)) for i in range(6))]
    kept = prompts.trim_history(history, budget=1000, max_turns=2)
    assert [t.content for t in kept] == ["4", "5"]


def test_messages_are_system_then_history_then_passages_then_question() -> None:
    messages = prompts.build_messages(
        question="What is RagAgent?",
        history=[ChatTurn("user", "hi"), ChatTurn("assistant", "hello")],
        chunks=[chunk(1, "RagAgent is a chat agent.")],
        history_budget=100,
        max_turns=10,
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "user"]
    assert "RagAgent is a chat agent." not in messages[0]["content"]
    passage = '<document index="1" title="Doc 1">\nRagAgent is a chat agent.'
    assert passage in messages[-2]["content"]
    assert messages[-1]["content"] == "What is RagAgent?"


def test_zero_history_budget_sends_no_history() -> None:
    messages = prompts.build_messages(
        question="q", history=[ChatTurn("user", "old")], chunks=[], history_budget=0, max_turns=10
    )
    assert [m["role"] for m in messages] == ["system", "user", "user"]


def test_token_estimate_is_a_quarter_of_the_characters_rounded_up() -> None:
    assert prompts.estimate_tokens("") == 0
    assert prompts.estimate_tokens("abcde") == 2

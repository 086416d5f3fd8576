"""``make soak``'s provider-down scenario at its short size (the primary down for 8 s,
bench.soak_provider_down): two local OpenAI-compatible servers, primary and fallback."""

from __future__ import annotations

import pytest

from bench import soak_provider_down

pytestmark = pytest.mark.slow


def test_the_fallback_answers_every_turn_while_the_primary_is_down() -> None:
    outcome = soak_provider_down.run(short=True)
    assert outcome.held, (outcome.checks, outcome.numbers)

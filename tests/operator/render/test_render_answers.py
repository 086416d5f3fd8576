"""Pure render tests for spec.answers: the decline threshold and the follow-up rewrite
reach the agent's settings, and an unset section means what the agent's defaults mean."""

from __future__ import annotations

import pytest

from ragagent.core.answer_settings import AnswerSettings
from ragagent.core.config import load_settings
from ragagent_operator.render import configmap
from tests.operator.render.test_render_ratelimit import make_agent

FIELDS = ("answer_min_similarity", "followup_rewrite")


def _settings_from(data: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> AnswerSettings:
    for name in ("RAGAGENT_ANSWER_MIN_SIMILARITY", "RAGAGENT_FOLLOWUP_REWRITE"):
        monkeypatch.setenv(name, data[name])
    return load_settings()


def test_an_unset_section_renders_the_agents_own_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = configmap.build_config_map(make_agent())["data"]
    loaded = _settings_from(data, monkeypatch)
    defaults = AnswerSettings.model_fields
    assert {f: getattr(loaded, f) for f in FIELDS} == {f: defaults[f].default for f in FIELDS}


def test_the_spec_values_reach_the_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    agent = make_agent(answers={"minSimilarity": 0.25, "rewriteFollowUps": False})
    loaded = _settings_from(configmap.build_config_map(agent)["data"], monkeypatch)
    assert (loaded.answer_min_similarity, loaded.followup_rewrite) == (0.25, False)

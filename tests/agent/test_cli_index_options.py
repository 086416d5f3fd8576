"""What the ``ragagent index`` commands share: the gate options of ``switch`` and ``rollout``,
declared once (the ``Gate`` fields), offered by both in the same order with the same help and
read into one ``Gate``; and, with ``apikey``, one settings loader that stops on a bad
configuration as on a usage error."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ragagent import cli_index
from ragagent.cli import app
from ragagent.rag import index_eval

GATE_FLAGS = ["--eval-set", "--k", "--min-ndcg", "--min-recall", "--max-ndcg-drop"]
GATE_FLAGS += ["--max-recall-drop"]


def _options(name: str) -> list[Any]:
    """The command's options as Typer hands them to its click (which Typer may bundle)."""
    group: Any = typer.main.get_command(cli_index.app)
    return [param for param in group.commands[name].params if param.param_type_name == "option"]


def test_switch_and_rollout_offer_the_gate_options_in_place_with_one_help_each() -> None:
    switch, rollout = _options("switch"), _options("rollout")

    assert [o.opts[0] for o in switch] == ["--generation", *GATE_FLAGS]
    assert [o.opts[0] for o in rollout] == [*GATE_FLAGS, "--keep"]
    assert [(o.help, o.default) for o in switch[1:]] == [(o.help, o.default) for o in rollout[:-1]]


def test_the_gate_is_ungated_on_the_self_check_until_a_threshold_is_given() -> None:
    unset = cli_index.Gate()
    given = dataclasses.replace(unset, max_recall_drop=0.0)

    assert (unset.is_gated(), unset.read_queries(), unset.k) == (False, None, 10)
    assert unset.limits == index_eval.Thresholds(0.0, 0.0, None, None)
    assert given.is_gated()
    assert given.limits.max_recall_drop == 0.0


def test_a_gate_option_out_of_its_range_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["index", "rollout", "--k", "0"])

    assert result.exit_code == 2
    assert "--k" in result.output


@pytest.mark.parametrize("command", [["index", "list"], ["apikey", "list"]])
def test_a_sub_command_stops_on_an_invalid_configuration_as_on_a_usage_error(
    command: list[str],
) -> None:
    result = CliRunner().invoke(app, command, env={"RAGAGENT_LOG_FORMAT": "sideways"})

    assert result.exit_code == 2
    assert "invalid configuration" in result.stderr
    assert "sideways" not in result.stderr  # the message names the setting, never its value

"""The operator's log lines name the object a kopf per-object logger speaks of."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import kopf
import pytest

from ragagent_operator import logs

BODY = kopf.Body(
    {
        "apiVersion": "ragagent.dev/v1alpha1",
        "kind": "RagAgent",
        "metadata": {"name": "docs", "namespace": "team", "uid": "u-1"},
    }
)


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, logging.Handler]]:
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    kopf_logger = logging.getLogger("kopf.objects")
    kopf_logger.addHandler(handler)
    level = kopf_logger.level
    kopf_logger.setLevel(logging.INFO)
    yield sink, handler
    kopf_logger.removeHandler(handler)
    kopf_logger.setLevel(level)


def logged(captured: tuple[io.StringIO, logging.Handler], formatter: logging.Formatter) -> str:
    """What one line of kopf's per-object logger for BODY becomes through ``formatter``."""
    sink, handler = captured
    handler.setFormatter(formatter)
    kopf.ObjectLogger(body=BODY, settings=kopf.OperatorSettings()).error("Handler failed")
    return sink.getvalue()


def test_a_json_line_of_kopfs_object_logger_names_the_object(
    captured: tuple[io.StringIO, logging.Handler],
) -> None:
    line = json.loads(logged(captured, logs.JsonFormatter()))
    assert line["message"] == "Handler failed"
    assert line["object"] == {"kind": "RagAgent", "namespace": "team", "name": "docs"}


def test_a_plain_line_is_prefixed_with_namespace_and_name(
    captured: tuple[io.StringIO, logging.Handler],
) -> None:
    assert logged(captured, logs.PlainFormatter()) == "[team/docs] Handler failed\n"


def test_a_line_about_no_object_has_no_object_field() -> None:
    record = logging.LogRecord("ragagent_operator", logging.INFO, __file__, 1, "ready", (), None)
    assert "object" not in json.loads(logs.JsonFormatter().format(record))
    assert logs.PlainFormatter().format(record) == "ready"

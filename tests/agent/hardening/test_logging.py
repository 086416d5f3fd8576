"""Log lines: JSON in production, pretty in development, ids on every line, no secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from ragagent.core.config import Settings
from ragagent.core.logging import REQUEST_ID, configure_logging, redact


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root_logger")
def test_production_lines_are_json_with_request_and_trace_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(log_format="json", log_level="DEBUG"))
    tracer = TracerProvider().get_tracer("test")
    token = REQUEST_ID.set("req-123")
    try:
        with tracer.start_as_current_span("work") as span:
            logging.getLogger("ragagent.test").info("hello %s", "world", extra={"route": "/x"})
            trace_id = format(span.get_span_context().trace_id, "032x")
    finally:
        REQUEST_ID.reset(token)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "hello world"
    assert line["level"] == "INFO"
    assert line["request_id"] == "req-123"
    assert line["trace_id"] == trace_id
    assert line["route"] == "/x"


@pytest.mark.usefixtures("restore_root_logger")
def test_development_lines_are_pretty_and_level_comes_from_settings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(log_level="WARNING"))
    log = logging.getLogger("ragagent.test")
    log.info("quiet")
    log.warning("loud")
    err = capsys.readouterr().err
    assert "quiet" not in err
    assert "WARNING" in err
    assert "loud" in err
    assert "request_id=-" in err
    assert not err.lstrip().startswith("{")


@pytest.mark.usefixtures("restore_root_logger")
def test_credentials_are_redacted_from_lines(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json"))
    key = "rag_0123456789ab_" + "S" * 43
    logging.getLogger("ragagent.test").warning(
        "auth %s header=%s url=%s", key, "Bearer eyJhbGciOi.abc.def", "postgresql://u:pw9@h/db"
    )
    err = capsys.readouterr().err
    for secret in (key, "S" * 20, "eyJhbGciOi", "pw9"):
        assert secret not in err
    assert "rag_***" in err


def test_redact_keeps_ordinary_text() -> None:
    assert redact("GET /v1/documents 200") == "GET /v1/documents 200"

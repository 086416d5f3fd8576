"""OpenTelemetry tracing, configured by the standard ``OTEL_*`` variables.

Tracing is on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the traces-specific
variant) is set, and off otherwise, so a default run pays nothing. Tests turn
it on by installing their own SDK ``TracerProvider`` before building the app.
``span(name, **attrs)`` is the one helper pipeline code uses for its spans.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from ragagent import __version__

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ragagent.core.config import Settings

log = logging.getLogger(__name__)

TRACER_NAME = "ragagent"
ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_instrumented_libraries = False


def is_export_configured() -> bool:
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return any(os.environ.get(name) for name in ENDPOINT_VARS)


def is_tracing_active() -> bool:
    """True when a real SDK provider records spans (ours or a test's)."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def create_tracer_provider() -> TracerProvider:
    """An SDK provider exporting over OTLP/HTTP; the exporter reads OTEL_* itself."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME", "ragagent"),
            "service.version": __version__,
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def ensure_tracing() -> bool:
    """Install the OTLP provider once if configured; returns whether tracing is active."""
    if is_export_configured() and not is_tracing_active():
        trace.set_tracer_provider(create_tracer_provider())
        log.info("tracing exported over OTLP")
    return is_tracing_active()


def instrument_app(app: FastAPI, settings: Settings) -> None:
    """Instrument FastAPI (per app) and psycopg/httpx (once per process) when tracing."""
    if not ensure_tracing():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="livez,readyz,healthz", exclude_spans=["receive", "send"]
    )
    _instrument_libraries()


def _instrument_libraries() -> None:
    global _instrumented_libraries
    if _instrumented_libraries:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    PsycopgInstrumentor().instrument(skip_dep_check=True)
    HTTPXClientInstrumentor().instrument()
    _instrumented_libraries = True


def uninstrument_libraries() -> None:
    """Undo ``_instrument_libraries`` (tests that turned tracing on clean up with it)."""
    global _instrumented_libraries
    if not _instrumented_libraries:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    PsycopgInstrumentor().uninstrument()
    HTTPXClientInstrumentor().uninstrument()
    _instrumented_libraries = False


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A child span of the current one; None-valued attributes are dropped.

    Exceptions escaping the block are recorded on the span and mark it as an
    error, then propagate unchanged.
    """
    tracer = trace.get_tracer(TRACER_NAME, __version__)
    clean = {key: value for key, value in attributes.items() if value is not None}
    with tracer.start_as_current_span(name, attributes=clean) as current:
        yield current


@contextmanager
def detached_span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """Like ``span`` but never made current: safe across ``yield`` in async generators.

    A current span is bound to a context token that must be reset in the same
    context; an async generator may resume elsewhere (e.g. a streaming
    response), so its spans are parented explicitly and ended by hand.
    """
    tracer = trace.get_tracer(TRACER_NAME, __version__)
    clean = {key: value for key, value in attributes.items() if value is not None}
    current = tracer.start_span(name, attributes=clean)
    try:
        yield current
    except Exception as exc:
        current.record_exception(exc)
        current.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        current.end()


def trace_headers() -> dict[str, str]:
    """The current trace as W3C ``traceparent`` (and ``tracestate``) headers; empty when
    nothing is traced.

    For clients the httpx instrumentation does not reach: the openai SDK sends through its
    own fork of httpx, so its requests to the LLM providers carry the trace only this way.
    """
    from opentelemetry import propagate

    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers

"""The span tree of one chat request, captured with the SDK's in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.util._once import Once

from ragagent.core import telemetry
from tests.agent.hardening.harness import bearer, build_settings, build_token, running_app
from tests.support.fake_openai import FakeOpenAI


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Record spans in memory; the app instruments itself when an SDK provider is set.

    Afterwards the process is put back as it was (no provider, libraries not
    instrumented), so later tests run untraced. OpenTelemetry allows setting
    the global provider once; resetting that guard is what its own test
    utilities do.
    """
    previous = trace.get_tracer_provider()
    provider = previous if isinstance(previous, TracerProvider) else TracerProvider()
    if provider is not previous:
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # later exports are dropped, so memory stays flat
    if provider is not previous:
        telemetry.uninstrument_libraries()
        trace._TRACER_PROVIDER_SET_ONCE = Once()
        trace._TRACER_PROVIDER = None


def only(found: list[ReadableSpan], name: str) -> ReadableSpan:
    matching = [span for span in found if span.name == name]
    assert len(matching) == 1, f"{name}: {[s.name for s in found]}"
    return matching[0]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_chat_request_has_retrieve_embed_and_llm_spans(
    spans: InMemorySpanExporter, db_url: str, data_dir: str
) -> None:
    # answer_min_similarity=0: an empty knowledge base would decline the turn before any LLM.
    settings = build_settings(db_url, data_dir, answer_min_similarity=0.0)
    async with running_app(settings) as running:
        spans.clear()
        response = await running.client.post(
            "/v1/chat", json={"message": "what is RagAgent?"}, headers=bearer(build_token())
        )
        assert response.status_code == 200
    found = list(spans.get_finished_spans())
    server = only(found, "POST /v1/chat")
    assert server.kind == SpanKind.SERVER
    assert server.attributes is not None
    assert server.attributes.get("http.route") == "/v1/chat"
    retrieve, embed, llm = only(found, "retrieve"), only(found, "embed"), only(found, "llm")
    assert parent_of(retrieve) == server.context.span_id
    assert parent_of(embed) == retrieve.context.span_id
    assert parent_of(llm) == server.context.span_id
    assert {s.context.trace_id for s in (server, retrieve, embed, llm)} == {server.context.trace_id}
    assert retrieve.attributes is not None
    assert retrieve.attributes["retrieval.top_k"] == 5
    assert "retrieval.chunks" in retrieve.attributes
    assert embed.attributes is not None
    assert embed.attributes["embedding.texts"] == 1
    assert llm.attributes is not None
    assert llm.attributes["llm.provider"] == "extractive"
    assert "llm.tokens_out" in llm.attributes
    database = [s for s in found if s.attributes and s.attributes.get("db.system") == "postgresql"]
    assert any(parent_of(s) == retrieve.context.span_id for s in database)


async def test_every_provider_tried_gets_the_turns_traceparent(
    spans: InMemorySpanExporter,
    db_url: str,
    data_dir: str,
    fake_openai: FakeOpenAI,
    second_openai: FakeOpenAI,
) -> None:
    settings = build_settings(
        db_url,
        data_dir,
        llm_provider="openai",
        openai_base_url=f"{fake_openai.url}/v1",
        llm_fallback_1_base_url=f"{second_openai.url}/v1",
        llm_max_retries=0,
    )
    fake_openai.behaviour.fail_with = [500]  # the primary fails, so the fallback is tried too
    document = {"external_id": "about", "title": "About", "text": "RagAgent is a RAG agent."}
    async with running_app(settings) as running:
        # Something relevant to retrieve, or the turn is declined without calling an LLM.
        ingested = await running.client.post(
            "/v1/documents", json=document, headers=bearer(build_token())
        )
        assert ingested.status_code in (200, 201), ingested.text
        spans.clear()
        response = await running.client.post(
            "/v1/chat", json={"message": "what is RagAgent?"}, headers=bearer(build_token())
        )
        assert response.status_code == 200
    trace_id = f"{only(list(spans.get_finished_spans()), 'POST /v1/chat').context.trace_id:032x}"
    for fake in (fake_openai, second_openai):
        completions = [h for h in fake.behaviour.headers if "traceparent" in h]
        assert completions, f"no traceparent reached the provider: {fake.behaviour.headers}"
        assert completions[-1]["traceparent"].split("-")[1] == trace_id

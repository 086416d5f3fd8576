"""The documents and retrieve routes through the real app on the real database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from ragagent.core.embedded_pg import EmbeddedPostgres
from tests.agent.hardening.harness import running_app
from tests.support.fixtures_pg import build_test_settings

pytestmark = pytest.mark.db

DOC: dict[str, Any] = {
    "external_id": "kb-1",
    "title": "Llamas",
    "text": "# Llamas\n\nLlamas are domesticated South American camelids used as pack animals.",
    "content_type": "text/markdown",
    "metadata": {"team": "zoo"},
    "source": "wiki",
}


async def test_document_lifecycle_create_unchanged_list_get_delete(
    app_client: httpx.AsyncClient,
) -> None:
    created = await app_client.post("/v1/documents", json=DOC)
    assert created.status_code == 201, created.text
    assert created.json()["outcome"] == "created"
    again = await app_client.post("/v1/documents", json=DOC)
    assert again.status_code == 200
    assert again.json()["outcome"] == "unchanged"
    listing = (await app_client.get("/v1/documents")).json()
    assert listing["total"] == 1
    assert listing["items"][0]["external_id"] == "kb-1"
    one = (await app_client.get("/v1/documents/kb-1")).json()
    assert one["metadata"] == {"team": "zoo"}
    assert one["source"] == "wiki"
    assert (await app_client.get(f"/v1/documents/{one['id']}")).json()["external_id"] == "kb-1"
    assert (await app_client.delete("/v1/documents/kb-1")).status_code == 204
    assert (await app_client.get("/v1/documents/kb-1")).status_code == 404
    assert (await app_client.delete("/v1/documents/kb-1")).status_code == 404


async def test_raw_markdown_and_html_uploads_are_accepted(app_client: httpx.AsyncClient) -> None:
    md = await app_client.post(
        "/v1/documents?external_id=docs/notes.md&source=upload",
        content=b"# Notes\n\nThe meeting is on Tuesday.",
        headers={"content-type": "text/markdown; charset=utf-8"},
    )
    assert md.status_code == 201, md.text
    html = await app_client.post(
        "/v1/documents?external_id=page",
        content=b"<h1>Page</h1><script>bad()</script><p>Visible words.</p>",
        headers={"content-type": "text/html"},
    )
    assert html.status_code == 201, html.text
    found = await app_client.post("/v1/retrieve", json={"query": "visible words", "top_k": 1})
    assert found.json()["results"][0]["external_id"] == "page"
    assert "bad()" not in found.json()["results"][0]["text"]
    notes = await app_client.get("/v1/documents/docs/notes.md")
    assert notes.json()["source"] == "upload"
    assert (await app_client.delete("/v1/documents/docs/notes.md")).status_code == 204


async def test_retrieve_finds_the_posted_document_and_honours_the_filter(
    app_client: httpx.AsyncClient,
) -> None:
    await app_client.post("/v1/documents", json=DOC)
    other = {**DOC, "external_id": "kb-2", "text": "Kettles boil water.", "source": "shop"}
    await app_client.post("/v1/documents", json=other)
    hits = (await app_client.post("/v1/retrieve", json={"query": "pack animal", "top_k": 2})).json()
    assert hits["results"][0]["external_id"] == "kb-1"
    assert hits["results"][0]["metadata"] == {"team": "zoo"}
    assert hits["results"][0]["score"] > 0
    body = {"query": "pack animal", "top_k": 5, "filter": {"source": "shop"}}
    filtered = (await app_client.post("/v1/retrieve", json=body)).json()
    assert [r["external_id"] for r in filtered["results"]] == ["kb-2"]


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"%PDF-1.4", "application/pdf", 422),
        (b"%PDF-1.4", "application/msword", 415),
        (b"plain", "", 415),
        (b"{not json", "application/json", 422),
        (b'{"text": ""}', "application/json", 422),
        (b'{"text": "   "}', "application/json", 422),
        (b'{"title": "no text"}', "application/json", 422),
        (b'{"text": "x", "content_type": "image/png"}', "application/json", 415),
        (b'{"text": "x", "unknown": 1}', "application/json", 422),
        (b"\xff\xfe\xfa", "text/plain", 422),
        (b'["a list"]', "application/json", 422),
    ],
)
async def test_bad_documents_get_a_clear_4xx(
    app_client: httpx.AsyncClient, content: bytes, content_type: str, status: int
) -> None:
    response = await app_client.post(
        "/v1/documents", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [{"query": ""}, {"query": "x", "top_k": 0}, {"query": "x", "top_k": 101}, {"top_k": 3}],
)
async def test_bad_retrieve_requests_are_422(app_client: httpx.AsyncClient, body: object) -> None:
    response = await app_client.post("/v1/retrieve", json=body)
    assert response.status_code == 422, response.text


async def test_oversized_document_is_refused(pg_url: str, tmp_path: Path) -> None:
    settings = build_test_settings(pg_url, tmp_path, max_document_bytes=1000)
    async with running_app(settings) as running:
        response = await running.client.post(
            "/v1/documents", content=b"a" * 2000, headers={"content-type": "text/plain"}
        )
        assert response.status_code == 413


async def test_another_embedding_model_gets_409_with_a_reindex_hint(
    pg_url: str, tmp_path: Path, app_client: httpx.AsyncClient
) -> None:
    await app_client.post("/v1/documents", json=DOC)
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await conn.execute("UPDATE embedding_index SET model = 'some-other-model'")
    response = await app_client.post("/v1/retrieve", json={"query": "llamas"})
    assert response.status_code == 409
    assert "reindex" in response.json()["detail"]
    changed = {**DOC, "text": DOC["text"] + " More."}
    assert (await app_client.post("/v1/documents", json=changed)).status_code == 409


async def test_database_down_answers_503_with_retry_after(
    pg_server: EmbeddedPostgres, pg_url: str, app_client: httpx.AsyncClient
) -> None:
    name = str(conninfo_to_dict(pg_url)["dbname"])
    async with await psycopg.AsyncConnection.connect(
        pg_server.url_for("postgres"), autocommit=True
    ) as admin:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        try:
            for path, body in (("/v1/documents", None), ("/v1/retrieve", {"query": "llamas"})):
                response = await (
                    app_client.get(path) if body is None else app_client.post(path, json=body)
                )
                assert response.status_code == 503, response.text
                assert int(response.headers["retry-after"]) > 0
        finally:
            await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

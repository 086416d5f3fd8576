"""PDF and DOCX uploads through the real app on the real database: the raw file as the
body with its Content-Type, a clear 4xx for every file that cannot be indexed."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ragagent.db import embedding_index
from ragagent.rag import reindex
from ragagent.state import AppState
from tests.agent.hardening.harness import running_app
from tests.support.fixtures_pg import build_test_settings
from tests.support.office_files import (
    DOCX_TYPE,
    PPTX_TYPE,
    Slide,
    build_docx,
    build_pdf,
    build_pptx,
    build_zip_bomb,
)

pytestmark = pytest.mark.db

PAGES = [
    "The Corner Bakery opens at six in the morning.",
    "The sourdough starter is fed with rye flour twice a day.",
]


async def _upload(
    client: httpx.AsyncClient, data: bytes, content_type: str, query: str = ""
) -> httpx.Response:
    return await client.post(
        f"/v1/documents{query}", content=data, headers={"content-type": content_type}
    )


async def test_a_pdf_is_ingested_and_its_chunks_name_their_page(
    app_client: httpx.AsyncClient,
) -> None:
    created = await _upload(
        app_client, build_pdf(PAGES), "application/pdf", "?external_id=kb/bakery.pdf"
    )
    assert created.status_code == 201, created.text
    stored = (await app_client.get("/v1/documents/kb/bakery.pdf")).json()
    assert stored["title"] == "bakery.pdf"
    assert stored["content_type"] == "application/pdf"
    assert stored["chunk_count"] == 2
    query = {"query": "What is the sourdough starter fed with?", "top_k": 1}
    [hit] = (await app_client.post("/v1/retrieve", json=query)).json()["results"]
    assert hit["text"].startswith("# p. 2\n\nThe sourdough starter is fed with rye flour")
    again = await _upload(
        app_client, build_pdf(PAGES), "application/pdf", "?external_id=kb/bakery.pdf"
    )
    assert again.json()["outcome"] == "unchanged"


async def test_a_docx_is_ingested_with_its_title_and_headings(
    app_client: httpx.AsyncClient,
) -> None:
    data = build_docx(
        [("Opening hours", ["Open at six."]), ("Starter", ["Fed with rye flour."])],
        title="Bakery handbook",
    )
    created = await _upload(app_client, data, DOCX_TYPE, "?external_id=handbook.docx")
    assert created.status_code == 201, created.text
    assert created.json()["chunks"] == 2
    stored = (await app_client.get("/v1/documents/handbook.docx")).json()
    assert stored["title"] == "Bakery handbook"
    query = {"query": "rye flour starter", "top_k": 1}
    [hit] = (await app_client.post("/v1/retrieve", json=query)).json()["results"]
    assert hit["text"] == "# Starter\n\nFed with rye flour."


async def test_a_pptx_is_ingested_and_its_slide_is_the_cited_location(
    app_client: httpx.AsyncClient,
) -> None:
    slides = [Slide("Opening hours", ["Open at six."]), Slide("Starter", ["Fed with rye flour."])]
    created = await _upload(app_client, build_pptx(slides), PPTX_TYPE, "?external_id=bake.pptx")
    assert created.status_code == 201, created.text
    assert (await app_client.get("/v1/documents/bake.pptx")).json()["title"] == "bake.pptx"
    query = {"query": "rye flour starter", "top_k": 1}
    [hit] = (await app_client.post("/v1/retrieve", json=query)).json()["results"]
    assert hit["text"] == "# slide 2: Starter\n\nFed with rye flour."


@pytest.mark.parametrize(
    ("data", "content_type", "status", "message"),
    [
        (build_pdf(PAGES, user_password="pw"), "application/pdf", 422, "encrypted"),
        (build_pdf([None, None]), "application/pdf", 422, "no extractable text"),
        (b"%PDF-1.7 garbage", "application/pdf", 422, "could not be read"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, DOCX_TYPE, 422, "encrypted"),
        (b"not a zip", DOCX_TYPE, 422, "not a valid .docx"),
        (build_pptx([Slide()]), PPTX_TYPE, 422, "the PPTX has no text"),
    ],
)
async def test_files_that_cannot_be_indexed_get_a_clear_4xx(
    app_client: httpx.AsyncClient, data: bytes, content_type: str, status: int, message: str
) -> None:
    response = await _upload(app_client, data, content_type, "?external_id=bad")
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"].startswith("bad: ")
    assert message in response.json()["detail"]
    assert (await app_client.get("/v1/documents")).json()["total"] == 0


async def test_a_pdf_sent_as_json_text_is_415(app_client: httpx.AsyncClient) -> None:
    body = {"text": "%PDF-1.4", "content_type": "application/pdf"}
    response = await app_client.post("/v1/documents", json=body)
    assert response.status_code == 415
    assert "raw request body" in response.json()["detail"]


async def test_files_over_the_page_size_and_unpacked_limits_are_413(
    pg_url: str, tmp_path: Path
) -> None:
    settings = build_test_settings(
        pg_url,
        tmp_path,
        max_document_pages=3,
        max_unpacked_bytes=4 * 1024 * 1024,
        max_document_bytes=200_000,
    )
    async with running_app(settings) as running:
        pages = await _upload(running.client, build_pdf(["x"] * 4), "application/pdf")
        assert pages.status_code == 413, pages.text
        assert "4 pages; the limit is 3 (RAGAGENT_MAX_DOCUMENT_PAGES)" in pages.json()["detail"]
        bomb = await _upload(running.client, build_zip_bomb(32 * 1024 * 1024), DOCX_TYPE)
        assert bomb.status_code == 413, bomb.text
        assert "(RAGAGENT_MAX_UNPACKED_BYTES)" in bomb.json()["detail"]
        large = await _upload(running.client, b"%PDF" + b"0" * 300_000, "application/pdf")
        assert large.status_code == 413, large.text


async def test_a_chat_answer_cites_the_pdf_page_it_quotes(pg_url: str, tmp_path: Path) -> None:
    settings = build_test_settings(pg_url, tmp_path, answer_min_similarity=0.0)
    async with running_app(settings) as running:
        upload = await _upload(
            running.client, build_pdf(PAGES), "application/pdf", "?external_id=bakery.pdf"
        )
        assert upload.status_code == 201, upload.text
        question = {"message": "What is the sourdough starter fed with?"}
        answer = (await running.client.post("/v1/chat", json=question)).json()
    cited = [(c["title"], c["location"]) for c in answer["citations"]]
    assert ("bakery.pdf", "p. 2") in cited


async def test_a_re_chunking_reindex_keeps_every_pdf_chunk_on_its_page(
    pg_url: str, tmp_path: Path
) -> None:
    long_page = " ".join(f"Loaf {n} is proved overnight in the cold room." for n in range(30))
    settings = build_test_settings(pg_url, tmp_path)
    async with running_app(settings) as running:
        data = build_pdf([PAGES[0], long_page])
        upload = await _upload(running.client, data, "application/pdf", "?external_id=b.pdf")
        assert upload.status_code == 201, upload.text
        state = AppState.of(running.app)
        assert state is not None
        done = await reindex.reindex(
            db=state.db,
            embedder=state.embedder,
            chunking=embedding_index.Chunking(size=120, overlap=20),
            batch_size=8,
        )
        assert done.rechunked == 1
        async with state.db.connection() as conn:
            cursor = await conn.execute(
                "SELECT c.text FROM chunks c JOIN embedding_index e ON e.generation = c.generation "
                "ORDER BY c.ordinal"
            )
            texts = [str(row["text"]) for row in await cursor.fetchall()]
    assert len(texts) > 5
    assert texts[0].startswith("# p. 1\n\n")
    assert all(text.startswith("# p. 2\n\n") for text in texts[1:])

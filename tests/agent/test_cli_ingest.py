"""``ragagent migrate`` / ``ingest`` / ``reindex`` against the real embedded PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import psycopg
import pytest
from typer.testing import CliRunner

from ragagent.cli import app
from tests.support import http_site
from tests.support.office_files import build_pdf

pytestmark = pytest.mark.db


# The test site listens on loopback, which URL sources may not reach unless allowed.
ALLOW_LOOPBACK = {"RAGAGENT_URL_FETCH_ALLOWED_NETWORKS": "127.0.0.0/8"}


def _invoke(pg_url: str, tmp_path: Path, *args: str) -> str:
    env = {"DATABASE_URL": pg_url, "RAGAGENT_DATA_DIR": str(tmp_path / "data"), **ALLOW_LOOPBACK}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _external_ids(pg_url: str) -> set[str]:
    with psycopg.connect(pg_url) as conn:
        return {row[0] for row in conn.execute("SELECT external_id FROM documents")}


def test_migrate_then_ingest_files_directories_globs_and_jsonl(pg_url: str, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.md").write_text("# Alpha\n\nAlpha text.")
    (docs / "sub" / "b.html").write_text("<h1>Beta</h1><p>Beta text.</p>")
    (docs / "skip.bin").write_bytes(b"\x00\x01")
    loose = tmp_path / "c.txt"
    loose.write_text("Gamma text.")
    records = [
        {"external_id": "j1", "title": "J one", "text": "First line.", "metadata": {"k": 1}},
        {"external_id": "j2", "title": "J two", "text": "Second line."},
    ]
    jsonl = tmp_path / "bulk.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in records) + "\n")

    assert "0001_documents" in _invoke(pg_url, tmp_path, "migrate")
    out = _invoke(pg_url, tmp_path, "ingest", str(docs), str(tmp_path / "*.txt"), str(jsonl))
    assert "5 created" in out
    assert _external_ids(pg_url) == {
        (docs / "a.md").as_posix(),
        (docs / "sub" / "b.html").as_posix(),
        loose.as_posix(),
        "j1",
        "j2",
    }
    assert "5 unchanged" in _invoke(pg_url, tmp_path, "ingest", str(docs), str(loose), str(jsonl))
    assert "re-embedded 5 chunks" in _invoke(pg_url, tmp_path, "reindex")


def test_ingest_with_nothing_to_ingest_fails_clearly(pg_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": pg_url}
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "nothing-*.md")], env=env)
    assert result.exit_code == 1
    assert "no ingestible files" in result.output


def test_bad_jsonl_line_is_reported_with_its_line_number(pg_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{not json}\n')
    result = CliRunner().invoke(app, ["ingest", str(bad)], env={"DATABASE_URL": pg_url})
    assert result.exit_code == 1
    assert "bad.jsonl:2" in result.output


def test_an_error_naming_a_long_path_is_printed_whole(pg_url: str, tmp_path: Path) -> None:
    """Past the console's 80 columns rich used to break the path over lines (CI's deeper temp
    directory did), and a `[draft]` in it was read as markup and dropped."""
    folder = tmp_path / ("a-folder-with-a-rather-long-name-" * 3) / "[draft]"
    folder.mkdir(parents=True)
    bad = folder / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{not json}\n')
    result = CliRunner().invoke(app, ["ingest", str(bad)], env={"DATABASE_URL": pg_url})
    assert result.exit_code == 1
    assert f"error: {bad}:2: not valid JSON\n" in result.output


class _KnowledgeSite(http_site.QuietHandler):
    """A real HTTP server for URL sources: a Markdown page, an HTML page, a PDF, a binary."""

    PAGES: ClassVar[dict[str, tuple[str, bytes]]] = {
        "/guide.md": ("text/plain", b"# Guide\n\nThe guide explains URL ingestion."),
        "/page": ("text/html; charset=utf-8", b"<h1>Page</h1><p>An HTML page.</p>"),
        "/manual": ("application/pdf", build_pdf(["A PDF manual.", "Its second page."])),
        "/blob": ("application/octet-stream", b"\x00\x01"),
    }

    def do_GET(self) -> None:  # noqa: N802 (http.server calls it by this name)
        content_type, body = self.PAGES.get(self.path, ("text/plain", b""))
        self.reply(200 if self.path in self.PAGES else 404, body, {"Content-Type": content_type})


@pytest.fixture
def site() -> Iterator[str]:
    with http_site.serve(_KnowledgeSite) as url:
        yield url


def test_ingest_fetches_url_sources_by_media_type_or_suffix(
    pg_url: str, tmp_path: Path, site: str
) -> None:
    urls = [f"{site}/guide.md", f"{site}/page", f"{site}/manual"]
    assert "3 created" in _invoke(pg_url, tmp_path, "ingest", *urls)
    assert _external_ids(pg_url) == set(urls)
    assert "3 unchanged" in _invoke(pg_url, tmp_path, "ingest", *urls)


@pytest.mark.parametrize(
    ("path", "message"), [("/blob", "application/octet-stream"), ("/gone", "404")]
)
def test_ingest_reports_a_bad_url_clearly_and_writes_nothing(
    pg_url: str, tmp_path: Path, site: str, path: str, message: str
) -> None:
    env = {"DATABASE_URL": pg_url, "RAGAGENT_DATA_DIR": str(tmp_path / "data"), **ALLOW_LOOPBACK}
    result = CliRunner().invoke(app, ["ingest", f"{site}{path}"], env=env)
    assert result.exit_code == 1
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert _external_ids(pg_url) == set()


def test_ingest_refuses_a_loopback_url_by_default(pg_url: str, tmp_path: Path, site: str) -> None:
    env = {"DATABASE_URL": pg_url, "RAGAGENT_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(app, ["ingest", f"{site}/guide.md"], env=env)
    assert result.exit_code == 1
    assert "is 127.0.0.1, in a blocked network" in " ".join(result.output.split())
    assert _external_ids(pg_url) == set()

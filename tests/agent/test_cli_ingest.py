"""``ragagent migrate`` / ``ingest`` / ``reindex`` against the real embedded PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from ragagent.cli import app

pytestmark = pytest.mark.db


def _invoke(pg_url: str, tmp_path: Path, *args: str) -> str:
    env = {"DATABASE_URL": pg_url, "RAGAGENT_DATA_DIR": str(tmp_path / "data")}
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

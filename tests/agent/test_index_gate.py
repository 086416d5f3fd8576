"""The eval gate of index generations on the real PostgreSQL and local embedder: both
generations are scored (nDCG@10, recall@k) on an evaluation set or by the self-check, and a
candidate is served only if it passes the thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragagent.cli import app
from ragagent.core import errors
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import generations
from ragagent.rag import index_eval, reindex
from ragagent.rag.types import Embedder
from tests.agent import documents
from tests.agent.gate_embedders import BrokenEmbedder, embedder_for
from tests.agent.index_corpus import CORPUS, SMALL, write_eval_set

pytestmark = pytest.mark.db


async def _serving(db: Database) -> int | None:
    async with db.connection() as conn:
        found = await generations.read_serving(conn)
    return found.id if found else None


async def test_a_broken_candidate_fails_the_self_check_and_stays_unserved(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await documents.ingest(db, embedder, pg_settings, *CORPUS)
    broken = BrokenEmbedder()
    built = await reindex.create_candidate(db=db, embedder=broken, chunking=SMALL, batch_size=8)

    verdict = await index_eval.gate(
        db=db,
        candidate=built.generation,
        embedder_for=embedder_for(embedder, broken),
        eval_set=None,
        limits=index_eval.Thresholds(min_recall=0.8, max_recall_drop=0.1),
    )

    report = json.loads(index_eval.build_report(verdict, k=10))
    assert report["check"] == "self"
    assert report["passed"] is False
    assert report["serving"]["recall_at_k"] >= 0.9
    assert report["candidate"]["recall_at_k"] < 0.8
    assert "below the minimum 0.8" in report["reason"]
    assert await _serving(db) == 1
    async with db.connection() as conn:
        candidate = await generations.get(conn, built.generation)
    assert candidate is not None
    assert candidate.state == "ready"
    assert candidate.scores is not None
    assert candidate.scores["recall_at_k"] == report["candidate"]["recall_at_k"]


async def test_a_candidate_as_good_on_the_eval_set_is_switched_to(
    db: Database, embedder: Embedder, pg_settings: Settings, tmp_path: Path
) -> None:
    await documents.ingest(db, embedder, pg_settings, *CORPUS)
    built = await reindex.create_candidate(db=db, embedder=embedder, chunking=SMALL, batch_size=8)
    queries = index_eval.read_eval_set(write_eval_set(tmp_path / "eval.jsonl"))

    verdict = await index_eval.gate(
        db=db,
        candidate=built.generation,
        embedder_for=embedder_for(embedder),
        eval_set=queries,
        limits=index_eval.Thresholds(min_ndcg=0.8, max_ndcg_drop=0.1),
    )

    line = index_eval.build_report(verdict, k=10)
    report = json.loads(line)
    assert verdict.refusal is None, report
    assert report["check"] == "evalset"
    assert report["candidate"]["queries"] == report["serving"]["queries"] == len(queries)
    assert report["candidate"]["ndcg_at_10"] >= 0.8
    assert len(line.encode()) <= index_eval.MAX_REPORT_BYTES
    assert await _serving(db) == built.generation


def test_an_eval_set_line_without_relevant_ids_is_refused_with_its_line_number(
    tmp_path: Path,
) -> None:
    path = tmp_path / "eval.jsonl"
    path.write_text('{"query": "tea", "relevant": ["tea"]}\n{"query": "x", "relevant": []}\n')
    with pytest.raises(errors.BadRequest, match=r"eval\.jsonl:2"):
        index_eval.read_eval_set(path)


def _invoke(pg_url: str, tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {"DATABASE_URL": pg_url, "RAGAGENT_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout


def test_the_index_commands_build_gate_and_switch_printing_one_json_line(
    pg_url: str, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for doc in CORPUS:
        (docs / f"{doc.external_id}.md").write_text(doc.text)
    eval_set = tmp_path / "eval.jsonl"
    for doc in CORPUS:
        line = {
            "query": doc.text.split(".")[0],
            "relevant": [(docs / f"{doc.external_id}.md").as_posix()],
        }
        with eval_set.open("a") as handle:
            handle.write(json.dumps(line) + "\n")
    assert _invoke(pg_url, tmp_path, "ingest", str(docs))[0] == 0
    code, out = _invoke(pg_url, tmp_path, "index", "build")
    assert code == 0
    built = json.loads(out)
    assert built["generation"] == 2
    assert built["rechunked"] == 0  # same chunking: the serving chunks' texts are re-used

    code, out = _invoke(pg_url, tmp_path, "index", "eval", "--eval-set", str(eval_set))
    assert code == 0
    scores = json.loads(out)
    assert scores["check"] == "evalset"
    assert scores["serving"]["generation"] == 1
    assert scores["candidate"]["ndcg_at_10"] == scores["serving"]["ndcg_at_10"]

    code, out = _invoke(pg_url, tmp_path, "index", "switch", "--min-ndcg", "1.01")
    assert code == 1
    assert "below the minimum 1.01" in json.loads(out)["reason"]
    code, out = _invoke(pg_url, tmp_path, "index", "switch", "--max-ndcg-drop", "0")
    assert code == 0
    assert json.loads(out)["passed"] is True
    code, out = _invoke(pg_url, tmp_path, "index", "list")
    states = [json.loads(line)["state"] for line in out.splitlines()]
    assert states == ["retained", "serving"]

"""``ragagent index rollout`` on the real embedded PostgreSQL and local embedder: it does
nothing when the configured settings serve, switches back to a retained generation without
re-embedding unchanged documents, and otherwise builds a candidate that serves only if it
passes the gate; a gated candidate is an answer (exit 0), and running again re-evaluates it
instead of building another."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ragagent.cli import app
from ragagent.core.config import Settings
from ragagent.core.db import Database
from ragagent.db import documents as doc_sql
from ragagent.db import embedding_index, generations
from ragagent.rag import index_eval, ingest, rollout
from ragagent.rag.types import Embedder
from tests.agent import documents
from tests.agent.gate_embedders import BrokenEmbedder, CountingEmbedder, embedder_for
from tests.agent.index_corpus import CORPUS, SMALL

pytestmark = pytest.mark.db

REPORT_KEYS = {"action", "check", "passed", "reason", "seconds", "serving", "candidate"}
SUMMARY_KEYS = {
    "generation",
    "model",
    "dimension",
    "chunk_size",
    "chunk_overlap",
    "chunks",
    "ndcg_at_10",
    "recall_at_k",
}


def _plan(embedder: Embedder, chunking: embedding_index.Chunking, **gate: Any) -> rollout.Plan:
    return rollout.Plan(
        embedder=embedder,
        embedder_for=gate.pop("embedder_for", embedder_for(embedder)),
        chunking=chunking,
        batch_size=8,
        eval_set=None,
        limits=index_eval.Thresholds(**gate),
    )


async def _states(db: Database) -> dict[int, str]:
    async with db.connection() as conn:
        return {g.id: g.state for g in await generations.list_all(conn)}


async def _chunk_texts(db: Database, generation: int, external_id: str) -> list[str]:
    async with db.connection() as conn:
        found = await doc_sql.get_document(conn, external_id)
        assert found is not None
        held = await generations.read_texts(conn, generation, [found.id])
    return held[found.id][1]


async def test_a_revert_re_embeds_only_the_documents_changed_since_it_served(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await documents.ingest(db, embedder, pg_settings, *CORPUS)
    configured = ingest.build_chunking(pg_settings)
    switched = await rollout.rollout(db, _plan(embedder, SMALL))
    assert (switched.action, await _states(db)) == ("switched", {1: "retained", 2: "serving"})
    tea = CORPUS[0].text.replace("80 degrees", "75 degrees")
    await documents.ingest(db, embedder, pg_settings, documents.markdown(tea, "tea"))
    counting = CountingEmbedder.around(embedder)

    reverted = await rollout.rollout(db, _plan(counting, configured))

    assert reverted.action == "reverted"
    assert reverted.verdict is None
    assert reverted.serving is not None
    assert reverted.serving.id == 1
    assert await _states(db) == {1: "serving", 2: "retained"}
    changed = await _chunk_texts(db, 1, "tea")
    assert any("75 degrees" in text for text in changed)
    # Only the changed document was embedded again, not the seven others.
    assert counting.texts == len(changed)


async def test_a_broken_model_is_gated_and_re_evaluated_not_rebuilt_when_run_again(
    db: Database, embedder: Embedder, pg_settings: Settings
) -> None:
    await documents.ingest(db, embedder, pg_settings, *CORPUS)
    broken = BrokenEmbedder()
    plan = _plan(broken, SMALL, min_recall=0.8, embedder_for=embedder_for(embedder, broken))

    gated = await rollout.rollout(db, plan)
    again = await rollout.rollout(db, plan)

    assert (gated.action, again.action) == ("gated", "gated")
    assert await _states(db) == {1: "serving", 2: "ready"}
    report = json.loads(rollout.build_report(again, seconds=1.0))
    assert report["check"] == "selfcheck"
    assert report["passed"] is False
    assert "below the minimum 0.8" in report["reason"]
    assert report["serving"]["generation"] == 1
    assert report["serving"]["recall_at_k"] >= 0.9
    assert report["candidate"]["generation"] == 2
    assert report["candidate"]["model"] == "broken-model"
    assert report["candidate"]["recall_at_k"] < 0.8


async def test_an_unclaimed_database_is_claimed_for_the_configured_settings(
    db: Database, embedder: Embedder
) -> None:
    done = await rollout.rollout(db, _plan(embedder, SMALL))

    report = json.loads(rollout.build_report(done, seconds=0.0))
    assert (report["action"], report["candidate"]) == ("noop", None)
    assert report["serving"]["generation"] == 1
    assert (report["serving"]["chunk_size"], report["serving"]["chunks"]) == (SMALL.size, 0)


def test_a_long_refusal_is_cut_to_fit_the_termination_message() -> None:
    score = index_eval.Score(2, "m" * 200, 384, 10, 0.1, 0.1, 5)
    verdict = index_eval.Verdict("evalset", score, None, "why " * 2000)
    outcome = rollout.Outcome("gated", None, None, verdict)

    line = rollout.build_report(outcome, seconds=3.0)

    assert len(line.encode()) <= rollout.MAX_REPORT_BYTES
    assert json.loads(line)["reason"] == ("why " * 2000)[: rollout.REASON_CUT]


def _write_docs_and_eval_set(tmp_path: Path) -> Path:
    """The corpus as files (their paths are the external ids) and an eval set naming them."""
    docs = tmp_path / "docs"
    docs.mkdir()
    lines = []
    for doc in CORPUS:
        path = docs / f"{doc.external_id}.md"
        path.write_text(doc.text)
        lines.append(json.dumps({"query": doc.text.split(".")[0], "relevant": [path.as_posix()]}))
    (tmp_path / "eval.jsonl").write_text("\n".join(lines) + "\n")
    return docs


class _Cli:
    """The real ``ragagent`` app on the test database, leaving its termination message."""

    def __init__(self, pg_url: str, tmp_path: Path) -> None:
        self.message = tmp_path / "termination-log"
        self.env = {
            "DATABASE_URL": pg_url,
            "RAGAGENT_DATA_DIR": str(tmp_path / "data"),
            "RAGAGENT_TERMINATION_MESSAGE_PATH": str(self.message),
        }

    def run(self, *args: str, **env: str) -> dict[str, Any]:
        """Run a command that must exit 0 and print one JSON line; that line, parsed."""
        result = CliRunner().invoke(app, list(args), env={**self.env, **env})
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    def rollout(self, *args: str, **env: str) -> dict[str, Any]:
        report = self.run("index", "rollout", *args, **env)
        assert set(report) == REPORT_KEYS
        for summary in (report["serving"], report["candidate"]):
            assert summary is None or set(summary) == SUMMARY_KEYS
        written = self.message.read_text(encoding="utf-8")
        assert json.loads(written) == report
        assert len(written.encode()) <= rollout.MAX_REPORT_BYTES
        return report


def test_the_rollout_command_gates_switches_reverts_and_does_nothing_when_served(
    pg_url: str, tmp_path: Path
) -> None:
    cli = _Cli(pg_url, tmp_path)
    docs = _write_docs_and_eval_set(tmp_path)
    eval_set = str(tmp_path / "eval.jsonl")
    small = {"RAGAGENT_CHUNK_SIZE": str(SMALL.size), "RAGAGENT_CHUNK_OVERLAP": str(SMALL.overlap)}
    assert CliRunner().invoke(app, ["ingest", str(docs)], env=cli.env).exit_code == 0

    noop = cli.rollout()
    gated = cli.rollout("--eval-set", eval_set, "--min-ndcg", "1.01", **small)
    switched = cli.rollout("--eval-set", eval_set, "--max-ndcg-drop", "0.5", **small)
    reverted = cli.rollout("--keep", "0")

    assert (noop["action"], noop["check"], noop["candidate"]) == ("noop", None, None)
    assert noop["serving"]["generation"] == 1
    assert (gated["action"], gated["check"], gated["passed"]) == ("gated", "evalset", False)
    assert "below the minimum 1.01" in gated["reason"]
    assert (gated["serving"]["generation"], gated["candidate"]["generation"]) == (1, 2)
    assert gated["serving"]["ndcg_at_10"] is not None
    assert gated["candidate"]["ndcg_at_10"] < 1.01
    # The gated candidate was evaluated again with the new threshold, not built again.
    assert (switched["action"], switched["passed"], switched["reason"]) == ("switched", True, None)
    assert switched["serving"] == switched["candidate"]
    assert (switched["serving"]["generation"], switched["serving"]["chunk_size"]) == (2, 100)
    assert (reverted["action"], reverted["check"], reverted["candidate"]) == (
        "reverted",
        None,
        None,
    )
    assert reverted["serving"]["generation"] == 1
    listed = CliRunner().invoke(app, ["index", "list"], env=cli.env).stdout.splitlines()
    assert [json.loads(line)["state"] for line in listed] == ["serving"]

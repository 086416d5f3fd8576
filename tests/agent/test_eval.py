"""``make eval``: the BEIR metrics (pure) and a run on the bundled beir-mini dataset."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench import eval as beir
from bench import eval_scores as scores
from bench import synthetic
from ragagent.rag.types import RetrievedChunk
from tests.support.fixtures_pg import build_test_settings

DATASET = Path(__file__).parents[1] / "data" / "beir-mini"


def test_ndcg_is_one_for_the_ideal_ranking_and_lower_otherwise() -> None:
    relevant = {"a": 2, "b": 1}
    assert scores.build_ndcg(["a", "b", "x"], relevant, 10) == pytest.approx(1.0)
    swapped = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert scores.build_ndcg(["b", "a"], relevant, 10) == pytest.approx(swapped)
    assert scores.build_ndcg(["x", "y"], relevant, 10) == 0.0


def test_ndcg_only_counts_the_first_k() -> None:
    assert scores.build_ndcg(["x", "a"], {"a": 1}, 1) == 0.0


def test_recall_counts_relevant_documents_found_in_the_first_k() -> None:
    relevant = {"a": 1, "b": 1, "c": 0}
    assert scores.build_recall(["a", "x", "b"], relevant, 2) == pytest.approx(0.5)
    assert scores.build_recall(["a", "x", "b"], relevant, 3) == pytest.approx(1.0)


def test_chunks_map_to_documents_by_first_occurrence() -> None:
    chunks = [{"external_id": "d2"}, {"external_id": "d1"}, {"external_id": "d2"}]
    assert scores.build_documents_ranking(chunks) == ["d2", "d1"]


def test_qrels_skip_the_header() -> None:
    qrels = beir.read_qrels(DATASET / "qrels" / "test.tsv")
    assert qrels["q1"] == {"d1": 2, "d2": 1}
    assert "query-id" not in qrels


def _chunk(chunk_id: int, external_id: str, similarity: float) -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=chunk_id,
        document_id=chunk_id,
        external_id=external_id,
        title="",
        text="",
        score=0.0,
        similarity=similarity,
        ordinal=0,
    )


def test_fused_chunks_weight_the_text_leg_and_cut_candidates() -> None:
    run = scores.Run(
        "q",
        vector=[_chunk(1, "a", 0.9), _chunk(2, "b", 0.8)],
        text=[_chunk(3, "c", 0.1), _chunk(2, "b", 0.8)],
    )
    equal = scores.build_fused_chunks(run, scores.Fusion(rrf_k=1, text_weight=1.0), 3)
    assert [c.chunk_id for c in equal] == [2, 1, 3]
    # At a quarter weight, b's second text place no longer beats a's first vector place.
    light = scores.build_fused_chunks(run, scores.Fusion(rrf_k=1, text_weight=0.25), 3)
    assert [c.chunk_id for c in light] == [1, 2, 3]
    first_only = scores.build_fused_chunks(run, scores.Fusion(1, 1.0, candidates=1), 3)
    assert [c.chunk_id for c in first_only] == [1, 3]


def test_declines_count_unanswerable_and_wrongly_declined_queries() -> None:
    runs = [
        scores.Run("answerable-high", [_chunk(1, "a", 0.7)], []),
        scores.Run("answerable-low", [_chunk(2, "b", 0.2)], []),
        scores.Run("unanswerable-low", [_chunk(3, "c", 0.1)], []),
        scores.Run("unanswerable-high", [_chunk(4, "d", 0.6)], []),
        scores.Run("unanswerable-none", [], []),
    ]
    qrels = {"answerable-high": {"a": 1}, "answerable-low": {"b": 1}}
    unanswerable = {"unanswerable-low", "unanswerable-high", "unanswerable-none"}
    got = scores.build_declines(
        runs, qrels, unanswerable, scores.Fusion(60), threshold=0.5, top_k=5
    )
    assert got == scores.Declines(0.5, declined=2, unanswerable=3, wrongly_declined=1, answerable=2)


def test_the_generated_set_is_deterministic_and_judged(tmp_path: Path) -> None:
    first = synthetic.build_dataset(tmp_path / "one")
    second = synthetic.build_dataset(tmp_path / "two")
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    corpus = {d["_id"]: d["text"] for d in beir.read_jsonl(first / "corpus.jsonl")}
    queries = list(beir.read_jsonl(first / "queries.jsonl"))
    qrels = beir.read_qrels(first / "qrels" / "test.tsv")
    assert len(corpus) == 600
    assert len(qrels) == 800
    assert set(beir.read_unanswerable(first)) == {
        q["_id"] for q in queries if q["_id"] not in qrels
    }
    assert all(doc in corpus for judged in qrels.values() for doc in judged)


def test_generated_questions_are_questions_not_copies_of_the_text(tmp_path: Path) -> None:
    dataset = synthetic.build_dataset(tmp_path)
    corpus = {d["_id"]: d["text"].lower() for d in beir.read_jsonl(dataset / "corpus.jsonl")}
    qrels = beir.read_qrels(dataset / "qrels" / "test.tsv")
    for query in beir.read_jsonl(dataset / "queries.jsonl"):
        text = str(query["text"])
        assert text.endswith("?")
        for doc in qrels.get(str(query["_id"]), {}):
            assert text.lower().rstrip("?") not in corpus[doc]


@pytest.mark.db
async def test_eval_on_beir_mini_scores_each_leg_and_the_fusion(
    pg_url: str, tmp_path: Path
) -> None:
    settings = build_test_settings(pg_url, tmp_path)
    result = await beir.run_eval(DATASET, settings)
    assert result.documents == 12
    assert result.queries == 6  # q7 has no judgements
    by_leg = result.scores(beir.build_fusion(settings))
    assert set(by_leg) == {"vector", "text", "fused"}
    assert by_leg["fused"].recall_at_100 == pytest.approx(1.0)
    assert by_leg["fused"].ndcg_at_10 > 0.8
    assert by_leg["vector"].ndcg_at_10 > 0.8
    # Every judged query shares a word with a relevant document, so BM25 finds something.
    assert by_leg["text"].recall_at_100 > 0.5
    report = beir.build_report("beir-mini", result, settings)
    assert report[1].startswith("  vector  nDCG@10 ")

"""``make eval``: the BEIR metrics (pure) and a run on the bundled beir-mini dataset."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench import eval as beir
from tests.support.fixtures_pg import build_test_settings

DATASET = Path(__file__).parents[1] / "data" / "beir-mini"


def test_ndcg_is_one_for_the_ideal_ranking_and_lower_otherwise() -> None:
    relevant = {"a": 2, "b": 1}
    assert beir.build_ndcg(["a", "b", "x"], relevant, 10) == pytest.approx(1.0)
    swapped = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert beir.build_ndcg(["b", "a"], relevant, 10) == pytest.approx(swapped)
    assert beir.build_ndcg(["x", "y"], relevant, 10) == 0.0


def test_ndcg_only_counts_the_first_k() -> None:
    assert beir.build_ndcg(["x", "a"], {"a": 1}, 1) == 0.0


def test_recall_counts_relevant_documents_found_in_the_first_k() -> None:
    relevant = {"a": 1, "b": 1, "c": 0}
    assert beir.build_recall(["a", "x", "b"], relevant, 2) == pytest.approx(0.5)
    assert beir.build_recall(["a", "x", "b"], relevant, 3) == pytest.approx(1.0)


def test_chunks_map_to_documents_by_first_occurrence() -> None:
    chunks = [{"external_id": "d2"}, {"external_id": "d1"}, {"external_id": "d2"}]
    assert beir.build_documents_ranking(chunks) == ["d2", "d1"]


def test_qrels_skip_the_header() -> None:
    qrels = beir.read_qrels(DATASET / "qrels" / "test.tsv")
    assert qrels["q1"] == {"d1": 2, "d2": 1}
    assert "query-id" not in qrels


@pytest.mark.db
async def test_eval_on_beir_mini_through_the_retrieve_route(pg_url: str, tmp_path: Path) -> None:
    result = await beir.run_eval(DATASET, build_test_settings(pg_url, tmp_path))
    assert result.documents == 12
    assert result.queries == 6  # q7 has no judgements
    assert result.recall_at_100 == pytest.approx(1.0)
    assert result.ndcg_at_10 > 0.8

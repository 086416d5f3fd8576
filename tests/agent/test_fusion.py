"""Reciprocal rank fusion and the configured ranking (pure)."""

from __future__ import annotations

import pytest

from ragagent.core.config import Settings
from ragagent.rag.retrieval import build_fused, build_ranking


def test_an_item_in_both_lists_beats_items_in_one() -> None:
    fused = build_fused([[1, 2, 3], [3, 4, 5]], k=60, limit=5)
    assert fused[0][0] == 3
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)


def test_scores_follow_the_rrf_formula() -> None:
    fused = dict(build_fused([[10, 20]], k=1, limit=10))
    assert fused == {10: pytest.approx(1 / 2), 20: pytest.approx(1 / 3)}


def test_limit_truncates_and_order_is_by_score() -> None:
    fused = build_fused([[1, 2, 3, 4], [4, 3]], k=60, limit=2)
    assert [item for item, _ in fused] == [4, 3]
    assert fused[0][1] >= fused[1][1]


def test_ties_break_by_best_rank_then_id() -> None:
    # 7 is first in one list and 8 first in the other: equal scores, lower id wins.
    assert [i for i, _ in build_fused([[7], [8]], k=60, limit=2)] == [7, 8]
    # 9 and 1 tie at rank 1, 5 and 2 tie at rank 2: within each tie the lower id comes first.
    assert [i for i, _ in build_fused([[9, 5], [1, 2]], k=60, limit=4)] == [1, 9, 2, 5]


def test_empty_rankings_fuse_to_nothing() -> None:
    assert build_fused([[], []], k=60, limit=5) == []


def test_the_ranking_takes_each_knob_from_its_own_setting() -> None:
    # Three distinct values: a knob read from the wrong setting cannot pass unnoticed.
    settings = Settings(retrieval_top_k=3, retrieval_candidates=17, rrf_k=90)
    assert build_ranking(settings) == {"top_k": 3, "candidates": 17, "rrf_k": 90}

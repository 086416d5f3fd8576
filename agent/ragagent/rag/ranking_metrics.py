"""BEIR's ranking metrics over ranked ids and graded relevance; pure functions.

``make eval`` (bench/eval_scores.py) and the index-generation gate
(ragagent.rag.index_eval) score with these same two.
"""

from __future__ import annotations

import math


def build_ndcg(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """nDCG@k with linear gains; 0 when the query has no relevant document."""
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def build_recall(ranked: list[str], relevant: dict[str, int], k: int) -> float:
    """Share of the relevant documents found in the first k; 0 when none is relevant."""
    wanted = {doc for doc, gain in relevant.items() if gain > 0}
    return len(wanted.intersection(ranked[:k])) / len(wanted) if wanted else 0.0

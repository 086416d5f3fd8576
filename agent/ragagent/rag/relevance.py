"""When to say "I don't know": is anything retrieved relevant enough to answer from?

The signal is the best cosine similarity between the query and the retrieved
chunks (MiniLM vectors, so about 0 for unrelated text and 1 for the same
meaning). Fusion scores cannot serve: RRF ranks, it does not measure, and every
query gets a first-ranked chunk. The full-text score is left out on purpose:
a shared rare word (a name) would make an unrelated chunk look relevant.
The threshold is the ``answer_min_similarity`` setting, calibrated with
``make eval --sweep`` on the generated set (bench/synthetic.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from ragagent.rag.types import RetrievedChunk

# What the answer says instead; the response carries ``declined`` too.
DECLINE_ANSWER = (
    "I don't know: nothing in the knowledge base is relevant enough to answer that question."
)


def is_relevant(chunks: Sequence[RetrievedChunk], threshold: float) -> bool:
    """True when some chunk's similarity reaches ``threshold``.

    A chunk without a similarity (not computed) counts as relevant, so a missing
    figure never silences an answer; no chunks at all is never relevant, unless the
    threshold is 0, which never declines.
    """
    if threshold <= 0:
        return True
    return any(c.similarity is None or c.similarity >= threshold for c in chunks)

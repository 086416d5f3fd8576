"""Embedders of the eval-gate and rollout tests: a broken model, one that counts what it
embeds, and the gate's finder for the models a test runs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ragagent.core.models import Vector
from ragagent.db import embedding_index
from ragagent.rag import index_eval
from ragagent.rag.types import Embedder


class BrokenEmbedder:
    """A model whose every vector is the same: what a broken candidate model looks like."""

    model_name = "broken-model"
    dimension = 384

    def embed(self, texts: Sequence[str]) -> Vector:
        vectors = np.ones((len(texts), self.dimension), dtype=np.float32)
        unit: Vector = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        return unit


@dataclass
class CountingEmbedder:
    """The real embedder, counting the texts it embeds (what a re-embedding costs)."""

    inner: Embedder
    model_name: str
    dimension: int
    texts: int = 0

    @classmethod
    def around(cls, inner: Embedder) -> CountingEmbedder:
        return cls(inner, inner.model_name, inner.dimension)

    def embed(self, texts: Sequence[str]) -> Vector:
        self.texts += len(texts)
        return self.inner.embed(texts)


def embedder_for(*known: Embedder) -> index_eval.EmbedderFor:
    """The gate's embedder finder that runs exactly the ``known`` models."""
    by_model = {embedding_index.IndexModel(e.model_name, e.dimension): e for e in known}
    return by_model.get

"""Embedding providers: the offline local MiniLM and any OpenAI-compatible embeddings API.

``create_embedder(settings)`` picks one. The local model is loaded lazily, once per
process and model directory, and shared by every app built in that process (tests
build many). Both providers return L2-normalised float32 vectors of shape
``(len(texts), dimension)``; an empty input gives an empty ``(0, dimension)`` array.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openai

from ragagent.core import config, errors, models, telemetry
from ragagent.core.config import ConfigError, Settings
from ragagent.rag import minilm, model_files
from ragagent.rag.types import Embedder

logger = logging.getLogger(__name__)

LOCAL_MODEL_NAME = config.LOCAL_EMBEDDING_MODEL
LOCAL_DIMENSION = config.LOCAL_EMBEDDING_DIMENSION
# Only these OpenAI models accept the `dimensions` request field.
_SHORTENABLE_PREFIX = "text-embedding-3"


class LocalMiniLMEmbedder:
    """all-MiniLM-L6-v2 on CPU; the first ``embed`` (or ``load``) reads the weights."""

    def __init__(self, *, model_dir: Path | None = None, batch_size: int = 32) -> None:
        self._model_dir = model_dir
        self._batch_size = batch_size
        self._model: minilm.MiniLM | None = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return LOCAL_MODEL_NAME

    @property
    def dimension(self) -> int:
        return LOCAL_DIMENSION

    def load(self) -> minilm.MiniLM:
        """Load once; concurrent first callers wait for the one load in progress.

        Raises ModelFilesError when the files are missing or not the pinned weights.
        """
        if self._model is None:
            with self._lock:
                if self._model is None:
                    directory = model_files.ensure_model_dir(self._model_dir)
                    self._model = minilm.MiniLM(directory)
                    logger.info("loaded local embedding model from %s", directory)
        return self._model

    def embed(self, texts: Sequence[str]) -> models.Vector:
        if not texts:
            return np.empty((0, LOCAL_DIMENSION), dtype=np.float32)
        with telemetry.span(
            "embed", **{"embedding.model": LOCAL_MODEL_NAME, "embedding.texts": len(texts)}
        ):
            return self.load().encode(texts, batch_size=self._batch_size)


@dataclass(frozen=True, kw_only=True)
class OpenAIEmbedder:
    """The embeddings endpoint of the OpenAI API or any server speaking its protocol.

    Timeouts and retries (with backoff on 429/5xx) are the SDK's own. A provider
    failure after those retries becomes ``ServiceUnavailable`` (503), with no detail
    from the provider that could carry internals or secrets.
    """

    client: openai.OpenAI
    model_name: str
    dimension: int
    batch_size: int = 32

    def embed(self, texts: Sequence[str]) -> models.Vector:
        with telemetry.span(
            "embed", **{"embedding.model": self.model_name, "embedding.texts": len(texts)}
        ):
            return self._embed_all(texts)

    def _embed_all(self, texts: Sequence[str]) -> models.Vector:
        batches = [
            self._embed_batch(texts[start : start + self.batch_size])
            for start in range(0, len(texts), self.batch_size)
        ]
        if not batches:
            return np.empty((0, self.dimension), dtype=np.float32)
        return _normalise(np.concatenate(batches))

    def _embed_batch(self, texts: Sequence[str]) -> models.Vector:
        try:
            response = self.client.embeddings.create(
                model=self.model_name,
                input=list(texts),
                encoding_format="float",
                dimensions=self.dimension if self._shortenable else openai.omit,
            )
        except openai.OpenAIError as exc:
            logger.warning("embedding provider failed: %s", type(exc).__name__)
            raise errors.ServiceUnavailable("Embedding provider unavailable") from exc
        rows = sorted(response.data, key=lambda item: item.index)
        vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        if vectors.shape != (len(texts), self.dimension):
            logger.warning("embedding provider returned shape %s", vectors.shape)
            raise errors.ServiceUnavailable("Embedding provider returned unexpected vectors")
        return vectors

    @property
    def _shortenable(self) -> bool:
        return self.model_name.startswith(_SHORTENABLE_PREFIX)


def _normalise(vectors: models.Vector) -> models.Vector:
    # OpenAI's vectors are unit length already; other compatible servers' may not be.
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: models.Vector = (vectors / np.maximum(norms, np.float32(1e-12))).astype(np.float32)
    return normalised


def create_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for; raises ConfigError on an impossible combination.

    The local model answers to its short name and its hub id alike, and records the
    short name with the index either way.
    """
    if settings.embedding_provider == "openai":
        return create_openai_embedder(settings)
    known = settings.embedding_model in config.LOCAL_EMBEDDING_MODEL_NAMES
    if not known or settings.embedding_dimension != LOCAL_DIMENSION:
        raise ConfigError(
            f"the local embedding provider runs {LOCAL_MODEL_NAME} ({LOCAL_DIMENSION}-d); "
            "set RAGAGENT_EMBEDDING_MODEL to "
            + " or ".join(config.LOCAL_EMBEDDING_MODEL_NAMES)
            + f" and RAGAGENT_EMBEDDING_DIMENSION to {LOCAL_DIMENSION}, "
            "or use RAGAGENT_EMBEDDING_PROVIDER=openai"
        )
    return shared_local_embedder(settings.model_dir, settings.embedding_batch_size)


@functools.lru_cache(maxsize=4)
def shared_local_embedder(model_dir: Path | None, batch_size: int) -> LocalMiniLMEmbedder:
    """One local embedder (and so one loaded model) per directory and batch size."""
    return LocalMiniLMEmbedder(model_dir=model_dir, batch_size=batch_size)


def create_openai_embedder(settings: Settings) -> OpenAIEmbedder:
    if settings.openai_api_key is None and not settings.openai_base_url:
        raise ConfigError(
            "RAGAGENT_EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY or OPENAI_BASE_URL"
        )
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    client = openai.OpenAI(
        # Self-hosted compatible servers often need no key, but the SDK insists on one.
        api_key=key or "unused",
        base_url=settings.openai_base_url or None,
        timeout=settings.llm_timeout_seconds,
        max_retries=settings.llm_max_retries,
    )
    return OpenAIEmbedder(
        client=client,
        model_name=settings.embedding_model,
        dimension=settings.embedding_dimension,
        batch_size=settings.embedding_batch_size,
    )

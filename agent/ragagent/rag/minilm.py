"""all-MiniLM-L6-v2 on CPU with numpy: the BERT forward pass, pooling and normalisation.

torch is not an option here (PyPI ships multi-GB CUDA builds), and the model is small:
six layers of 384 wide. The recipe is the one sentence-transformers uses for this model:
word pieces truncated at 256, padding per batch, mean pooling over the attention mask,
then L2 normalisation. Everything is float32 and batched; texts are sorted by length
before batching so that little compute is spent on padding. The heavy work is a few
large matrix products per layer, which numpy hands to its multi-threaded BLAS.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors import safe_open
from tokenizers import Tokenizer

Array = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

MAX_SEQ_LENGTH = 256  # sentence-transformers' max_seq_length for this model
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
_MASKED = np.float32(-1e9)  # added to attention scores of padding keys


@dataclass(frozen=True)
class BertConfig:
    hidden_size: int
    num_heads: int
    num_layers: int
    layer_norm_eps: float

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("hidden_act") != "gelu":
            raise ValueError(f"unsupported activation {raw.get('hidden_act')!r}")
        return cls(
            hidden_size=int(raw["hidden_size"]),
            num_heads=int(raw["num_attention_heads"]),
            num_layers=int(raw["num_hidden_layers"]),
            layer_norm_eps=float(raw["layer_norm_eps"]),
        )


@dataclass(frozen=True)
class LayerWeights:
    """One encoder layer; dense weights are stored (in, out) so that ``x @ w`` applies them."""

    qkv: Array
    qkv_bias: Array
    attn_out: Array
    attn_out_bias: Array
    attn_norm: tuple[Array, Array]
    ffn_in: Array
    ffn_in_bias: Array
    ffn_out: Array
    ffn_out_bias: Array
    ffn_norm: tuple[Array, Array]


@dataclass(frozen=True)
class BertWeights:
    """The whole model's weights; ``position`` already holds the token-type embedding.

    Every text is one segment (token type 0), so the token-type row is the same vector
    at every position: adding it to the position table once at load time spares
    ``embed`` an addition over the whole ``(batch, length, hidden)`` array per batch.
    """

    word: Array
    position: Array
    embed_norm: tuple[Array, Array]
    layers: tuple[LayerWeights, ...]


def load_weights(path: Path, config: BertConfig) -> BertWeights:
    """Read the safetensors file; query, key and value are fused into one product.

    The word embedding table (30,522 x 384, 45 MiB, half the model) stays a read-only
    memory map of the file: a lookup reads only the rows of the tokens it meets, so a
    process keeps in memory the vocabulary it has seen rather than all of it (bench.soak
    idle-ws counts every MiB of the agent). Every other weight is copied, transformed.
    """
    raw = read_tensors(path, mapped=frozenset({WORD_EMBEDDINGS}))
    return BertWeights(
        word=raw[WORD_EMBEDDINGS],
        position=raw["embeddings.position_embeddings.weight"]
        + raw["embeddings.token_type_embeddings.weight"][0],
        embed_norm=_norm(raw, "embeddings.LayerNorm"),
        layers=tuple(
            _layer(raw, f"encoder.layer.{i}.", config.num_heads) for i in range(config.num_layers)
        ),
    )


def read_tensors(path: Path, *, mapped: frozenset[str] = frozenset()) -> dict[str, Array]:
    """The float32 tensors of a safetensors file: those named in ``mapped`` as read-only
    memory maps of the file, the others read into memory by the safetensors library (a map
    of them all would keep every page read at load counted against the process). Tensors of
    other dtypes are buffers, not weights (``position_ids``), and are left out."""
    tensors: dict[str, Array] = {}
    with safe_open(str(path), framework="numpy") as weights:
        for name in weights.keys():  # noqa: SIM118 - safe_open is not a mapping
            if name in mapped:
                continue
            value = weights.get_tensor(name)
            if value.dtype == np.float32:
                tensors[name] = value
    return {**tensors, **map_tensors(path, mapped)}


def map_tensors(path: Path, names: frozenset[str]) -> dict[str, Array]:
    """Read-only memory maps of the float32 tensors ``names``. The library reads tensors into
    memory only, so their places come from the file's own header (8 bytes of length, then
    JSON); offsets that do not fit the file or the shape are a ValueError."""
    with path.open("rb") as handle:
        header_size = int.from_bytes(handle.read(8), "little")
        header: dict[str, Any] = json.loads(handle.read(header_size))
    data_start, data_size = 8 + header_size, path.stat().st_size - 8 - header_size
    maps: dict[str, Array] = {}
    for name in names:
        entry = header[name]
        begin, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        if entry["dtype"] != "F32" or not 0 <= begin <= end <= data_size:
            raise ValueError(f"{path}: tensor {name} is not float32 inside the file")
        if end - begin != 4 * math.prod(shape):
            raise ValueError(f"{path}: tensor {name} has {end - begin} bytes for shape {shape}")
        maps[name] = np.memmap(path, dtype="<f4", mode="r", offset=data_start + begin, shape=shape)
    return maps


def _layer(raw: dict[str, Array], prefix: str, num_heads: int) -> LayerWeights:
    attn = prefix + "attention."
    parts = [attn + f"self.{name}" for name in ("query", "key", "value")]
    # Folding attention's 1/sqrt(head size) into the query projection saves a pass per layer.
    scale = np.float32(1.0 / math.sqrt(raw[parts[0] + ".weight"].shape[0] // num_heads))
    scaled = list(zip(parts, (scale, np.float32(1.0), np.float32(1.0)), strict=True))
    return LayerWeights(
        qkv=_dense(np.concatenate([raw[p + ".weight"] * s for p, s in scaled])),
        qkv_bias=np.concatenate([raw[p + ".bias"] * s for p, s in scaled]),
        attn_out=_dense(raw[attn + "output.dense.weight"]),
        attn_out_bias=raw[attn + "output.dense.bias"],
        attn_norm=_norm(raw, attn + "output.LayerNorm"),
        ffn_in=_dense(raw[prefix + "intermediate.dense.weight"]),
        ffn_in_bias=raw[prefix + "intermediate.dense.bias"],
        ffn_out=_dense(raw[prefix + "output.dense.weight"]),
        ffn_out_bias=raw[prefix + "output.dense.bias"],
        ffn_norm=_norm(raw, prefix + "output.LayerNorm"),
    )


def _dense(torch_weight: Array) -> Array:
    # torch stores Linear weights (out, in); a contiguous (in, out) copy feeds BLAS directly.
    return np.ascontiguousarray(torch_weight.T)


def _norm(raw: dict[str, Array], prefix: str) -> tuple[Array, Array]:
    return raw[prefix + ".weight"], raw[prefix + ".bias"]


def forward(weights: BertWeights, config: BertConfig, ids: IntArray, mask: Array) -> Array:
    """Hidden states ``(batch * length, hidden)`` for token ids ``(batch, length)``."""
    batch, length = ids.shape
    x = embed(weights, ids, config.layer_norm_eps)
    mask_bias = ((1.0 - mask) * _MASKED).reshape(batch, 1, 1, length)
    for layer in weights.layers:
        attended = self_attention(x, layer, mask_bias, config.num_heads)
        x = layer_norm(attended + x, layer.attn_norm, config.layer_norm_eps)
        x = layer_norm(feed_forward(x, layer) + x, layer.ffn_norm, config.layer_norm_eps)
    return x


def embed(weights: BertWeights, ids: IntArray, eps: float) -> Array:
    """Word + position (token type folded in) embeddings, as ``(batch * length, hidden)``."""
    length = ids.shape[1]
    x = weights.word[ids] + weights.position[:length]
    return layer_norm(x.reshape(-1, x.shape[-1]), weights.embed_norm, eps)


def layer_norm(x: Array, params: tuple[Array, Array], eps: float) -> Array:
    gamma, beta = params
    centred = x - x.mean(axis=-1, keepdims=True)
    variance = np.square(centred).mean(axis=-1, keepdims=True)
    normalised: Array = centred / np.sqrt(variance + np.float32(eps)) * gamma + beta
    return normalised


def self_attention(x: Array, layer: LayerWeights, mask_bias: Array, heads: int) -> Array:
    """Multi-head self-attention over ``x`` (batch * length, hidden), output projected."""
    batch, _, _, length = mask_bias.shape
    hidden = x.shape[-1]
    qkv = (x @ layer.qkv + layer.qkv_bias).reshape(batch, length, 3, heads, hidden // heads)
    # Contiguous per-head operands: numpy's stacked matmul only reaches BLAS with them, and
    # is about 20x slower on a transposed view. The query is already scaled (_layer).
    q = np.ascontiguousarray(qkv[:, :, 0].transpose(0, 2, 1, 3))  # (batch, heads, len, d)
    k_t = np.ascontiguousarray(qkv[:, :, 1].transpose(0, 2, 3, 1))  # (batch, heads, d, len)
    v = np.ascontiguousarray(qkv[:, :, 2].transpose(0, 2, 1, 3))
    scores = q @ k_t
    scores += mask_bias  # in place: the scores are the largest array of a layer
    probabilities = softmax(scores)
    context = (probabilities @ v).transpose(0, 2, 1, 3).reshape(batch * length, hidden)
    out: Array = context @ layer.attn_out + layer.attn_out_bias
    return out


def softmax(scores: Array) -> Array:
    """Softmax over the last axis, in place on ``scores``."""
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return scores


def feed_forward(x: Array, layer: LayerWeights) -> Array:
    inner = gelu(x @ layer.ffn_in + layer.ffn_in_bias)
    out: Array = inner @ layer.ffn_out + layer.ffn_out_bias
    return out


def gelu(x: Array) -> Array:
    """Exact (erf-based) GELU, BERT's ``gelu``, computed in place on a 2-D ``x``.

    It runs over blocks of rows so that each block's temporaries stay in the CPU cache;
    over the whole (tokens, 1536) array the elementwise passes are memory-bound.
    """
    for start in range(0, x.shape[0], _GELU_ROWS):
        _gelu_block(x[start : start + _GELU_ROWS])
    return x


_GELU_ROWS = 64
# Abramowitz & Stegun 7.1.26 for erfc, |error| < 1.5e-7: below float32 resolution near 1.
# numpy has no erf of its own, and this keeps scipy out of the dependencies. The
# constants are pre-scaled for the normal tail 0.5 * erfc(a / sqrt(2)).
_TAIL_P = np.float32(0.3275911 / math.sqrt(2.0))
_AS_7_1_26 = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
_TAIL_A = tuple(np.float32(0.5 * a) for a in _AS_7_1_26)


def _gelu_block(x: Array) -> None:
    # x * Phi(x) == max(x, 0) - |x| * tail(|x|), tail(a) = P(Z > a), for either sign of x.
    magnitude = np.abs(x)
    tail = normal_tail(magnitude)
    tail *= magnitude
    np.maximum(x, np.float32(0.0), out=x)
    x -= tail


def normal_tail(a: Array) -> Array:
    """P(Z > a) for a standard normal Z and ``a >= 0``: 0.5 * erfc(a / sqrt(2))."""
    t = a * _TAIL_P
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    poly = t * _TAIL_A[0]
    for coefficient in _TAIL_A[1:]:  # Horner's rule, highest power first
        poly += coefficient
        poly *= t
    gauss = np.square(a)
    gauss *= np.float32(-0.5)
    np.exp(gauss, out=gauss)
    poly *= gauss
    return poly


def mean_pool(hidden: Array, mask: Array) -> Array:
    """Average of the token vectors that are not padding: ``(batch, hidden)``."""
    batch, length = mask.shape
    summed = np.einsum("bl,blh->bh", mask, hidden.reshape(batch, length, -1))
    pooled: Array = summed / np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
    return pooled


def l2_normalise(vectors: Array) -> Array:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    normalised: Array = vectors / np.maximum(norms, np.float32(1e-12))
    return normalised


class MiniLM:
    """Tokenizer plus weights, loaded from a verified model directory; thread-safe to use."""

    def __init__(self, model_dir: Path) -> None:
        self.config = BertConfig.from_file(model_dir / "config.json")
        check_pooling(model_dir / "1_Pooling" / "config.json")
        self.weights = load_weights(model_dir / "model.safetensors", self.config)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json pads to a fixed 128; padding happens per batch in pad_batch instead.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)

    @property
    def dimension(self) -> int:
        return self.config.hidden_size

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Array:
        """L2-normalised embeddings ``(len(texts), dimension)`` in the order of ``texts``."""
        token_ids = [encoding.ids for encoding in self.tokenizer.encode_batch(list(texts))]
        out = np.empty((len(token_ids), self.dimension), dtype=np.float32)
        order = np.argsort([len(ids) for ids in token_ids], kind="stable")
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            out[chosen] = self.encode_tokens([token_ids[i] for i in chosen])
        return out

    def encode_tokens(self, token_ids: Sequence[Sequence[int]]) -> Array:
        ids, mask = pad_batch(token_ids)
        hidden = forward(self.weights, self.config, ids, mask)
        return l2_normalise(mean_pool(hidden, mask))


def check_pooling(path: Path) -> None:
    """Refuse a sentence-transformers pooling other than the mean that mean_pool computes."""
    modes = {k: v for k, v in json.loads(path.read_text(encoding="utf-8")).items() if "mode" in k}
    if {k for k, v in modes.items() if v} != {"pooling_mode_mean_tokens"}:
        raise ValueError(f"unsupported pooling configuration {modes}")


def pad_batch(token_ids: Sequence[Sequence[int]]) -> tuple[IntArray, Array]:
    """Right-pad with id 0 ([PAD]) to the longest sequence; mask is 1.0 on real tokens."""
    length = max(len(ids) for ids in token_ids)
    ids = np.zeros((len(token_ids), length), dtype=np.int64)
    mask = np.zeros((len(token_ids), length), dtype=np.float32)
    for row, sequence in enumerate(token_ids):
        ids[row, : len(sequence)] = sequence
        mask[row, : len(sequence)] = 1.0
    return ids, mask

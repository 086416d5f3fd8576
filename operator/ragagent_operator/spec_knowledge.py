"""The RagAgent's knowledge parts: sources, chunking, and the evaluation gating an index change.

``Knowledge`` itself stays in ``spec`` (its refresh schedule shares the cron rule of
``spec_backup``, a module of this layer); these are its parts. The evaluation's
thresholds are passed as they are to ``ragagent index rollout`` (see
docs/index-generations.md), which scores the candidate generation and the serving one.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ragagent_operator import spec_base

# Where the re-index pod finds the evaluation set (the ConfigMap key is mounted as this file).
EVAL_SET_FILE = "queries.jsonl"
# How far a score may fall below the serving generation's by default: the noise of a small
# set (one of 20 queries finding its document a place lower costs nDCG@10 about 0.018).
DEFAULT_DROP = 0.02


class ConfigMapRef(spec_base.ApiModel):
    name: str = Field(
        description="ConfigMap name in the RagAgent's namespace, labelled ragagent.dev/use=true "
        "(any other is not ingested: Reconciled=False/ReferenceNotAllowed).",
        max_length=253,
    )


class KnowledgeSource(spec_base.ApiModel):
    __cel__: ClassVar[spec_base.Cel] = [
        (
            "has(self.configMap) != has(self.url)",
            "each knowledge source needs exactly one of configMap or url",
        ),
        ("!has(self.url) || self.url.startsWith('https://')", "knowledge URLs must use https://"),
    ]
    config_map: ConfigMapRef | None = Field(
        None,
        description="Each key of this ConfigMap is one document: .md, .markdown, .txt, .text, "
        ".html and .htm keys under data, .pdf and .docx keys under binaryData; a .jsonl key "
        "holds one document per line.",
    )
    url: str | None = Field(None, description="An https URL fetched and ingested.", max_length=2048)


class Chunking(spec_base.ApiModel):
    __cel__: ClassVar[spec_base.Cel] = [
        ("self.overlap < self.size", "knowledge.chunking.overlap must be below size")
    ]
    size: int = Field(800, description="Target chunk size in characters.", ge=100, le=20000)
    overlap: int = Field(120, description="Overlap between chunks in characters.", ge=0, le=10000)


class EvaluationSet(spec_base.ApiModel):
    __cel__: ClassVar[spec_base.Cel] = [
        (
            "!has(self.key) || self.key.matches('^[-._a-zA-Z0-9]+$')",
            "knowledge.evaluation.configMap.key must be a ConfigMap key (letters, digits, -._)",
        )
    ]
    name: str = Field(
        description="ConfigMap in the RagAgent's namespace holding the evaluation set. Only the "
        "re-index pod mounts it (read-only); a missing ConfigMap or key fails the re-index "
        "(Reindexed=False/ReindexFailed) and the serving index stays.",
        max_length=253,
    )
    key: str = Field(
        EVAL_SET_FILE,
        description="Its key: JSON Lines, one query a line, "
        '{"query": "...", "relevant": ["<external id>", ...]} (external ids as ingestion '
        "names documents, e.g. configmap/<name>/<key>); relevant may also map ids to gains.",
        max_length=253,
    )


class Evaluation(spec_base.ApiModel):
    """The gate a new index generation must pass before it serves."""

    config_map: EvaluationSet | None = Field(
        None,
        description="The evaluation set. Unset: a self-check (each of 50 sampled chunks must "
        "be found by its own text on the vector leg), which catches a broken model but cannot "
        "judge a chunking; status.index.check says which was used.",
    )
    k: int = Field(10, description="The k of recall@k (nDCG is always @10).", ge=1, le=100)
    min_ndcg: float = Field(
        0.0, description="Lowest nDCG@10 the candidate may have to serve.", ge=0.0, le=1.0
    )
    min_recall: float = Field(
        0.0, description="Lowest recall@k the candidate may have to serve.", ge=0.0, le=1.0
    )
    max_ndcg_drop: float = Field(
        DEFAULT_DROP,
        description="How far the candidate's nDCG@10 may fall below the serving generation's: "
        "0 demands at least as good, 1 turns the relative check off; the default allows for "
        "one query ranked a place lower in a set of 20.",
        ge=0.0,
        le=1.0,
    )
    max_recall_drop: float = Field(
        DEFAULT_DROP,
        description="How far the candidate's recall@k may fall below the serving generation's: "
        "0 demands at least as good, 1 turns the relative check off.",
        ge=0.0,
        le=1.0,
    )

"""A small corpus for the index-generation tests: distinct topics, each with a question
that only its document answers, and the evaluation set made of those questions."""

from __future__ import annotations

import json
from pathlib import Path

from ragagent.core.models import DocumentInput
from ragagent.db import embedding_index

# Cuts every document into several chunks (each paragraph is about 60 to 90 characters).
SMALL = embedding_index.Chunking(size=100, overlap=20)

_TOPICS = {
    "tea": [
        "Green tea is steeped at 80 degrees for two minutes.",
        "Boiling water makes green tea bitter and dull.",
        "Black tea takes boiling water and four minutes.",
    ],
    "zebra": [
        "The zebra is an African horse with black and white stripes.",
        "Zebras live in herds on the open grassland.",
        "Each zebra has its own pattern of stripes.",
    ],
    "bread": [
        "Bread rises because yeast makes carbon dioxide in the dough.",
        "A long, cool rise gives bread more flavour.",
        "Bake the loaf until it sounds hollow when tapped.",
    ],
    "rust": [
        "The Rust borrow checker keeps memory safe without a garbage collector.",
        "Ownership moves a value; borrowing lends it for a while.",
        "Lifetimes tell the compiler how long a reference lives.",
    ],
    "moon": [
        "The Moon orbits the Earth once every twenty-seven days.",
        "Its phases come from the sunlit half we can see.",
        "Tides follow the pull of the Moon on the oceans.",
    ],
    "bees": [
        "Honey bees dance to tell the hive where flowers are.",
        "A colony has one queen, many workers and a few drones.",
        "Bees turn nectar into honey and store it in wax cells.",
    ],
    "chess": [
        "In chess the knight moves in an L shape and can jump over pieces.",
        "Castling moves the king two squares towards a rook.",
        "A pawn that reaches the last rank is promoted.",
    ],
    "volcano": [
        "A volcano erupts when molten rock, called magma, reaches the surface.",
        "Lava cools into basalt and other volcanic rock.",
        "Ash clouds from eruptions can ground aeroplanes.",
    ],
}
CORPUS = [
    DocumentInput(
        text="\n\n".join(paragraphs),
        content_type="text/markdown",
        external_id=topic,
        title=topic.title(),
    )
    for topic, paragraphs in _TOPICS.items()
]
QUERIES = [
    ("how hot should the water be for green tea", "tea"),
    ("animal with stripes", "zebra"),
    ("why does dough rise with yeast", "bread"),
    ("memory safety without garbage collection", "rust"),
    ("how does a knight move", "chess"),
    ("what comes out when magma reaches the surface", "volcano"),
]


def write_eval_set(path: Path) -> Path:
    """The queries as the evaluation-set file `ragagent index eval` reads (JSON Lines)."""
    lines = [json.dumps({"query": query, "relevant": [doc]}) for query, doc in QUERIES]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path

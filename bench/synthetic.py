"""A generated BEIR-layout evaluation set that ``make eval`` can always run offline.

``build_dataset(seed)`` writes, deterministically, several hundred documents about
invented towns, plants and software libraries, each a few paragraphs long with
shared domain boilerplate, and natural-language questions about them:

- *named* questions ("What does the economy of Velmora rest on?") name the entity
  and paraphrase the attribute asked about, so the answer's words are not copied;
- *descriptive* questions ("Which town by the sea makes ceramics and holds a
  winter carnival?") name nothing and paraphrase two attributes; every document
  with both attributes is judged relevant, so an ambiguous question stays fair;
- *unanswerable* questions (``metadata.answerable = false``) ask about entities
  the corpus does not hold, or about something else entirely. They have no
  judgements and measure how often the answerer declines.

Invented names are rare tokens (the full-text leg's strength), paraphrases share
no words with the text (the vector leg's), so each leg wins some questions.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

SEED = 16
SYLLABLES = [
    "ka",
    "lo",
    "mir",
    "ven",
    "tha",
    "dor",
    "el",
    "sa",
    "rin",
    "bo",
    "qua",
    "zel",
    "tor",
    "mi",
    "nash",
    "ul",
    "fen",
    "gar",
    "is",
    "pra",
    "vo",
    "lun",
]

# Each attribute value: (how the document says it, how a question paraphrases it).
Value = tuple[str, str]

TOWN = {
    "industry": [
        ("salt harvesting and shipbuilding", "collecting sea salt and building boats"),
        ("wool weaving", "making textiles from sheep fleece"),
        ("copper mining", "digging up copper ore"),
        ("olive pressing", "producing oil from olives"),
        ("glassblowing", "shaping molten glass"),
        ("timber milling", "sawing logs into planks"),
        ("cheese making", "turning milk into cheese"),
        ("pottery", "making ceramics"),
        ("tea growing", "cultivating tea bushes"),
        ("herring fishing", "catching herring at sea"),
        ("clockmaking", "building clocks"),
        ("beekeeping", "keeping bees for honey"),
    ],
    "festival": [
        ("lantern festival", "celebration with paper lights"),
        ("horse race", "equestrian contest"),
        ("harvest fair", "market celebrating the crops"),
        ("boat parade", "procession of vessels on the water"),
        ("music week", "week of concerts"),
        ("kite contest", "competition for flying kites"),
        ("snow carnival", "winter carnival on the ice"),
        ("chess tournament", "board game championship"),
    ],
    "setting": [
        ("on the northern coast", "by the sea"),
        ("in a narrow mountain valley", "among high peaks"),
        ("on the banks of a wide river", "beside a river"),
        ("on a flat inland plain", "in the lowland interior"),
        ("on a volcanic island", "on an island formed by a volcano"),
    ],
}
PLANT = {
    "habitat": [
        ("wet marshland", "swamps and bogs"),
        ("alpine meadows", "high grassland near the snow line"),
        ("coastal sand dunes", "sandy ridges by the shore"),
        ("the rainforest canopy", "the tops of tropical trees"),
        ("limestone cliffs", "chalky rock faces"),
        ("dry desert scrub", "arid land with little rain"),
    ],
    "pollinator": [
        ("fruit bats", "flying mammals that feed at night"),
        ("hawk moths", "night-flying insects with long tongues"),
        ("bumblebees", "large furry bees"),
        ("hummingbirds", "tiny hovering birds"),
        ("beetles", "hard-shelled insects"),
    ],
    "use": [
        ("a tea that soothes coughs", "a remedy for a sore throat"),
        ("a red dye for cloth", "colouring fabric"),
        ("strong fibre for rope", "making cordage"),
        ("edible roots eaten roasted", "food from its underground parts"),
        ("a resin used as varnish", "a glossy wood finish"),
    ],
}
LIBRARY = {
    "language": [
        ("Rust", "Rust"),
        ("Go", "Go"),
        ("Python", "Python"),
        ("Java", "Java"),
        ("TypeScript", "TypeScript"),
    ],
    "purpose": [
        ("parsing CSV files", "reading comma-separated spreadsheets"),
        ("compressing images", "shrinking picture sizes"),
        ("scheduling background jobs", "running tasks later in a queue"),
        ("rate limiting HTTP requests", "throttling web traffic"),
        ("validating JSON documents against a schema", "checking structured data is well formed"),
        ("rendering PDF reports", "producing printable documents"),
        ("hashing passwords", "storing login secrets safely"),
    ],
    "license": [
        ("the MIT license", "a permissive MIT licence"),
        ("the Apache 2.0 license", "the Apache licence"),
        ("the GPL version 3", "a copyleft GNU licence"),
        ("the BSD 3-clause license", "a BSD licence"),
    ],
}

TEMPLATES = {
    "town": [
        "{name} is a town {setting}. Its economy rests on {industry}, as it has for generations.",
        "Every year {name} holds a {festival}, which draws visitors from the whole region.",
        "The old market square has a town hall, a covered well and a row of narrow houses. "
        "Visitors usually arrive by train or by the regional bus, and most stay for two nights.",
    ],
    "plant": [
        "The {name} is a flowering plant found in {habitat}.",
        "Its flowers are pollinated mainly by {pollinator}. People have used it for {use}.",
        "Botanists describe its leaves as narrow and its stems as tough. It flowers for a few "
        "weeks each year and sets seed in late summer; seedlings grow slowly.",
    ],
    "library": [
        "{name} is an open-source {language} library for {purpose}.",
        "It is released under {license} and keeps its public interface small.",
        "The project publishes its documentation online, runs its tests on every change and "
        "follows semantic versioning. Contributions are reviewed by two maintainers.",
    ],
}
NAMED = {
    "town": {
        "industry": "What does the economy of {name} depend on?",
        "festival": "What yearly event takes place in {name}?",
        "setting": "Where is the town of {name} located?",
    },
    "plant": {
        "habitat": "Where does the {name} grow in the wild?",
        "pollinator": "Which animals pollinate the {name}?",
        "use": "What have people used the {name} for?",
    },
    "library": {
        "language": "Which programming language is {name} written for?",
        "purpose": "What is the {name} library used for?",
        "license": "What license does {name} use?",
    },
}
DESCRIPTIVE = {
    "town": ("industry", "festival", "Which town lives from {industry} and has a {festival}?"),
    "plant": ("habitat", "pollinator", "Which plant of {habitat} is pollinated by {pollinator}?"),
    "library": ("language", "purpose", "Is there a {language} library for {purpose}?"),
}
OFF_TOPIC = [
    "How long should I boil an egg for a soft yolk?",
    "What is the capital city of Australia?",
    "How do I change a flat bicycle tyre?",
    "Who wrote the novel Pride and Prejudice?",
    "What is the boiling point of water at high altitude?",
    "How many players are on a football team?",
    "What causes the northern lights?",
    "How do I reset my home wifi router?",
    "Which vitamins are found in oranges?",
    "How far is the Moon from the Earth?",
    "What is a good stretching routine before running?",
    "How do vaccines train the immune system?",
    "When did the first person walk on the Moon?",
    "How do I remove a red wine stain from a carpet?",
    "What is the difference between a violin and a viola?",
]
DOMAINS = {"town": TOWN, "plant": PLANT, "library": LIBRARY}


@dataclass(frozen=True)
class Entity:
    key: str
    domain: str
    name: str
    values: dict[str, Value] = field(default_factory=dict)


def build_names(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct invented names of two or three syllables."""
    names: set[str] = set()
    ordered: list[str] = []
    while len(ordered) < count:
        name = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3)))).capitalize()
        if name not in names:
            names.add(name)
            ordered.append(name)
    return ordered


def build_entities(rng: random.Random, per_domain: int, names: list[str]) -> list[Entity]:
    entities: list[Entity] = []
    for domain, attributes in DOMAINS.items():
        for _ in range(per_domain):
            values = {attr: rng.choice(options) for attr, options in attributes.items()}
            key = f"{domain}-{len(entities):04d}"
            entities.append(Entity(key, domain, names[len(entities)], values))
    return entities


def build_document(entity: Entity) -> dict[str, str]:
    fields = {attr: said for attr, (said, _) in entity.values.items()}
    text = " ".join(t.format(name=entity.name, **fields) for t in TEMPLATES[entity.domain])
    return {"_id": entity.key, "title": f"{entity.name} ({entity.domain})", "text": text}


def build_queries(
    rng: random.Random, entities: list[Entity], absent: list[str]
) -> tuple[list[dict[str, object]], dict[str, dict[str, int]]]:
    """The questions and their judgements (every matching document relevant)."""
    queries: list[dict[str, object]] = []
    qrels: dict[str, dict[str, int]] = {}
    for entity in entities:
        attr = rng.choice(sorted(NAMED[entity.domain]))
        qid = f"n-{entity.key}"
        queries.append({"_id": qid, "text": NAMED[entity.domain][attr].format(name=entity.name)})
        qrels[qid] = {entity.key: 1}
    for entity in entities[::3]:
        first, second, template = DESCRIPTIVE[entity.domain]
        wanted = (entity.values[first], entity.values[second])
        qid = f"d-{entity.key}"
        text = template.format(**{first: wanted[0][1], second: wanted[1][1]})
        queries.append({"_id": qid, "text": text})
        qrels[qid] = {
            e.key: 1
            for e in entities
            if e.domain == entity.domain and (e.values[first], e.values[second]) == wanted
        }
    queries.extend(_unanswerable(rng, absent))
    return queries, qrels


def _unanswerable(rng: random.Random, absent: list[str]) -> list[dict[str, object]]:
    """Questions about names the corpus does not hold, and off-topic ones."""
    found: list[dict[str, object]] = []
    for i, name in enumerate(absent):
        domain = rng.choice(sorted(NAMED))
        template = NAMED[domain][rng.choice(sorted(NAMED[domain]))]
        found.append({"_id": f"u-{i:03d}", "text": template.format(name=name)})
    for i, text in enumerate(OFF_TOPIC):
        found.append({"_id": f"o-{i:03d}", "text": text})
    for query in found:
        query["metadata"] = {"answerable": False}
    return found


def build_dataset(directory: Path, *, per_domain: int = 200, seed: int = SEED) -> Path:
    """Write corpus.jsonl, queries.jsonl and qrels/test.tsv into ``directory``."""
    rng = random.Random(seed)  # noqa: S311 -- a reproducible data set, not a secret
    names = build_names(rng, per_domain * len(DOMAINS) + 30)
    entities = build_entities(rng, per_domain, names)
    queries, qrels = build_queries(rng, entities, names[len(entities) :])
    (directory / "qrels").mkdir(parents=True, exist_ok=True)
    _write_jsonl(directory / "corpus.jsonl", [build_document(e) for e in entities])
    _write_jsonl(directory / "queries.jsonl", queries)
    lines = ["query-id\tcorpus-id\tscore"] + [
        f"{qid}\t{doc}\t{gain}" for qid, docs in qrels.items() for doc, gain in docs.items()
    ]
    (directory / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def _write_jsonl(path: Path, records: list[dict[str, object]] | list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, sort_keys=True) + "\n")

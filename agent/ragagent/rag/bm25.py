"""Okapi BM25 ranking for the full-text leg, computed in PostgreSQL.

For a query Q and a chunk D of ``|D|`` tokens::

    score(D, Q) = sum over the terms t of Q found in D of
        idf(t) * tf(t, D) * (k1 + 1) / (tf(t, D) + k1 * (1 - b + b * |D| / avgdl))
    idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))

with N chunks, avgdl their mean length and df(t) the chunks holding t (the
non-negative idf that Lucene uses). Terms are the lexemes of the ``english``
text-search configuration, so stemming and stop words match the stored ``tsv``.

Any one query term is enough to be a candidate (OR semantics): the GIN index
on ``tsv`` finds the chunks holding any term, and each candidate's term
frequencies come from its own tsvector. Terms held by more than ``MAX_DF_SHARE``
of the chunks still score but do not select candidates (unless every query
term is that common): scoring costs time per candidate, and a chunk that holds
only such terms would rank below those holding a rarer one anyway, since their
idf is small. Without this, one word found in most chunks made every chunk a
candidate. N, the total length and df(t) are the
statistics migration 0006 keeps by trigger with every chunk write, keyed by
index generation (migration 0012); the caller restricts ``chunks c`` to the same
generation. Query terms no chunk holds are dropped: they would add nothing to any score.
"""

from __future__ import annotations

from typing import Any

# The textbook defaults (Robertson et al.; Lucene's too).
K1 = 1.2
B = 0.75
# The generation an empty database's first model claims (ragagent.db.generations); the
# only one until a re-index, so the benchmarks and tests over a fresh database use it.
GENERATION = 1
# A term in more than this share of the chunks selects no candidates (see above).
MAX_DF_SHARE = 0.05


def build_params(
    *,
    k1: float = K1,
    b: float = B,
    generation: int = GENERATION,
    max_df_share: float = MAX_DF_SHARE,
) -> dict[str, Any]:
    """The SQL parameters the BM25 fragment needs besides ``query`` and ``n``."""
    return {"k1": float(k1), "b": float(b), "generation": generation, "max_df": max_df_share}


# A lexeme as a quoted tsquery operand: quotes doubled and backslashes escaped, so
# any lexeme the parser made is matched as itself. chr(39) is ', chr(92) is \.
_QUOTED = (
    "chr(39) || replace(replace(lexeme, chr(92), chr(92) || chr(92)), chr(39), chr(39) || chr(39))"
    " || chr(39)"
)


def build_text_hits_sql(*, join: str, also: str) -> str:
    """The CTEs ``text_terms``, ``text_query`` and ``text_hits`` (id, BM25 relevance, rank).

    ``join`` and ``also`` add the caller's filter on ``chunks c``; ``text_hits`` holds
    at most ``%(n)s`` rows, best first, ties broken by chunk id.
    """
    return f"""text_terms AS (
            SELECT t.lexeme,
                   ln(1 + (s.chunk_count - t.df + 0.5)::float8 / (t.df + 0.5)) AS idf,
                   s.total_length::float8 / s.chunk_count AS avgdl,
                   t.df <= %(max_df)s * s.chunk_count AS selective
            FROM bm25_corpus s JOIN bm25_terms t ON t.generation = s.generation
            WHERE s.generation = %(generation)s AND s.chunk_count > 0 AND t.df > 0
              AND t.lexeme = ANY (tsvector_to_array(to_tsvector('english', %(query)s)))
        ), text_query AS (
            SELECT array_agg(lexeme) AS lexemes,
                   -- The selective terms, or all of them when none is.
                   coalesce(string_agg({_QUOTED}, ' | ') FILTER (WHERE selective),
                            string_agg({_QUOTED}, ' | '))::tsquery AS q
            FROM text_terms
        ), text_hits AS (
            SELECT id, relevance, row_number() OVER (ORDER BY relevance DESC, id) AS rank FROM (
                SELECT c.id, (
                    SELECT sum(tt.idf * f.tf * (%(k1)s + 1) / (f.tf + %(k1)s
                               * (1 - %(b)s + %(b)s * c.tsv_length / tt.avgdl)))
                    FROM (SELECT lexeme, coalesce(array_length(positions, 1), 1) AS tf
                          -- Only the query's lexemes: weight them A, then keep the A ones.
                          FROM unnest(ts_filter(
                              setweight(setweight(c.tsv, 'D'), 'A', tq.lexemes), '{{a}}'))
                         ) AS f
                    JOIN text_terms tt USING (lexeme)) AS relevance
                FROM text_query tq, chunks c {join}
                WHERE c.tsv @@ tq.q {also}
                ORDER BY relevance DESC, c.id LIMIT %(n)s) AS matching
        )"""

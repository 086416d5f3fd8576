-- BM25 for the full-text leg (ragagent.rag.bm25). Okapi BM25 needs, besides each
-- chunk's term frequencies (in its tsvector), the chunk's length, the number of
-- chunks holding each term (document frequency) and the corpus totals. They live
-- here, kept by triggers in the same transaction as the chunk writes, so every
-- replica reads the same figures and a rolled-back ingest leaves them untouched.
--
-- Statistics are keyed by `generation`. Until chunks carry an index generation
-- every chunk belongs to generation 0; when they do, the triggers group by the
-- chunk's generation instead of using 0 and retrieval reads the serving one's rows.

-- A chunk's length in tokens (positions), stop words excluded: what BM25 normalises by.
-- A lexeme stripped of positions still counts once.
CREATE FUNCTION bm25_length(vector tsvector) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
BEGIN ATOMIC
    SELECT coalesce(sum(coalesce(array_length(t.positions, 1), 1)), 0)::integer
    FROM unnest(vector) AS t;
END;

-- Generated from the text, as tsv is (a generated column cannot read another one).
ALTER TABLE chunks ADD COLUMN tsv_length integer
    GENERATED ALWAYS AS (bm25_length(to_tsvector('english'::regconfig, text))) STORED;

CREATE TABLE bm25_corpus (
    generation    integer PRIMARY KEY,
    chunk_count   bigint NOT NULL DEFAULT 0 CHECK (chunk_count >= 0),
    total_length  bigint NOT NULL DEFAULT 0 CHECK (total_length >= 0)
);

CREATE TABLE bm25_terms (
    generation  integer NOT NULL REFERENCES bm25_corpus (generation) ON DELETE CASCADE,
    lexeme      text NOT NULL,
    -- Chunks holding the lexeme; rows reaching 0 are deleted by the same trigger.
    df          bigint NOT NULL CHECK (df >= 0),
    PRIMARY KEY (generation, lexeme)
);

INSERT INTO bm25_corpus (generation, chunk_count, total_length)
    SELECT 0, count(*), coalesce(sum(tsv_length), 0) FROM chunks;
INSERT INTO bm25_terms (generation, lexeme, df)
    SELECT 0, lexeme, count(*) FROM chunks, unnest(tsvector_to_array(tsv)) AS lexeme
    GROUP BY lexeme;

-- Adds (sign 1) or removes (sign -1) the given chunk vectors from generation 0.
-- The corpus row is updated first: every writer locks it before any term row, so
-- concurrent ingests queue on it until commit instead of deadlocking on term rows
-- locked in different orders, and no count is lost.
CREATE FUNCTION bm25_apply(sign integer, vectors tsvector[]) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    IF vectors IS NULL OR cardinality(vectors) = 0 THEN
        RETURN;
    END IF;
    UPDATE bm25_corpus SET
        chunk_count = chunk_count + sign * cardinality(vectors),
        total_length = total_length
            + sign * (SELECT coalesce(sum(bm25_length(v)), 0) FROM unnest(vectors) AS v)
    WHERE generation = 0;
    IF sign > 0 THEN
        INSERT INTO bm25_terms AS t (generation, lexeme, df)
            SELECT 0, lexeme, count(*)
            FROM unnest(vectors) AS v, unnest(tsvector_to_array(v)) AS lexeme
            GROUP BY lexeme
        ON CONFLICT (generation, lexeme) DO UPDATE SET df = t.df + EXCLUDED.df;
        RETURN;
    END IF;
    UPDATE bm25_terms AS t SET df = t.df - r.n
        FROM (SELECT lexeme, count(*) AS n
              FROM unnest(vectors) AS v, unnest(tsvector_to_array(v)) AS lexeme
              GROUP BY lexeme) AS r
        WHERE t.generation = 0 AND t.lexeme = r.lexeme;
    DELETE FROM bm25_terms
        WHERE generation = 0 AND df = 0
          AND lexeme IN (SELECT unnest(tsvector_to_array(v)) FROM unnest(vectors) AS v);
END;
$$;

CREATE FUNCTION bm25_chunks_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bm25_apply(1, (SELECT array_agg(tsv) FROM added));
    RETURN NULL;
END;
$$;

CREATE FUNCTION bm25_chunks_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bm25_apply(-1, (SELECT array_agg(tsv) FROM removed));
    RETURN NULL;
END;
$$;

-- Only an update of the text changes the statistics; re-embedding (vectors only) fires nothing.
CREATE FUNCTION bm25_chunk_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bm25_apply(-1, ARRAY[OLD.tsv]);
    PERFORM bm25_apply(1, ARRAY[NEW.tsv]);
    RETURN NULL;
END;
$$;

-- Statement-level, so a COPY of a document's chunks updates each term row once.
-- They fire for the cascade from a deleted document too.
CREATE TRIGGER chunks_bm25_insert AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION bm25_chunks_added();
CREATE TRIGGER chunks_bm25_delete AFTER DELETE ON chunks
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION bm25_chunks_removed();
CREATE TRIGGER chunks_bm25_update AFTER UPDATE OF text ON chunks
    FOR EACH ROW WHEN (OLD.text IS DISTINCT FROM NEW.text)
    EXECUTE FUNCTION bm25_chunk_changed();
CREATE FUNCTION bm25_chunks_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bm25_corpus SET chunk_count = 0, total_length = 0 WHERE generation = 0;
    DELETE FROM bm25_terms WHERE generation = 0;
    RETURN NULL;
END;
$$;
CREATE TRIGGER chunks_bm25_truncate AFTER TRUNCATE ON chunks
    FOR EACH STATEMENT EXECUTE FUNCTION bm25_chunks_truncated();

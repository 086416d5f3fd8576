-- Index generations (ragagent.db.generations): each (model, dimension, chunking) the
-- documents are indexed with is a generation with its own chunks, BM25 statistics and
-- HNSW index, so a new one can be built beside the serving one and switched to at once.
--
-- All generations share the chunks table: its vector column has no fixed dimension and
-- each generation has a partial HNSW index on its rows cast to its own dimension
-- (pgvector's way to index vectors of several sizes in one column).

CREATE TABLE index_generations (
    id             integer PRIMARY KEY CHECK (id > 0),
    model          text NOT NULL,
    dimension      integer NOT NULL CHECK (dimension > 0),
    chunk_size     integer CHECK (chunk_size > 0),
    chunk_overlap  integer CHECK (chunk_overlap >= 0),
    -- building: being written; ready: complete, not served; serving: the one retrieval
    -- and ingestion use; retained: served before, kept for an instant switch back.
    state          text NOT NULL CHECK (state IN ('building', 'ready', 'serving', 'retained')),
    -- The last evaluation (ragagent index eval), as it printed it.
    scores         jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    served_at      timestamptz,
    retired_at     timestamptz
);
CREATE UNIQUE INDEX index_generations_one_serving ON index_generations ((true))
    WHERE state = 'serving';

-- Which version (content hash) of each document a generation holds chunks for: a
-- candidate catches up the documents whose hash has moved on since it read them.
CREATE TABLE generation_documents (
    generation    integer NOT NULL REFERENCES index_generations (id) ON DELETE CASCADE,
    document_id   bigint NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    content_hash  text NOT NULL,
    PRIMARY KEY (generation, document_id)
);
CREATE INDEX generation_documents_document_idx ON generation_documents (document_id);

-- The existing record becomes generation 1, serving.
INSERT INTO index_generations
        (id, model, dimension, chunk_size, chunk_overlap, state, created_at, updated_at, served_at)
    SELECT 1, model, dimension, chunk_size, chunk_overlap, 'serving', created_at, updated_at, now()
    FROM embedding_index;
INSERT INTO generation_documents (generation, document_id, content_hash)
    SELECT 1, id, content_hash FROM documents WHERE EXISTS (SELECT 1 FROM index_generations);
DROP TABLE embedding_index;

-- What every reader of the old singleton expects, now the serving generation. Simple
-- enough to stay updatable, so a test can still fake another recorded model.
CREATE VIEW embedding_index AS
    SELECT id AS generation, model, dimension, chunk_size, chunk_overlap, created_at, updated_at
    FROM index_generations WHERE state = 'serving';

-- The chunks: tagged with their generation, the dimension freed, one HNSW index per generation.
DROP INDEX IF EXISTS chunks_embedding_hnsw;
ALTER TABLE chunks ALTER COLUMN embedding TYPE vector;
ALTER TABLE chunks ADD COLUMN generation integer NOT NULL DEFAULT 1;
ALTER TABLE chunks ALTER COLUMN generation DROP DEFAULT;
ALTER TABLE chunks DROP CONSTRAINT chunks_document_id_ordinal_key;
ALTER TABLE chunks ADD CONSTRAINT chunks_generation_document_ordinal_key
    UNIQUE (generation, document_id, ordinal);
DO $$
DECLARE
    d integer;
BEGIN
    SELECT dimension INTO d FROM index_generations WHERE id = 1;
    IF d IS NOT NULL THEN
        EXECUTE format('CREATE INDEX chunks_embedding_hnsw_1 ON chunks USING hnsw '
                       '((embedding::vector(%s)) vector_cosine_ops) WHERE generation = 1', d);
    END IF;
END;
$$;

-- BM25 statistics: generation 0 (every chunk until now) becomes generation 1.
INSERT INTO bm25_corpus (generation, chunk_count, total_length)
    SELECT 1, chunk_count, total_length FROM bm25_corpus WHERE generation = 0
    AND EXISTS (SELECT 1 FROM index_generations);
UPDATE bm25_terms SET generation = 1 WHERE generation = 0;
DELETE FROM bm25_corpus WHERE generation = 0;

-- Adds (sign 1) or removes (sign -1) chunk vectors from one generation's statistics.
-- As before, the corpus row is updated first so concurrent writers of a generation queue
-- on it (which also keeps MERGE's insert from racing another). One MERGE then moves each
-- term's df, deleting the rows that reach 0. A generation without a corpus row (being
-- pruned) keeps no statistics.
CREATE OR REPLACE FUNCTION bm25_apply_to(gen integer, sign integer, vectors tsvector[])
    RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- No row updated: nothing to apply, or a generation without statistics.
    UPDATE bm25_corpus SET chunk_count = chunk_count + sign * s.n,
                           total_length = total_length + sign * s.len
    FROM (SELECT count(*) AS n, coalesce(sum(bm25_length(v)), 0) AS len
          FROM unnest(vectors) AS v) AS s
    WHERE generation = gen AND s.n > 0;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    MERGE INTO bm25_terms AS t
    USING (SELECT lexeme, sign * count(*) AS delta
           FROM unnest(vectors) AS v, unnest(tsvector_to_array(v)) AS lexeme
           GROUP BY lexeme) AS r
    ON t.generation = gen AND t.lexeme = r.lexeme
    WHEN MATCHED AND t.df + r.delta = 0 THEN DELETE
    WHEN MATCHED THEN UPDATE SET df = t.df + r.delta
    WHEN NOT MATCHED AND r.delta > 0 THEN INSERT (generation, lexeme, df) VALUES (gen, r.lexeme, r.delta);
END;
$$;

-- One function for both statement triggers (a statement may touch several generations:
-- a deleted document cascades to all). PL/pgSQL plans a statement when it first runs it,
-- so the branch naming the other trigger's transition table is never planned.
CREATE OR REPLACE FUNCTION bm25_chunks_written() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    IF TG_OP = 'INSERT' THEN
        FOR r IN SELECT generation, array_agg(tsv) AS vectors FROM added
                 GROUP BY generation ORDER BY generation LOOP
            PERFORM bm25_apply_to(r.generation, 1, r.vectors);
        END LOOP;
    ELSE
        FOR r IN SELECT generation, array_agg(tsv) AS vectors FROM removed
                 GROUP BY generation ORDER BY generation LOOP
            PERFORM bm25_apply_to(r.generation, -1, r.vectors);
        END LOOP;
    END IF;
    RETURN NULL;
END;
$$;
DROP TRIGGER chunks_bm25_insert ON chunks;
DROP TRIGGER chunks_bm25_delete ON chunks;
CREATE TRIGGER chunks_bm25_insert AFTER INSERT ON chunks
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION bm25_chunks_written();
CREATE TRIGGER chunks_bm25_delete AFTER DELETE ON chunks
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION bm25_chunks_written();
DROP FUNCTION bm25_chunks_added();
DROP FUNCTION bm25_chunks_removed();

CREATE OR REPLACE FUNCTION bm25_chunk_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bm25_apply_to(OLD.generation, -1, ARRAY[OLD.tsv]);
    PERFORM bm25_apply_to(NEW.generation, 1, ARRAY[NEW.tsv]);
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION bm25_chunks_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE bm25_corpus SET chunk_count = 0, total_length = 0;
    DELETE FROM bm25_terms;
    RETURN NULL;
END;
$$;

DROP FUNCTION bm25_apply(integer, tsvector[]);

-- Documents, their chunks and the record of which embedding model built the index.
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE documents (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Client-chosen identity; re-ingesting the same external_id replaces the document.
    external_id   text NOT NULL UNIQUE,
    title         text NOT NULL DEFAULT '',
    source        text,
    content_type  text NOT NULL,
    -- sha256 over the parsed text, title, source and metadata: unchanged means nothing to write.
    content_hash  text NOT NULL,
    metadata      jsonb NOT NULL DEFAULT '{}'::jsonb,
    char_count    integer NOT NULL DEFAULT 0,
    chunk_count   integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX documents_source_idx ON documents (source);
CREATE INDEX documents_metadata_idx ON documents USING gin (metadata jsonb_path_ops);

-- The vector column has no fixed dimension here: the embedding model is chosen
-- by configuration, so ragagent.db.embedding_index fixes the dimension and builds
-- the HNSW index the first time a model claims the (empty) table.
CREATE TABLE chunks (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    document_id  bigint NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal      integer NOT NULL,
    text         text NOT NULL,
    embedding    vector NOT NULL,
    tsv          tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
    UNIQUE (document_id, ordinal)
);
CREATE INDEX chunks_tsv_idx ON chunks USING gin (tsv);

-- One row: the model and dimension every stored vector was computed with.
CREATE TABLE embedding_index (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    model       text NOT NULL,
    dimension   integer NOT NULL CHECK (dimension > 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Re-chunking: when the chunking changes, `ragagent reindex` cuts each document again
-- from its parsed, normalised text. Documents ingested before this migration have no
-- body (NULL): re-indexing keeps their chunks as they are, and re-ingesting stores one.
ALTER TABLE documents ADD COLUMN body text;

-- The chunking (in characters) the stored chunks were cut with, beside the model.
-- NULL: recorded before this migration, so unknown; the next re-index re-chunks.
ALTER TABLE embedding_index
    ADD COLUMN chunk_size integer CHECK (chunk_size > 0),
    ADD COLUMN chunk_overlap integer CHECK (chunk_overlap >= 0);

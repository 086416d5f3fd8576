-- Source sync (ragagent.rag.sync): a knowledge source (a ConfigMap, a URL) is synced as
-- a set of documents. Each document a source owns names it here, so that a sync can
-- delete the documents the source no longer has. NULL: added through the API or
-- `ragagent ingest`, which no sync ever deletes.
ALTER TABLE documents ADD COLUMN sync_source text;
CREATE INDEX documents_sync_source_idx ON documents (sync_source) WHERE sync_source IS NOT NULL;

-- The HTTP validators a URL document was last fetched with: the next sync sends them
-- back (If-None-Match, If-Modified-Since), and a 304 skips the download and the parse.
ALTER TABLE documents
    ADD COLUMN http_etag text,
    ADD COLUMN http_last_modified text;

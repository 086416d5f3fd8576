-- An assistant message whose answer stopped early: the client went away mid-answer, or
-- the LLM provider failed after part of it was streamed. What was generated is kept
-- (the user may have read it) and flagged, so no one takes it for a whole answer.
-- A constant default keeps this a metadata-only change on a large table.
ALTER TABLE messages ADD COLUMN incomplete boolean NOT NULL DEFAULT false;

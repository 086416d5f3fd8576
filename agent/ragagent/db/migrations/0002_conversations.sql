-- Conversations belong to one user (the authenticated principal's id); every
-- query filters by user_id, so another user's conversation is simply not found.
CREATE TABLE conversations (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        text NOT NULL,
    title          text NOT NULL DEFAULT '',
    -- Kept in step with messages so the per-conversation limit is one atomic UPDATE.
    message_count  integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_user_updated_idx ON conversations (user_id, updated_at DESC);
-- Retention purges scan by age across all users.
CREATE INDEX conversations_updated_idx ON conversations (updated_at);

CREATE TABLE messages (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id    uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role               text NOT NULL CHECK (role IN ('user', 'assistant')),
    content            text NOT NULL,
    citations          jsonb NOT NULL DEFAULT '[]'::jsonb,
    prompt_tokens      integer NOT NULL DEFAULT 0,
    completion_tokens  integer NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, id);

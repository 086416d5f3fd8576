-- API keys may expire: NULL means never (every key made before this migration).
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS expires_at timestamptz;
-- The expiring-keys gauge counts active keys by expiry.
CREATE INDEX IF NOT EXISTS api_keys_expiry_idx ON api_keys (expires_at)
    WHERE revoked_at IS NULL AND expires_at IS NOT NULL;

-- Conversation owners become namespaced by credential kind (ragagent.core.security):
-- `apikey:<id>` for a key without a user, `apikey-user:<user>` for a key made with --user,
-- `jwt:<issuer>#<sub>` for a token. Before, a token whose sub was `key:3` owned key 3's
-- conversations. Owners written by keys are rewritten here; owners written by tokens kept
-- their bare `sub`, which no principal matches any more (the issuer is configuration, not
-- data): docs/runbooks/migrations-and-rollback.md shows the UPDATE that hands them to
-- `jwt:<issuer>#<sub>`.
UPDATE conversations SET user_id = 'apikey:' || substr(user_id, 5)
    WHERE user_id ~ '^key:[0-9]+$';
UPDATE conversations c SET user_id = 'apikey-user:' || c.user_id
    WHERE c.user_id !~ '^(apikey|apikey-user|jwt):'
      AND EXISTS (SELECT 1 FROM api_keys k WHERE k.user_id = c.user_id);

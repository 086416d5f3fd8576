-- Rate-limit state shared by every replica (RAGAGENT_RATE_LIMIT_STORAGE=postgres; the
-- storage is ragagent.db.ratelimit_store). In the agent's own database the counters need
-- no new component, sit behind the same NetworkPolicy, and survive an agent roll.
--
-- Fixed windows (the daily token budget): one counter per key until it expires.
CREATE TABLE rate_limit_counters (
    key         text PRIMARY KEY,
    value       bigint NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- Moving windows (requests per minute and per hour): accepted hits counted per time
-- bucket (bucket n covers [n * grain, (n + 1) * grain) in epoch seconds, the grain being a
-- sixtieth of the window), newest first, only the buckets still inside the window. A row
-- so holds at most 61 pairs whatever the limit, and every hit costs the same.
-- `accepted` is the decision of the last acquire, which RETURNING hands back.
CREATE TABLE rate_limit_windows (
    key         text PRIMARY KEY,
    buckets     bigint[] NOT NULL,
    counts      integer[] NOT NULL,
    accepted    boolean NOT NULL,
    expires_at  timestamptz NOT NULL
);
-- No index on expires_at on purpose: every request rewrites it, and an index on it would
-- make each of those updates a non-HOT one. The periodic sweep scans the (small) tables.

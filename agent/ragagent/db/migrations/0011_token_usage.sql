-- LLM token accounting and budgets (ragagent.db.token_usage, ragagent.services.budget).
--
-- Tokens actually spent, per identity, per UTC day and per model: what GET /v1/usage and
-- `ragagent usage` report, and what prices turn into cost.
CREATE TABLE token_usage (
    identity    text NOT NULL,
    day         date NOT NULL,
    model       text NOT NULL,
    tokens_in   bigint NOT NULL DEFAULT 0,
    tokens_out  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (identity, day, model)
);
CREATE INDEX token_usage_day ON token_usage (day);

-- One row per identity and day, and one per month for the whole agent: the settled totals
-- the budgets compare against, and the rows a reservation locks (FOR UPDATE through its
-- upsert) so concurrent reservations of one identity, or of the agent, queue one behind
-- the other and each sees the ones before it.
CREATE TABLE token_days (
    identity  text NOT NULL,
    day       date NOT NULL,
    used      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (identity, day)
);
CREATE TABLE token_months (
    month  date PRIMARY KEY,
    used   bigint NOT NULL DEFAULT 0
);

-- Tokens set aside for LLM calls still running. A turn reserves its estimate before it
-- calls the LLM and settles (deletes the reservation, adds what it really spent) when it
-- ends, however it ends. A reservation whose turn never settled (its process died) stops
-- counting at expires_at, so a crash cannot hold an identity's budget forever.
CREATE TABLE token_reservations (
    id          bigserial PRIMARY KEY,
    identity    text NOT NULL,
    day         date NOT NULL,
    month       date NOT NULL,
    tokens      bigint NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX token_reservations_identity_day ON token_reservations (identity, day);
CREATE INDEX token_reservations_month ON token_reservations (month);

-- A token reservation and a settlement, each one statement (ragagent.db.token_usage).
--
-- Both lock the identity's row of the day (and the agent's row of the month), which every
-- turn of every caller shares. Run as three to five statements from the agent, a turn held
-- those locks across as many round trips, and on a busy event loop each round trip waited
-- for the loop: under 200 chat clients about 40% of the pool's connections waited on this
-- row (bench.soak mixed). As one function called in one round trip, with its COMMIT in the
-- same flight, the locks are held only while PostgreSQL runs it.
--
-- A VOLATILE PL/pgSQL function takes a new snapshot for each statement under READ
-- COMMITTED, so the sums of reservations, read after the row locks, see every reservation
-- committed by the turns that held the locks before: one plain SQL statement could not
-- (its snapshot predates its lock wait). Locks are taken day first, then month, in both.

CREATE FUNCTION token_reserve(
    p_identity text, p_tokens bigint, p_daily bigint, p_monthly bigint, p_ttl double precision
) RETURNS TABLE (reservation_id bigint, reserved_day date, refused text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_day date := (now() AT TIME ZONE 'UTC')::date;
    v_month date := date_trunc('month', (now() AT TIME ZONE 'UTC'))::date;
    v_day_used bigint;
    v_month_used bigint := 0;
    v_reserved bigint;
BEGIN
    INSERT INTO token_days AS d (identity, day) VALUES (p_identity, v_day)
    ON CONFLICT (identity, day) DO UPDATE SET used = d.used
    RETURNING d.used INTO v_day_used;
    IF p_monthly > 0 THEN
        INSERT INTO token_months AS m (month) VALUES (v_month)
        ON CONFLICT (month) DO UPDATE SET used = m.used
        RETURNING m.used INTO v_month_used;
    END IF;
    IF p_daily > 0 THEN
        SELECT coalesce(sum(r.tokens), 0) INTO v_reserved FROM token_reservations r
        WHERE r.identity = p_identity AND r.day = v_day AND r.expires_at > now();
        IF v_day_used + v_reserved + p_tokens > p_daily THEN
            RETURN QUERY SELECT NULL::bigint, v_day, 'identity-daily'::text;
            RETURN;
        END IF;
    END IF;
    IF p_monthly > 0 THEN
        SELECT coalesce(sum(r.tokens), 0) INTO v_reserved FROM token_reservations r
        WHERE r.month = v_month AND r.expires_at > now();
        IF v_month_used + v_reserved + p_tokens > p_monthly THEN
            RETURN QUERY SELECT NULL::bigint, v_day, 'agent-monthly'::text;
            RETURN;
        END IF;
    END IF;
    RETURN QUERY
    INSERT INTO token_reservations AS r (identity, day, month, tokens, expires_at)
    VALUES (p_identity, v_day, v_month, p_tokens, now() + make_interval(secs => p_ttl))
    RETURNING r.id, v_day, NULL::text;
END
$$;

-- Adds what a turn spent (tokens in and out by model, the arrays in step) on the
-- reservation's day and month, and with p_release drops the reservation. A turn that spent
-- nothing (a declined or extractive answer) takes no lock on the shared rows.
CREATE FUNCTION token_settle(
    p_reservation bigint, p_identity text, p_day date,
    p_models text[], p_in bigint[], p_out bigint[], p_release boolean
) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_total bigint := coalesce((SELECT sum(i) FROM unnest(p_in) AS i), 0)
        + coalesce((SELECT sum(o) FROM unnest(p_out) AS o), 0);
BEGIN
    IF v_total <> 0 THEN
        INSERT INTO token_days AS d (identity, day, used) VALUES (p_identity, p_day, v_total)
        ON CONFLICT (identity, day) DO UPDATE SET used = d.used + EXCLUDED.used;
        INSERT INTO token_months AS m (month, used)
        VALUES (date_trunc('month', p_day)::date, v_total)
        ON CONFLICT (month) DO UPDATE SET used = m.used + EXCLUDED.used;
    END IF;
    INSERT INTO token_usage AS u (identity, day, model, tokens_in, tokens_out)
    SELECT p_identity, p_day, s.model, s.tokens_in, s.tokens_out
    FROM unnest(p_models, p_in, p_out) AS s (model, tokens_in, tokens_out)
    ORDER BY s.model
    ON CONFLICT (identity, day, model) DO UPDATE
    SET tokens_in = u.tokens_in + EXCLUDED.tokens_in,
        tokens_out = u.tokens_out + EXCLUDED.tokens_out;
    IF p_release AND p_reservation IS NOT NULL THEN
        DELETE FROM token_reservations WHERE id = p_reservation;
    END IF;
END
$$;

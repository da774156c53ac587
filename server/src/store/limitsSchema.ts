/**
 * Per-role rate limits on a shared server, kept and counted in the database: the team's admin (the schema's
 * owner) sets them in `role_limits`; `semcode_take` counts a role's searches and index runs in fixed windows
 * and refuses one past the limit (SQLSTATE 53400). Members cannot read or change the tables, only call the
 * function, which charges the login role (`session_user`), so a client can neither raise its own limit nor
 * reset its count. PostgreSQL's own per-role connection limit (`semcode team limit --connections`) bounds
 * how much of the server a role holds at once, whatever its client does.
 */
export const LIMITS_SCHEMA_SQL = `
-- A limit on a group role (the team's) holds for each member; the strictest of a role's own and its groups' applies.
CREATE TABLE role_limits (
  role                text PRIMARY KEY,
  searches_per_minute int CHECK (searches_per_minute > 0),
  index_runs_per_hour int CHECK (index_runs_per_hour > 0)
);

-- Counts in the current window, per login role and kind. Lost on a crash, which only forgives a window.
CREATE UNLOGGED TABLE rate_usage (
  role         text NOT NULL,
  kind         text NOT NULL,
  window_start timestamptz NOT NULL,
  used         int NOT NULL,
  PRIMARY KEY (role, kind)
);

-- Charges one search or index run to the caller; raises 53400 (configuration_limit_exceeded) past its limit.
-- A refused call counts nothing: the raise rolls its own increment back.
CREATE FUNCTION semcode_take(p_kind text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  who  text := session_user;
  t    timestamptz := clock_timestamp();
  win  interval;
  lim  int;
  n    int;
  began timestamptz;
BEGIN
  IF p_kind = 'search' THEN
    win := interval '1 minute';
  ELSIF p_kind = 'index' THEN
    win := interval '1 hour';
  ELSE
    RAISE EXCEPTION 'unknown rate limit kind %', p_kind USING ERRCODE = '22023';
  END IF;
  SELECT min(CASE p_kind WHEN 'search' THEN l.searches_per_minute ELSE l.index_runs_per_hour END) INTO lim
    FROM role_limits l JOIN pg_roles r ON r.rolname = l.role
   WHERE pg_has_role(who, r.oid, 'MEMBER');
  IF lim IS NULL THEN
    RETURN;
  END IF;
  INSERT INTO rate_usage AS u (role, kind, window_start, used) VALUES (who, p_kind, t, 1)
  ON CONFLICT (role, kind) DO UPDATE
     SET window_start = CASE WHEN u.window_start + win <= t THEN t ELSE u.window_start END,
         used = CASE WHEN u.window_start + win <= t THEN 1 ELSE u.used + 1 END
  RETURNING u.used, u.window_start INTO n, began;
  IF n > lim THEN
    RAISE EXCEPTION 'rate limit: role % may run % % per %; the next is allowed in % s', who, lim,
        CASE p_kind WHEN 'search' THEN 'searches' ELSE 'index runs' END,
        CASE p_kind WHEN 'search' THEN 'minute' ELSE 'hour' END,
        greatest(1, ceil(extract(epoch FROM began + win - t)))
      USING ERRCODE = '53400', HINT = 'the team''s admin sets limits with: semcode team limit';
  END IF;
END
$$;

REVOKE ALL ON role_limits, rate_usage FROM PUBLIC
`;

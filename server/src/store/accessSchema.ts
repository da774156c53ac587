/**
 * Per-codebase permissions, enforced by PostgreSQL itself (row-level security), so a modified client or
 * `psql` with the same credentials sees no more than Semcode shows. Levels: read < write < owner, per
 * (codebase, role); a grant to a group role holds for its members. The role that creates a codebase owns it.
 * The schema's owner is not subject to the policies (PostgreSQL exempts a table's owner unless FORCEd):
 * a single-user database, and PGlite's one user, behave as before.
 *
 * Two PostgreSQL rules shape what follows:
 * - A policy that reads `codebase_access` from a policy on `codebase_access` recurses. The policies read the
 *   view `codebase_levels` instead: a view reads its tables with its owner's rights (exempt from the
 *   policies), while `current_user` inside it is still the caller.
 * - Under row-level security, PostgreSQL uses a caller's condition in an index scan only if its function is
 *   LEAKPROOF, and full-text match (`@@`) is not (only a superuser could mark it). A member's full-text
 *   search would scan every chunk of the codebase instead of the GIN index. So the full-text candidates come
 *   from SECURITY DEFINER functions (run as the schema's owner, index scans allowed) that first check the
 *   caller's own level; the rows are then read from `chunks` under the policies as usual. Building and
 *   dropping a codebase's HNSW index and refreshing planner statistics go the same way: only a table's
 *   owner may, so writers ask a function that checks they may write. The functions identify the caller by
 *   `session_user` (the login role: a SET ROLE cannot take a session beyond what its login may do anyway).
 */

/** Tables whose rows belong to one codebase (codebase_id): readers read them, writers write them. */
const SCOPED_TABLES = ['files', 'chunks', 'embedding_cache', 'term_stats', 'training_runs'];

function scopedPolicies(table: string): string {
  return `ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
CREATE POLICY ${table}_read ON ${table} FOR SELECT USING (codebase_id IN (SELECT codebase_id FROM codebase_levels));
CREATE POLICY ${table}_write ON ${table} FOR ALL USING (codebase_id IN (SELECT codebase_id FROM codebase_levels WHERE rank >= 2));`;
}

/** Statements of the migration that adds permissions; `$$` bodies are kept whole by the migration splitter. */
export const ACCESS_SCHEMA_SQL = `
CREATE TABLE codebase_access (
  codebase_id int NOT NULL REFERENCES codebases(id) ON DELETE CASCADE,
  role        text NOT NULL,
  level       text NOT NULL CHECK (level IN ('read', 'write', 'owner')),
  PRIMARY KEY (codebase_id, role)
);
CREATE INDEX codebase_access_by_role ON codebase_access (role);
ALTER TABLE codebases ADD COLUMN created_by text NOT NULL DEFAULT current_user;

-- Vectors are derived from code, so the cache is scoped by codebase like everything else; a second folder of
-- the same codebase, a branch switch or a re-chunked file still reuses them.
ALTER TABLE embedding_cache ADD COLUMN codebase_id int REFERENCES codebases(id) ON DELETE CASCADE;

-- 0 none, 1 read, 2 write, 3 owner: the level of role \`who\` (its own grants and its groups') on a codebase.
CREATE FUNCTION semcode_rank(who name, cb int) RETURNS int
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT CASE
    WHEN pg_has_role(who, (SELECT relowner FROM pg_class WHERE oid = 'codebases'::regclass), 'USAGE') THEN 3
    ELSE coalesce((SELECT max(CASE a.level WHEN 'read' THEN 1 WHEN 'write' THEN 2 ELSE 3 END)
                     FROM codebase_access a
                    WHERE a.codebase_id = cb
                      AND a.role IN (SELECT r.rolname FROM pg_roles r WHERE pg_has_role(who, r.oid, 'MEMBER'))), 0)
  END
$$;

-- The calling role's level on every codebase it may see. The schema's owner sees every codebase as owner.
CREATE VIEW codebase_levels AS
  SELECT c.id AS codebase_id, 3 AS rank FROM codebases c
   WHERE pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = 'codebases'::regclass), 'USAGE')
  UNION ALL
  SELECT a.codebase_id, max(CASE a.level WHEN 'read' THEN 1 WHEN 'write' THEN 2 ELSE 3 END) AS rank
    FROM codebase_access a
   WHERE a.role IN (SELECT r.rolname FROM pg_roles r WHERE pg_has_role(current_user, r.oid, 'MEMBER'))
     AND NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = 'codebases'::regclass), 'USAGE')
   GROUP BY a.codebase_id;

-- The creator of a codebase owns it.
CREATE FUNCTION semcode_codebase_created() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO codebase_access (codebase_id, role, level) VALUES (NEW.id, NEW.created_by, 'owner')
    ON CONFLICT (codebase_id, role) DO UPDATE SET level = 'owner';
  RETURN NEW;
END
$$;
CREATE TRIGGER codebase_owner AFTER INSERT ON codebases FOR EACH ROW EXECUTE FUNCTION semcode_codebase_created();

-- Full-text candidates of a search (see the header): chunk ids, best BM25 first, for a caller who may read.
-- Parameters are named p_*: in an SQL function a column of the same name (chunks.bm25) would win.
CREATE FUNCTION semcode_text_candidates(p_cb int, p_query text, p_bm25 sparsevec, p_k int, p_lang text, p_path_re text)
RETURNS TABLE (id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT c.id FROM chunks c
   WHERE semcode_rank(session_user, p_cb) >= 1
     AND c.codebase_id = p_cb AND c.tsv @@ to_tsquery('simple', p_query)
     AND (p_lang IS NULL OR c.language = p_lang) AND (p_path_re IS NULL OR c.path ~ p_path_re)
   ORDER BY c.bm25 <#> p_bm25, c.path, c.start_line
   LIMIT p_k
$$;

-- Chunks whose symbol-name words match a prefix query, for a caller who may read.
CREATE FUNCTION semcode_symbol_candidates(p_cb int, p_query text) RETURNS TABLE (id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT c.id FROM chunks c
   WHERE semcode_rank(session_user, p_cb) >= 1
     AND c.codebase_id = p_cb AND c.symbol IS NOT NULL AND c.symbol_words @@ to_tsquery('simple', p_query)
$$;

-- Builds (or drops, for dim NULL) a codebase's HNSW index, for a caller who may write it.
CREATE FUNCTION semcode_set_hnsw(cb int, dim int, mem_mb int) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  now_dim int;
BEGIN
  IF semcode_rank(session_user, cb) < 2 THEN
    RAISE EXCEPTION 'permission denied to maintain the vector index of codebase %', cb USING ERRCODE = '42501';
  END IF;
  IF dim IS NULL THEN
    EXECUTE format('DROP INDEX IF EXISTS %I', 'chunks_hnsw_cb' || cb);
    UPDATE codebases SET hnsw_dim = NULL WHERE id = cb;
    RETURN true;
  END IF;
  -- Another writer may have built it meanwhile: the row lock orders the two, and the second builds nothing.
  SELECT hnsw_dim INTO now_dim FROM codebases WHERE id = cb FOR UPDATE;
  IF now_dim IS NOT DISTINCT FROM dim THEN
    RETURN false;
  END IF;
  PERFORM set_config('maintenance_work_mem', mem_mb || 'MB', true);
  EXECUTE format('DROP INDEX IF EXISTS %I', 'chunks_hnsw_cb' || cb);
  EXECUTE format(
    -- the same predicate as chunks.ts hnswScope, which every vector query repeats so the planner matches it
    'CREATE INDEX %I ON chunks USING hnsw ((embedding::vector(%s)) vector_cosine_ops) WITH (m = 16, ef_construction = 128) '
    'WHERE codebase_id = %s AND vector_dims(embedding) = %s',
    'chunks_hnsw_cb' || cb, dim, cb, dim);
  UPDATE codebases SET hnsw_dim = dim WHERE id = cb;
  RETURN true;
END
$$;

-- Fresh planner statistics and merged full-text pending lists after a bulk change, for a caller who may
-- write the codebase that changed.
CREATE FUNCTION semcode_refresh_text_indexes(cb int) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF semcode_rank(session_user, cb) < 2 THEN
    RETURN false;
  END IF;
  ANALYZE chunks;
  PERFORM gin_clean_pending_list(oid) FROM pg_class WHERE oid IN ('chunks_tsv'::regclass, 'chunks_symbol_words'::regclass);
  RETURN true;
END
$$;

ALTER TABLE codebases ENABLE ROW LEVEL SECURITY;
CREATE POLICY codebases_read ON codebases FOR SELECT USING (id IN (SELECT codebase_id FROM codebase_levels));
CREATE POLICY codebases_create ON codebases FOR INSERT WITH CHECK (created_by = current_user);
CREATE POLICY codebases_write ON codebases FOR UPDATE USING (id IN (SELECT codebase_id FROM codebase_levels WHERE rank >= 2));
CREATE POLICY codebases_drop ON codebases FOR DELETE USING (id IN (SELECT codebase_id FROM codebase_levels WHERE rank >= 3));

ALTER TABLE codebase_access ENABLE ROW LEVEL SECURITY;
CREATE POLICY access_read ON codebase_access FOR SELECT USING (codebase_id IN (SELECT codebase_id FROM codebase_levels));
CREATE POLICY access_admin ON codebase_access FOR ALL USING (codebase_id IN (SELECT codebase_id FROM codebase_levels WHERE rank >= 3));

-- A reader maps its own clone's folder to a codebase it may read.
ALTER TABLE codebase_roots ENABLE ROW LEVEL SECURITY;
CREATE POLICY roots_read ON codebase_roots FOR ALL USING (codebase_id IN (SELECT codebase_id FROM codebase_levels));

${SCOPED_TABLES.map(scopedPolicies).join('\n')}

-- The functions above check the caller's level themselves; this one would tell anyone any role's level.
REVOKE EXECUTE ON FUNCTION semcode_rank(name, int) FROM PUBLIC
`;

/**
 * Migration 8: the same rules, cheaper to plan and run (bench/rls.ts). The first policies read the view
 * `codebase_levels` in a subquery: PostgreSQL then plans that view (a UNION over the grants and the roles)
 * once per policy and per mention of a table, for every statement, which cost a member's search more than
 * the search itself. Now a policy checks the row's codebase against an array the caller's levels give,
 * computed once per statement (an uncorrelated scalar subquery becomes an InitPlan) by a PL/pgSQL function
 * whose plan the session keeps. Writes get one policy per command, so a read is checked against the
 * read rule alone. And the full-text candidate functions say how many rows they return (at most k): with
 * PostgreSQL's default guess of 1000, a member's search joined them to `chunks` by scanning all of it.
 */
// Containment, not \`= ANY\`: the planner would take \`codebase_id = ANY(...)\` as the leading key of a
// composite index (term_stats, chunks_by_file) and leave the caller's own key as a filter.
const readable = (rank: number, column = 'codebase_id') => `(SELECT semcode_codebases(${rank})) @> ARRAY[${column}]`;

function scopedPoliciesV2(table: string): string {
  return `DROP POLICY ${table}_read ON ${table};
DROP POLICY ${table}_write ON ${table};
CREATE POLICY ${table}_read ON ${table} FOR SELECT USING (${readable(1)});
CREATE POLICY ${table}_insert ON ${table} FOR INSERT WITH CHECK (${readable(2)});
CREATE POLICY ${table}_update ON ${table} FOR UPDATE USING (${readable(2)});
CREATE POLICY ${table}_delete ON ${table} FOR DELETE USING (${readable(2)});`;
}

export const ACCESS_POLICIES_V2_SQL = `
-- The codebases on which the calling role has at least min_rank (1 read, 2 write, 3 owner). It runs with the
-- caller's rights (the view reads the grants for it); its search_path is fixed, so a caller's own objects
-- cannot stand in for the view.
CREATE FUNCTION semcode_codebases(min_rank int) RETURNS int[]
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
BEGIN
  RETURN coalesce((SELECT array_agg(l.codebase_id) FROM codebase_levels l WHERE l.rank >= min_rank), '{}');
END
$$;

DROP POLICY codebases_read ON codebases;
DROP POLICY codebases_write ON codebases;
DROP POLICY codebases_drop ON codebases;
CREATE POLICY codebases_read ON codebases FOR SELECT USING (${readable(1, 'id')});
CREATE POLICY codebases_write ON codebases FOR UPDATE USING (${readable(2, 'id')});
CREATE POLICY codebases_drop ON codebases FOR DELETE USING (${readable(3, 'id')});

DROP POLICY access_read ON codebase_access;
DROP POLICY access_admin ON codebase_access;
CREATE POLICY access_read ON codebase_access FOR SELECT USING (${readable(1)});
CREATE POLICY access_insert ON codebase_access FOR INSERT WITH CHECK (${readable(3)});
CREATE POLICY access_update ON codebase_access FOR UPDATE USING (${readable(3)});
CREATE POLICY access_delete ON codebase_access FOR DELETE USING (${readable(3)});

DROP POLICY roots_read ON codebase_roots;
CREATE POLICY roots_read ON codebase_roots FOR ALL USING (${readable(1)});

${SCOPED_TABLES.map(scopedPoliciesV2).join('\n')}

ALTER FUNCTION semcode_text_candidates(int, text, sparsevec, int, text, text) ROWS 50;
ALTER FUNCTION semcode_symbol_candidates(int, text) ROWS 50
`;

/**
 * Migration 9: a folder's mapping to its codebase is the connecting role's own. Keyed by (host, path) alone,
 * two developers on one shared machine could not both have a clone of one codebase (the second was "two
 * folders with one name"), and a reader could remove another role's mappings. Existing mappings go to the
 * role that migrates (the schema's owner); a member's next request maps its folder again.
 */
export const ROOTS_PER_ROLE_SQL = `
ALTER TABLE codebase_roots ADD COLUMN role text NOT NULL DEFAULT current_user;
ALTER TABLE codebase_roots DROP CONSTRAINT codebase_roots_pkey;
ALTER TABLE codebase_roots ADD PRIMARY KEY (host, role, path);
DROP POLICY roots_read ON codebase_roots;
CREATE POLICY roots_own ON codebase_roots FOR ALL USING (role = current_user AND ${readable(1)})
`;

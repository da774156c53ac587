/**
 * Maintenance of the index tables that only their owner may do: HNSW builds and drops, merging the full-text
 * indexes' pending lists, ANALYZE. In team mode writers are other roles, so each step is a SECURITY DEFINER
 * function of the schema (accessSchema.ts) that runs as the owner after checking the caller may write the
 * codebase. PGlite's single user owns everything and takes the same path.
 */
import type { Queryable } from './db';

/**
 * Fresh planner statistics and merged full-text pending lists after a bulk change, so searches pick the
 * GIN indexes and don't read new entries one by one. Returns false when this session may not write the codebase.
 */
export async function refreshTextIndexes(db: Queryable, codebaseId: number): Promise<boolean> {
  const r = await db.query<{ ok: boolean }>('SELECT semcode_refresh_text_indexes($1) AS ok', [codebaseId]);
  return r.rows[0]?.ok === true;
}

/** Drops a codebase's HNSW index (before a rebuild with another model). */
export async function dropHnsw(db: Queryable, codebaseId: number): Promise<void> {
  await db.query('SELECT semcode_set_hnsw($1, NULL, 0)', [codebaseId]);
}

/**
 * Whether the session's role owns the index tables (or belongs to the owning role): row-level security does
 * not restrict it, so plain queries may use every index (chunkQueries.ts CandidatePath).
 */
export async function ownsIndexTables(db: Queryable): Promise<boolean> {
  const r = await db.query<{ ok: boolean }>(`SELECT pg_has_role(relowner, 'USAGE') AS ok FROM pg_class WHERE oid = 'chunks'::regclass`);
  return r.rows[0]?.ok === true;
}

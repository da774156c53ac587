/**
 * Owner-only maintenance of the index tables: HNSW builds (CREATE/DROP INDEX), merging the full-text
 * indexes' pending lists, ANALYZE. PostgreSQL lets only the table's owner (or a member of its role) do
 * these; in team mode writers are other roles, so every such step goes through here and a session that
 * may not do it skips it cleanly: search stays correct (exact vector scans until the owner builds the
 * index; unmerged pending entries are still read), only slower. PGlite's single user owns everything.
 */
import type { Queryable } from './db';

/** Whether this session may maintain the chunks table (it owns it, or belongs to the owning role). */
export async function mayMaintain(db: Queryable): Promise<boolean> {
  const r = await db.query<{ ok: boolean }>(`SELECT pg_has_role(relowner, 'USAGE') AS ok FROM pg_class WHERE oid = 'chunks'::regclass`);
  return r.rows[0]?.ok === true;
}

/**
 * Fresh planner statistics and merged full-text pending lists after a bulk change, so searches pick the
 * GIN indexes and don't read new entries one by one. Returns false when this session may not.
 */
export async function refreshTextIndexes(db: Queryable): Promise<boolean> {
  if (!(await mayMaintain(db))) return false;
  await db.query('ANALYZE chunks');
  await db.query(`SELECT gin_clean_pending_list(oid) FROM pg_class WHERE oid IN ('chunks_tsv'::regclass, 'chunks_symbol_words'::regclass)`);
  return true;
}

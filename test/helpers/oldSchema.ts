// A database as an earlier release left it: only its first `released` migrations applied, for upgrade tests.
import type { Db } from '../../server/src/store/db';
import { MIGRATIONS, migrate } from '../../server/src/store/migrations';
import type { DbTarget } from '../../server/src/store/open';
import { PgPoolDb } from '../../server/src/store/pgPool';
import { PgliteDb } from '../../server/src/store/pglite';

export async function openWithMigrations(target: DbTarget, released: number): Promise<Db> {
  const later = MIGRATIONS.splice(released);
  try {
    const db = target.url ? await PgPoolDb.open(target.url) : await PgliteDb.open(target.dir!);
    await migrate(db);
    return db;
  } finally {
    MIGRATIONS.push(...later);
  }
}

/**
 * Takes a database at migration 9 back to what release 5 left (no permissions, one shared embedding cache),
 * data kept: for upgrade tests of migration 6, and of earlier ones on an index built by today's engine.
 */
export async function revertToRelease5(db: Db): Promise<void> {
  const policies = await db.query<{ t: string; p: string }>(`SELECT tablename AS t, policyname AS p FROM pg_policies WHERE schemaname = current_schema()`);
  for (const { t, p } of policies.rows) await db.query(`DROP POLICY ${p} ON ${t}`);
  await db.exec(`
    ALTER TABLE codebase_roots DROP CONSTRAINT codebase_roots_pkey;
    ALTER TABLE codebase_roots DROP COLUMN role;
    ALTER TABLE codebase_roots ADD PRIMARY KEY (host, path);
    DELETE FROM schema_migrations WHERE version = 9;
    DROP FUNCTION semcode_codebases(int);
    DELETE FROM schema_migrations WHERE version = 8;
    DROP FUNCTION semcode_take(text);
    DROP TABLE rate_usage, role_limits;
    DELETE FROM schema_migrations WHERE version = 7;
    DROP VIEW codebase_levels;
    DROP TRIGGER codebase_owner ON codebases;
    DROP FUNCTION semcode_codebase_created(), semcode_text_candidates(int, text, sparsevec, int, text, text),
      semcode_symbol_candidates(int, text), semcode_set_hnsw(int, int, int), semcode_refresh_text_indexes(int), semcode_rank(name, int);
    DROP TABLE codebase_access;
    ALTER TABLE codebases DROP COLUMN created_by;
    ALTER TABLE codebases DISABLE ROW LEVEL SECURITY;
    ALTER TABLE codebase_roots DISABLE ROW LEVEL SECURITY;
    ALTER TABLE files DISABLE ROW LEVEL SECURITY;
    ALTER TABLE chunks DISABLE ROW LEVEL SECURITY;
    ALTER TABLE embedding_cache DISABLE ROW LEVEL SECURITY;
    ALTER TABLE term_stats DISABLE ROW LEVEL SECURITY;
    ALTER TABLE training_runs DISABLE ROW LEVEL SECURITY;
    DELETE FROM embedding_cache e USING embedding_cache f
      WHERE e.model_hash = f.model_hash AND e.input_hash = f.input_hash AND e.codebase_id > f.codebase_id;
    DROP INDEX embedding_cache_by_input;
    ALTER TABLE embedding_cache DROP CONSTRAINT embedding_cache_pkey;
    ALTER TABLE embedding_cache DROP COLUMN codebase_id;
    ALTER TABLE embedding_cache ADD PRIMARY KEY (model_hash, input_hash);
    DELETE FROM schema_migrations WHERE version = 6;`);
}

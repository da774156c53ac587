import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Db } from './db';
import { migrate } from './migrations';
import { PgPoolDb, type PoolOptions } from './pgPool';
import { PgliteDb } from './pglite';

export interface DbTarget {
  /** postgres:// URL of a shared server */
  url?: string;
  /** PGlite directory; defaults to the per-user state directory */
  dir?: string;
  pool?: PoolOptions;
  /**
   * Create the embedded database when the directory holds none (default true). `false` (status, search):
   * a directory without one is `not_indexed` "no index at DIR", and nothing is created, not even the directory.
   */
  create?: boolean;
}

/** `${XDG_CACHE_HOME:-~/.cache}/semcode`: never inside the indexed folder unless asked. */
export function defaultDbDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'semcode');
}

export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//i.test(s);
}

/** Opens the database named by the target and brings its schema up to date. */
export async function openDb(target: DbTarget): Promise<Db> {
  const db: Db = target.url ? await PgPoolDb.open(target.url, target.pool) : await PgliteDb.open(target.dir ?? defaultDbDir(), { create: target.create });
  try {
    await migrate(db);
  } catch (e) {
    await db.close().catch(() => {});
    throw e;
  }
  return db;
}

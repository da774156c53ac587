import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { SemcodeError, errorMessage } from '../errors';
import { type Db, type Queryable, type QueryResult, SESSION_SETTINGS } from './db';
import { DirLock } from './lock';

function pgliteError(e: unknown, location: string): SemcodeError {
  if (e instanceof SemcodeError) return e;
  return new SemcodeError('db_error', `database error in ${location}: ${errorMessage(e)}`, { cause: e });
}

class PgliteQueryable implements Queryable {
  constructor(
    private readonly target: PGlite | Transaction,
    private readonly location: string,
  ) {}
  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    try {
      const r = await this.target.query<T>(sql, params);
      return { rows: r.rows, affected: r.affectedRows ?? 0 };
    } catch (e) {
      throw pgliteError(e, this.location);
    }
  }
}

/**
 * The embedded default: PostgreSQL compiled to WASM, in this process. `dir` holds the data directory
 * (`pgdata/`) and the lock file; `null` opens a throwaway in-memory database (tests, benchmarks).
 */
export class PgliteDb implements Db {
  readonly kind = 'pglite' as const;
  private readonly q: PgliteQueryable;

  private constructor(
    private readonly pg: PGlite,
    readonly location: string,
    private readonly lock: DirLock | null,
  ) {
    this.q = new PgliteQueryable(pg, location);
  }

  static async open(dir: string | null): Promise<PgliteDb> {
    let lock: DirLock | null = null;
    let dataDir: string | undefined;
    let location = 'memory';
    if (dir !== null) {
      location = resolve(dir);
      try {
        mkdirSync(location, { recursive: true });
      } catch (e) {
        throw new SemcodeError('io_error', `cannot create the index directory ${location}: ${errorMessage(e)}`);
      }
      lock = DirLock.acquire(join(location, 'semcode.lock'), `the index database ${location}`);
      dataDir = join(location, 'pgdata');
    }
    try {
      const pg = await PGlite.create({ dataDir, extensions: { vector } });
      await pg.exec(`CREATE EXTENSION IF NOT EXISTS vector; ${SESSION_SETTINGS}`);
      return new PgliteDb(pg, location, lock);
    } catch (e) {
      lock?.release();
      throw pgliteError(e, location);
    }
  }

  query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    return this.q.query<T>(sql, params);
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.pg.exec(sql);
    } catch (e) {
      throw pgliteError(e, this.location);
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    try {
      return await this.pg.transaction((tx) => fn(new PgliteQueryable(tx, this.location)));
    } catch (e) {
      throw pgliteError(e, this.location);
    }
  }

  async close(): Promise<void> {
    try {
      await this.pg.close();
    } finally {
      this.lock?.release();
    }
  }
}

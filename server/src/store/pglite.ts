import { type Dirent, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { SemcodeError, errorMessage } from '../errors';
import { type Db, type LeaseKey, type LeaseResult, type Queryable, type QueryResult, SESSION_SETTINGS } from './db';
import { LocalLeases } from './localLease';
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
const MIN_BUFFERS_MB = 128; // PGlite's default
const MAX_BUFFERS_MB = 512;

/**
 * PGlite's buffer cache, sized to the database found on disk (64 MB steps, 128 to 512 MB). Pages that miss it
 * are read through the WASM file system: at 100k chunks (a 520 MB database) the default 128 MB made hybrid
 * search 38 ms at p50 against 25 ms with 512 MB. It is set at start-up and costs its size in resident memory
 * (PGlite commits it), so small indexes keep the default.
 */
export function sharedBuffersMb(baseDir: string): number {
  const mb = directoryBytes(baseDir) / 2 ** 20;
  return Math.min(MAX_BUFFERS_MB, Math.max(MIN_BUFFERS_MB, Math.ceil(mb / 64) * 64));
}

function directoryBytes(dir: string): number {
  let total = 0;
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0; // a database not created yet
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += directoryBytes(p);
    else if (e.isFile()) total += statSync(p, { throwIfNoEntry: false })?.size ?? 0;
  }
  return total;
}

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
      const buffers = dataDir ? sharedBuffersMb(join(dataDir, 'base')) : MIN_BUFFERS_MB;
      const pg = await PGlite.create({
        dataDir,
        extensions: { vector },
        startParams: [
          ...PGlite.defaultStartParams,
          ...(buffers > MIN_BUFFERS_MB ? ['-c', `shared_buffers=${buffers}MB`] : []),
          // PGlite keeps up to max_wal_size of WAL beside the data: with the 1 GB default a 520 MB index of
          // 100k chunks came with 961 MB of pg_wal; 256 MB loaded it no slower (checkpoints run in-process).
          '-c',
          'max_wal_size=256MB',
          '-c',
          'min_wal_size=32MB',
        ],
      });
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

  private readonly leases = new LocalLeases();

  async tryLease(key: LeaseKey, label: string): Promise<LeaseResult> {
    return this.leases.tryLease(key, label);
  }

  async close(): Promise<void> {
    try {
      await this.pg.close();
    } finally {
      this.lock?.release();
    }
  }
}

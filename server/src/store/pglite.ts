import { type Dirent, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { SemcodeError } from '../errors';
import {
  type Db,
  type LeaseKey,
  type LeaseResult,
  type Principal,
  type Queryable,
  type QueryResult,
  type Session,
  SESSION_SETTINGS,
  loginPrincipal,
} from './db';
import { diskFullError, mkdirReason } from './diskErrors';
import { LocalLeases } from './localLease';
import { DirLock } from './lock';
import { GuardedNodeFS } from './storageGuard';

function pgliteError(e: unknown, location: string): SemcodeError {
  if (e instanceof SemcodeError) return e;
  return new SemcodeError('db_error', `database error in ${location}: ${describeError(e)}`, { cause: e });
}

/** Emscripten's errno numbers (not the host's) for the errors its file system reports. */
const EMSCRIPTEN_ERRNO: Record<number, string> = {
  2: 'EACCES (permission denied)',
  8: 'EBADF (bad file descriptor)',
  19: 'EDQUOT (disk quota exceeded)',
  20: 'EEXIST (file exists)',
  22: 'EFBIG (file too large)',
  28: 'EINVAL (invalid argument)',
  29: 'EIO (input/output error)',
  31: 'EISDIR (is a directory)',
  33: 'EMFILE (too many open files)',
  41: 'ENFILE (too many open files in system)',
  44: 'ENOENT (no such file or directory)',
  51: 'ENOSPC (no space left on device)',
  54: 'ENOTDIR (not a directory)',
  55: 'ENOTEMPTY (directory not empty)',
  63: 'EPERM (operation not permitted)',
  69: 'EROFS (read-only file system)',
};

/**
 * One line for anything PGlite throws. Emscripten's file system throws `{ name: 'ErrnoError', errno }`, not
 * an Error: printed as is it read "[object Object]".
 */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object') {
    const o = e as { name?: unknown; errno?: unknown; message?: unknown };
    if (typeof o.errno === 'number') return `file system error ${EMSCRIPTEN_ERRNO[o.errno] ?? `errno ${o.errno}`}`;
    if (typeof o.message === 'string' && o.message) return o.message;
    try {
      const json = JSON.stringify(e);
      if (json && json !== '{}') return json;
    } catch {
      /* circular */
    }
    return `unexpected ${o.constructor?.name ?? 'object'} thrown`;
  }
  return String(e);
}

class PgliteQueryable implements Queryable {
  constructor(
    private readonly target: PGlite | Transaction,
    /** what a failure becomes (the database's own failure once it has stopped) */
    private readonly fail: (e: unknown) => SemcodeError,
  ) {}
  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    try {
      const r = await this.target.query<T>(sql, params);
      return { rows: r.rows, affected: r.affectedRows ?? 0 };
    } catch (e) {
      throw this.fail(e);
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

export interface PgliteOpenOptions {
  /** false: a directory that holds no database is `not_indexed` ("no index at DIR") and nothing is created */
  create?: boolean;
}

export class PgliteDb implements Db {
  readonly kind = 'pglite' as const;
  private readonly q: PgliteQueryable;
  /** the connecting role, looked up once */
  readonly principal = loginPrincipal(this);
  /** null once closed, or once stopped by a fatal storage error: a stopped PGlite is never called again */
  private pg: PGlite | null;

  private constructor(
    pg: PGlite,
    readonly location: string,
    private readonly lock: DirLock | null,
    private readonly guard: GuardedNodeFS | null,
  ) {
    this.pg = pg;
    this.q = new PgliteQueryable(pg, (e) => this.failed(e));
  }

  static async open(dir: string | null, opts: PgliteOpenOptions = {}): Promise<PgliteDb> {
    let lock: DirLock | null = null;
    let dataDir: string | undefined;
    let location = 'memory';
    let fresh = false;
    if (dir !== null) {
      location = resolve(dir);
      dataDir = join(location, 'pgdata');
      if (opts.create === false && !existsSync(join(dataDir, 'PG_VERSION'))) {
        throw new SemcodeError('not_indexed', `no index at ${location}`);
      }
      try {
        mkdirSync(location, { recursive: true });
      } catch (e) {
        throw new SemcodeError('io_error', `cannot create the index directory ${location}: ${mkdirReason(location, e)}`);
      }
      lock = DirLock.acquire(join(location, 'semcode.lock'), `the index database ${location}`);
      fresh = !existsSync(dataDir);
      // PostgreSQL's own lock file, created but never written because the disk was full, stops every later
      // start ("lock file postmaster.pid is empty"); the directory lock is ours, so no server is starting.
      const pidFile = join(dataDir, 'postmaster.pid');
      if (statSync(pidFile, { throwIfNoEntry: false })?.size === 0) rmSync(pidFile, { force: true });
    }
    let guard: GuardedNodeFS | null = null;
    let pg: PGlite | null = null;
    try {
      const buffers = dataDir ? sharedBuffersMb(join(dataDir, 'base')) : MIN_BUFFERS_MB;
      guard = dataDir ? new GuardedNodeFS(dataDir, location) : null;
      pg = await PGlite.create({
        dataDir,
        fs: guard ?? undefined,
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
      return new PgliteDb(pg, location, lock, guard);
    } catch (e) {
      const failure = startupError(e, location, guard);
      if (pg && !guard?.failure) await pg.close().catch(() => {});
      guard?.releaseFiles();
      // A database this open began to create and could not finish is removed: a later open would take the
      // half-written directory for a database.
      if (fresh && dataDir) rmSync(dataDir, { recursive: true, force: true });
      lock?.release();
      throw failure;
    }
  }

  query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    this.live();
    return this.q.query<T>(sql, params);
  }

  async exec(sql: string): Promise<void> {
    const pg = this.live();
    try {
      await pg.exec(sql);
    } catch (e) {
      throw this.failed(e);
    }
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const pg = this.live();
    try {
      return await pg.transaction((tx) => fn(new PgliteQueryable(tx, (e) => this.failed(e))));
    } catch (e) {
      throw this.failed(e);
    }
  }

  async withSession<T>(principal: Principal, fn: (s: Session) => Promise<T>): Promise<T> {
    // Its one user owns everything, and a SET ROLE on the one connection would hold for every other caller too.
    if (principal.role !== undefined) {
      throw new SemcodeError('usage', `the embedded database in ${this.location} has one user: a session cannot take the role ${principal.role}`);
    }
    const owner = await this.principal();
    if (principal.user !== owner.user) throw new SemcodeError('usage', `a session on ${this.location} runs as ${owner.user}, not ${principal.user}`);
    let open = true;
    const live = () => {
      if (!open) throw new SemcodeError('db_error', 'the session has ended');
    };
    const session: Session = {
      principal,
      query: async (sql, params) => {
        live();
        return this.query(sql, params);
      },
      transaction: async (f) => {
        live();
        return this.transaction(f);
      },
    };
    try {
      return await fn(session);
    } finally {
      open = false;
    }
  }

  private live(): PGlite {
    if (this.pg) return this.pg;
    throw this.guard?.failure ?? new SemcodeError('db_error', `the database in ${this.location} is closed`);
  }

  /** What a failed call throws: once the storage guard has stopped PGlite, its error, whatever surfaced. */
  private failed(e: unknown): SemcodeError {
    const failure = this.guard?.failure;
    if (!failure) return pgliteError(e, this.location);
    this.stop();
    return failure;
  }

  /** Drops a stopped instance without a shutdown checkpoint: its files closed, the lock released. */
  private stop(): void {
    if (!this.pg) return;
    this.pg = null;
    this.guard?.releaseFiles();
    this.lock?.release();
  }

  private readonly leases = new LocalLeases();

  tryLease(key: LeaseKey, label: string): Promise<LeaseResult> {
    return Promise.resolve(this.leases.tryLease(key, label));
  }

  /** A stopped database closes quietly: its failure was thrown where it happened. */
  async close(): Promise<void> {
    const pg = this.pg;
    this.pg = null;
    try {
      await pg?.close();
    } finally {
      this.lock?.release();
    }
    const failure = pg ? this.guard?.failure : null;
    if (failure) {
      // the shutdown checkpoint ran out of space: recovery replays it at the next open
      this.guard!.releaseFiles();
      throw failure;
    }
  }
}

/** Why PGlite did not start, with PostgreSQL's own FATAL or PANIC line when it printed one. */
function startupError(e: unknown, location: string, guard: GuardedNodeFS | null): SemcodeError {
  if (guard?.failure) return guard.failure;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return diskFullError(location, code);
  const err = pgliteError(e, location);
  if (guard?.lastFatal && !err.message.includes(guard.lastFatal)) {
    return new SemcodeError(err.code, `${err.message} (${guard.lastFatal})`, { cause: e });
  }
  return err;
}

import pg from 'pg';
import { SemcodeError, errorMessage } from '../errors';
import {
  type Db,
  type LeaseKey,
  type LeaseResult,
  type Principal,
  type Queryable,
  type QueryResult,
  type Session,
  SESSION_OPTIONS,
  libpqUrl,
  loginPrincipal,
  quoteIdent,
  redactUrl,
} from './db';

export interface PoolOptions {
  /** connections at most (default 4); requests beyond it wait in the pool's queue */
  max?: number;
  /** how long a request waits for a connection, queued or connecting (ms, default 5000): then db_busy or db_unreachable */
  connectTimeoutMs?: number;
  /**
   * server-side statement timeout (ms, default 120000; 0 = none): a runaway query is cancelled (db_timeout)
   * rather than holding a connection. The HNSW build and BM25 recount lift it for their own transaction.
   */
  statementTimeoutMs?: number;
  /** an idle connection is closed after this long (ms, default 30000) */
  idleTimeoutMs?: number;
}

const DEFAULT_STATEMENT_TIMEOUT_MS = 120_000;

/** The server ended the connection (shut down, restarted, or an admin terminated it): it must not be reused. */
function connectionLost(code: string | undefined): boolean {
  return code === '57P01' || code === '57P02' || code === '57P03' || (code?.startsWith('08') ?? false);
}

/** Maps a driver error to a typed one: unreachable servers are a different thing from bad SQL. */
export function pgError(e: unknown, location: string): SemcodeError {
  if (e instanceof SemcodeError) return e;
  const code = (e as { code?: string }).code;
  const msg = errorMessage(e);
  const unreachable =
    connectionLost(code) ||
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code === 'EHOSTUNREACH' ||
    code === 'ETIMEDOUT' ||
    code === '3D000' || // database does not exist
    code === '28P01' ||
    code === '28000' ||
    /timeout exceeded when trying to connect|Connection terminated/i.test(msg);
  if (unreachable) return new SemcodeError('db_unreachable', `database unreachable at ${location}: ${msg}`, { cause: e });
  // semcode_take's limit (limitsSchema.ts), and PostgreSQL's per-role connection limit (not the server's own max_connections)
  if (code === '53400') return new SemcodeError('rate_limited', `${msg} (${location})`, { cause: e });
  if (code === '53300' && /for role/i.test(msg)) {
    return new SemcodeError(
      'rate_limited',
      `${msg} at ${location}: the team's admin sets it (semcode team limit --connections); a smaller semcode.databasePoolSize holds fewer`,
      {
        cause: e,
      },
    );
  }
  if (code === '57014') return new SemcodeError('db_timeout', `a statement took longer than the statement timeout at ${location}: ${msg}`, { cause: e });
  // insufficient_privilege, and a row-level-security check that refused a written row
  if (code === '42501') return new SemcodeError('permission_denied', `permission denied at ${location}: ${msg}`, { cause: e });
  return new SemcodeError('db_error', `database error at ${location}: ${msg}`, { cause: e });
}

class PgQueryable implements Queryable {
  constructor(
    private readonly target: pg.Pool | pg.PoolClient,
    private readonly location: string,
  ) {}
  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    try {
      const r = await this.target.query(sql, params as unknown[]);
      return { rows: r.rows as T[], affected: r.rowCount ?? 0 };
    } catch (e) {
      throw pgError(e, this.location);
    }
  }
}

/** A session on one pool client. `closed` once its fn is done: an escaped reference must not reach the next user's connection. */
class PgSession implements Session {
  private readonly q: PgQueryable;
  /** the session's statements in order: what its transactions' fn runs on too */
  private readonly ordered: Queryable = { query: (sql, params) => this.inTurn(() => this.q.query(sql, params)) };
  private tail: Promise<unknown> = Promise.resolve();
  closed = false;
  /** set when the connection must not go back to the pool */
  broken = false;
  private inTransaction = false;

  constructor(
    readonly principal: Principal,
    private readonly client: pg.PoolClient,
    private readonly location: string,
  ) {
    this.q = new PgQueryable(client, location);
  }

  async query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    this.live();
    try {
      return await this.ordered.query<T>(sql, params);
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      if (connectionLost(cause?.code) || /Connection terminated/i.test(cause?.message ?? '')) this.broken = true;
      throw e;
    }
  }

  /**
   * Runs `run` once the statements issued before it have finished: pg 8 queues a client's concurrent queries
   * but deprecates that (pg 9 drops it), and a ROLLBACK or RESET ROLE must come after a stray query of fn's.
   */
  inTurn<T>(run: () => Promise<T>): Promise<T> {
    const next = this.tail.then(run);
    this.tail = next.catch(() => {});
    return next;
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    this.live();
    // One connection has one transaction: a second BEGIN only warns, and its COMMIT would end the first.
    if (this.inTransaction) throw new SemcodeError('db_error', 'a session runs one transaction at a time');
    this.inTransaction = true;
    try {
      await this.ordered.query('BEGIN');
      const out = await fn(this.ordered);
      await this.ordered.query('COMMIT');
      return out;
    } catch (e) {
      try {
        await this.inTurn(() => this.client.query('ROLLBACK'));
      } catch {
        this.broken = true; // the connection is gone: don't hand it back to the pool
      }
      throw e instanceof SemcodeError ? e : pgError(e, this.location);
    } finally {
      this.inTransaction = false;
    }
  }

  private live(): void {
    if (this.closed) throw new SemcodeError('db_error', 'the session has ended: its connection is back in the pool');
  }
}

export class PgPoolDb implements Db {
  readonly kind = 'postgres' as const;
  readonly location: string;
  private readonly pool: pg.Pool;
  /** the connecting role, looked up once */
  readonly principal = loginPrincipal(this);

  private constructor(
    private readonly url: string,
    private readonly opts: PoolOptions,
  ) {
    this.location = redactUrl(url);
    this.pool = new pg.Pool({
      connectionString: libpqUrl(url),
      max: opts.max ?? 4,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      idleTimeoutMillis: opts.idleTimeoutMs ?? 30_000,
      statement_timeout: opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
      application_name: 'semcode',
      // Set at connection start (custom settings are accepted before pgvector loads and kept after).
      options: SESSION_OPTIONS,
    });
    // An idle client that loses its server must not crash the process.
    this.pool.on('error', () => {});
  }

  static async open(url: string, opts: PoolOptions = {}): Promise<PgPoolDb> {
    const db = new PgPoolDb(url, opts);
    try {
      await db.pool.query('SELECT 1');
    } catch (e) {
      await db.pool.end().catch(() => {});
      throw pgError(e, db.location);
    }
    return db;
  }

  query<T>(sql: string, params?: unknown[]): Promise<QueryResult<T>> {
    return this.onClient(null, (s) => s.query<T>(sql, params));
  }

  async exec(sql: string): Promise<void> {
    await this.query(sql);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.onClient(null, (s) => s.transaction(fn));
  }

  withSession<T>(principal: Principal, fn: (s: Session) => Promise<T>): Promise<T> {
    return this.onClient(principal, fn);
  }

  /**
   * fn on one client of the pool, as `principal`, and the client released in the end. null: the login role
   * as is, for `transaction`, whose session is never handed out (so its principal is not looked up).
   */
  private async onClient<T>(principal: Principal | null, fn: (s: PgSession) => Promise<T>): Promise<T> {
    const who = principal ?? { user: '' };
    if (principal) {
      const login = await this.principal();
      // A principal is the role this pool logs in as: it cannot grant a session another login's rights.
      if (principal.user !== login.user) {
        throw new SemcodeError('usage', `a session on ${this.location} runs as ${login.user}, not ${principal.user}`);
      }
    }
    let client: pg.PoolClient;
    const saturated = this.pool.totalCount >= (this.opts.max ?? 4);
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw this.acquireError(e, saturated);
    }
    const session = new PgSession(who, client, this.location);
    // A checked-out client whose connection dies emits 'error'; unheard, that would crash the process.
    // The query in flight rejects on its own; the client must just not go back to the pool.
    const onError = () => {
      session.broken = true;
    };
    client.on('error', onError);
    const role = principal?.role;
    let roleSet = false;
    try {
      if (role !== undefined) {
        await session.query(`SET ROLE ${quoteIdent(role)}`);
        roleSet = true;
      }
      return await fn(session);
    } finally {
      session.closed = true;
      // The pool hands this connection to the next caller as is: it must be the login role again.
      if (roleSet && !session.broken) {
        try {
          await session.inTurn(() => client.query('RESET ROLE'));
        } catch {
          session.broken = true;
        }
      }
      client.removeListener('error', onError);
      client.release(session.broken || undefined);
    }
  }

  /**
   * A connection that did not come in time: with every connection checked out when the request began, the
   * server is reachable and the pool is busy (db_busy); otherwise connecting failed (pgError).
   */
  private acquireError(e: unknown, saturated: boolean): SemcodeError {
    if (saturated && /timeout exceeded when trying to connect/i.test(errorMessage(e))) {
      const ms = this.opts.connectTimeoutMs ?? 5_000;
      return new SemcodeError('db_busy', `database busy at ${this.location}: all ${this.opts.max ?? 4} connections stayed in use for ${ms} ms; try again`, {
        cause: e,
      });
    }
    return pgError(e, this.location);
  }

  async tryLease(key: LeaseKey, label: string): Promise<LeaseResult> {
    // Its own connection, outside the pool: a session lock lives as long as its connection, and a lease held
    // for a whole index run must not take one of the pool's connections from the requests.
    const client = new pg.Client({
      connectionString: libpqUrl(this.url),
      connectionTimeoutMillis: this.opts.connectTimeoutMs ?? 5_000,
      application_name: label.slice(0, 63),
    });
    client.on('error', () => {}); // a lost lease connection must not crash the process; writes stay idempotent
    try {
      await client.connect();
      const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', key);
      if (got.rows[0]!.ok) {
        return { lease: { release: () => client.end().catch(() => {}) } };
      }
      // The two-int form shows up in pg_locks as classid/objid with objsubid 2.
      const who = await client.query<{ app: string | null; addr: string | null; pid: number }>(
        `SELECT a.application_name AS app, host(a.client_addr) AS addr, a.pid
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2`,
        key,
      );
      await client.end().catch(() => {});
      const h = who.rows[0];
      return { holder: h ? `${h.app || 'another client'}${h.addr ? ` from ${h.addr}` : ''} (server pid ${h.pid})` : 'another client' };
    } catch (e) {
      await client.end().catch(() => {});
      throw pgError(e, this.location);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

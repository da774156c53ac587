/**
 * The one database seam. PGlite (embedded, the default) and a pg.Pool (a shared PostgreSQL server) both
 * implement it, and every query in the project is written once against it in plain PostgreSQL SQL.
 */
export interface QueryResult<T> {
  rows: T[];
  /** rows changed by INSERT/UPDATE/DELETE */
  affected: number;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
}

export type DbKind = 'pglite' | 'postgres';

/** An exclusive lease on a key (a codebase being indexed), held until released or the process ends. */
export interface Lease {
  release(): Promise<void>;
}

/** What `Db.tryLease` gives back: the lease, or who holds it now. */
export type LeaseResult = { lease: Lease } | { holder: string };

/** What can run several statements as one transaction: the database, or a session on it. */
export interface Transactional extends Queryable {
  /** runs fn in one transaction on one connection: all of it commits or none of it does */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

/**
 * Who a session acts as. A later team mode's row-level-security policies decide by `current_user`, so it is a
 * PostgreSQL role: the one the database connects as, and optionally a role that connection takes for the
 * session. PGlite has a single local user that owns everything, and never another role.
 */
export interface Principal {
  /** the role the connection logs in as (PGlite: its one local user) */
  readonly user: string;
  /** PostgreSQL only: a role the session takes with SET ROLE (the login role must be a member of it) */
  readonly role?: string;
}

/**
 * Statements on one connection, as one principal: session settings and the role hold across its queries and
 * transactions, and no other caller's statement runs as it. It is usable only inside `withSession`'s fn.
 */
export interface Session extends Transactional {
  readonly principal: Principal;
}

export interface Db extends Transactional {
  readonly kind: DbKind;
  /** where the data lives, safe to print (a directory, or a URL without its password) */
  readonly location: string;
  /** the principal plain queries run as: the connecting role (`current_user`), looked up once */
  principal(): Promise<Principal>;
  /**
   * Runs fn on one connection for its whole duration, as `principal`: on PostgreSQL a connection taken from
   * the pool (with `SET ROLE` when the principal names a role, reset before the connection goes back); on
   * PGlite, whose one connection every query shares, the database itself, serialized as any other query.
   */
  withSession<T>(principal: Principal, fn: (s: Session) => Promise<T>): Promise<T>;
  /** several statements without parameters (migrations) */
  exec(sql: string): Promise<void>;
  /**
   * Takes the lease on `key` unless another holder has it: a session advisory lock on PostgreSQL, held on
   * a connection of its own for as long as the lease (so it spans many transactions and every process
   * that uses the server), and an in-process set on PGlite (whose directory lock keeps other processes
   * out). `label` names this holder to whoever finds the lease taken.
   */
  tryLease(key: LeaseKey, label: string): Promise<LeaseResult>;
  close(): Promise<void>;
}

/**
 * The connecting role (`current_user`), asked once per database: the principal plain queries run as. A
 * failure is not remembered: a database that fails now may answer the next call.
 */
export function loginPrincipal(q: Queryable): () => Promise<Principal> {
  let login: Promise<Principal> | null = null;
  return () =>
    (login ??= q.query<{ user: string }>('SELECT current_user AS user').then(
      (r) => ({ user: r.rows[0]!.user }),
      (e: unknown) => {
        login = null;
        throw e;
      },
    ));
}

/** Advisory-lock keys are (namespace, id) pairs; the namespace keeps Semcode's locks apart from others'. */
export type LeaseKey = [namespace: number, id: number];
export const CODEBASE_WRITER_LOCK = 7262532;

/**
 * Per-connection settings. Iterative HNSW scans (pgvector >= 0.8) make filtered vector searches return k
 * rows when k exist; ef_search 200 because 100 gave recall@10 of 0.88-0.91 at 100k chunks. random_page_cost
 * 1.1, as for data in memory or on SSD: with the default 4 the planner scanned all 10k chunks' tsvectors
 * (19 ms) rather than take 750 candidates from the GIN index (3 ms).
 */
const SETTINGS: [string, string][] = [
  ['hnsw.iterative_scan', 'relaxed_order'],
  ['hnsw.ef_search', '200'],
  ['random_page_cost', '1.1'],
];
export const SESSION_SETTINGS = SETTINGS.map(([k, v]) => `SET ${k} = ${v}`).join('; ');
/** The same settings as libpq startup options. */
export const SESSION_OPTIONS = SETTINGS.map(([k, v]) => `-c ${k}=${v}`).join(' ');

/** A name as a quoted SQL identifier (SET ROLE takes no parameters). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Removes passwords from a postgres URL so it can be printed: `user:pw@` and `?password=` (libpq takes both). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) if (/pass/i.test(key)) u.searchParams.set(key, '***');
    return u.toString().replace(/%2A%2A%2A/g, '***');
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@').replace(/([?&][^=&]*pass[^=&]*=)[^&]*/gi, '$1***');
  }
}

/**
 * The URL as libpq (psql) reads it: `sslmode=require` encrypts without checking the certificate, and
 * `verify-full` checks it. pg 8 instead treats require as verify-full and prints an 8-line warning before
 * anything else; its next major adopts libpq's meaning, which `uselibpqcompat=true` asks for now.
 */
export function libpqUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.searchParams.has('sslmode') && !u.searchParams.has('uselibpqcompat')) u.searchParams.set('uselibpqcompat', 'true');
    return u.toString();
  } catch {
    return url;
  }
}

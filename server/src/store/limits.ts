/**
 * Per-role rate limits (limitsSchema.ts keeps and counts them in the database): the admin's commands to set
 * and list them, and the charge every search and index run of a member pays first.
 */
import { SemcodeError } from '../errors';
import { type Queryable, quoteIdent } from './db';
import { ownsIndexTables } from './maintenance';

export type RateKind = 'search' | 'index';

/** A limit to set: a number, null to lift it, undefined to leave it as it is. */
export interface LimitChange {
  searchesPerMinute?: number | null;
  indexRunsPerHour?: number | null;
  /** PostgreSQL's own limit on the role's concurrent connections (ALTER ROLE … CONNECTION LIMIT) */
  connections?: number | null;
}

export interface LimitRow {
  role: string;
  searchesPerMinute: number | null;
  indexRunsPerHour: number | null;
  connections: number | null;
}

/** Charges one search or index run to the calling login role; a rate_limited error past its limit. */
export async function takeRate(db: Queryable, kind: RateKind): Promise<void> {
  await db.query('SELECT semcode_take($1)', [kind]);
}

/** Sets a role's limits; only the team's admin (the schema's owner) may. */
export async function setLimits(db: Queryable, role: string, change: LimitChange): Promise<LimitRow> {
  if (!(await ownsIndexTables(db))) {
    const me = (await db.query<{ role: string }>('SELECT current_user AS role')).rows[0]!.role;
    throw new SemcodeError('permission_denied', `role ${me} may not set limits: only the team's admin (the role that ran semcode team init) may`);
  }
  const r = await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  if (!r.rows.length) throw new SemcodeError('usage', `there is no database role ${role}`);
  if (change.searchesPerMinute !== undefined || change.indexRunsPerHour !== undefined) {
    // Only the fields given change; a row whose limits are all lifted goes.
    await db.query(
      `INSERT INTO role_limits AS l (role, searches_per_minute, index_runs_per_hour) VALUES ($1, $2, $3)
       ON CONFLICT (role) DO UPDATE SET
         searches_per_minute = CASE WHEN $4 THEN EXCLUDED.searches_per_minute ELSE l.searches_per_minute END,
         index_runs_per_hour = CASE WHEN $5 THEN EXCLUDED.index_runs_per_hour ELSE l.index_runs_per_hour END`,
      [role, change.searchesPerMinute ?? null, change.indexRunsPerHour ?? null, change.searchesPerMinute !== undefined, change.indexRunsPerHour !== undefined],
    );
    await db.query('DELETE FROM role_limits WHERE role = $1 AND searches_per_minute IS NULL AND index_runs_per_hour IS NULL', [role]);
  }
  if (change.connections !== undefined) await db.query(`ALTER ROLE ${quoteIdent(role)} CONNECTION LIMIT ${Math.trunc(change.connections ?? -1)}`);
  return (await listLimits(db, role))[0] ?? { role, searchesPerMinute: null, indexRunsPerHour: null, connections: null };
}

/** Every role with a limit of either kind (one role, with `role`). */
export async function listLimits(db: Queryable, role?: string): Promise<LimitRow[]> {
  const r = await db.query<{ role: string; s: number | null; i: number | null; c: number | null }>(
    `SELECT coalesce(l.role, p.rolname) AS role, l.searches_per_minute AS s, l.index_runs_per_hour AS i,
            CASE WHEN p.rolconnlimit >= 0 THEN p.rolconnlimit END AS c
       FROM role_limits l FULL JOIN (SELECT rolname, rolconnlimit FROM pg_roles WHERE rolconnlimit >= 0) p ON p.rolname = l.role
      WHERE $1::text IS NULL OR coalesce(l.role, p.rolname) = $1
      ORDER BY 1`,
    [role ?? null],
  );
  return r.rows.map((x) => ({ role: x.role, searchesPerMinute: x.s, indexRunsPerHour: x.i, connections: x.c }));
}

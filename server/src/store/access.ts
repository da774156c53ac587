/**
 * Who may do what with each codebase (accessSchema.ts enforces it in the database): reading one's own level,
 * granting, revoking and listing, and the team's group role. Every statement runs as the caller, so the
 * database refuses what the caller may not do even if a check here were skipped; the checks here only turn
 * a refusal into a message that names the codebase, the caller's level and the level needed.
 */
import { SemcodeError } from '../errors';
import { type Queryable, quoteIdent } from './db';

export type Level = 'read' | 'write' | 'owner';
export const LEVELS: readonly Level[] = ['read', 'write', 'owner'];

/** The group role `semcode team init` creates; members get the table privileges through it. */
export const DEFAULT_TEAM_ROLE = 'semcode_team';

/** The tables members read and write (row-level security decides which rows). */
const MEMBER_TABLES = ['codebases', 'codebase_roots', 'files', 'chunks', 'embedding_cache', 'term_stats', 'training_runs', 'codebase_access'];

export interface AccessRow {
  codebase: string;
  role: string;
  level: Level;
}

/** The calling role and its level on a codebase (null: none, so it does not see the codebase at all). */
export async function levelOn(db: Queryable, codebaseId: number): Promise<{ role: string; level: Level | null }> {
  const r = await db.query<{ role: string; rank: number | null }>(
    'SELECT current_user AS role, (SELECT max(rank) FROM codebase_levels WHERE codebase_id = $1) AS rank',
    [codebaseId],
  );
  const row = r.rows[0]!;
  return { role: row.role, level: row.rank ? LEVELS[Number(row.rank) - 1]! : null };
}

/** Throws permission_denied unless the caller has `needed` on the codebase; says who has what and what for. */
export async function requireLevel(db: Queryable, codebase: { id: number; name: string }, needed: Level, doing: string): Promise<void> {
  const { role, level } = await levelOn(db, codebase.id);
  if (level && LEVELS.indexOf(level) >= LEVELS.indexOf(needed)) return;
  throw new SemcodeError(
    'permission_denied',
    `role ${role} has ${level ?? 'no access'} on ${codebase.name}; ${doing} needs ${needed}` +
      (needed === 'owner' ? '' : `; an owner of it can run: semcode grant --codebase ${codebase.name} --role ${role} --level ${needed}`),
  );
}

/** The codebase of this name that the caller may see, or a permission_denied that says it may not. */
async function visibleCodebase(db: Queryable, name: string): Promise<{ id: number; name: string }> {
  const r = await db.query<{ id: number; name: string }>('SELECT id, name FROM codebases WHERE name = $1', [name]);
  if (r.rows[0]) return r.rows[0];
  const me = (await db.query<{ role: string }>('SELECT current_user AS role')).rows[0]!.role;
  throw new SemcodeError('permission_denied', `role ${me} has no access to a codebase named ${name} (or there is none)`);
}

/** Sets `role`'s level on a codebase; the caller must own it. */
export async function grant(db: Queryable, name: string, role: string, level: Level): Promise<void> {
  if (!LEVELS.includes(level)) throw new SemcodeError('usage', `unknown level ${level}: use ${LEVELS.join(', ')}`);
  const cb = await visibleCodebase(db, name);
  await requireLevel(db, cb, 'owner', 'granting access');
  await mustBeRole(db, role);
  await db.query(
    `INSERT INTO codebase_access (codebase_id, role, level) VALUES ($1, $2, $3)
     ON CONFLICT (codebase_id, role) DO UPDATE SET level = EXCLUDED.level`,
    [cb.id, role, level],
  );
}

/** Takes away `role`'s grant on a codebase; the caller must own it. Returns whether there was one. */
export async function revoke(db: Queryable, name: string, role: string): Promise<boolean> {
  const cb = await visibleCodebase(db, name);
  await requireLevel(db, cb, 'owner', 'revoking access');
  const r = await db.query('DELETE FROM codebase_access WHERE codebase_id = $1 AND role = $2', [cb.id, role]);
  return r.affected > 0;
}

/** Who has what, on the codebases the caller may see (one of them, with `name`). */
export async function accessList(db: Queryable, name?: string): Promise<AccessRow[]> {
  if (name !== undefined) await visibleCodebase(db, name);
  const r = await db.query<AccessRow>(
    `SELECT c.name AS codebase, a.role, a.level FROM codebase_access a JOIN codebases c ON c.id = a.codebase_id
      WHERE $1::text IS NULL OR c.name = $1 ORDER BY c.name, a.role`,
    [name ?? null],
  );
  return r.rows;
}

async function mustBeRole(db: Queryable, role: string): Promise<void> {
  const r = await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  if (!r.rows.length) throw new SemcodeError('usage', `there is no database role ${role}`);
}

/**
 * Makes the database a team's: the group role members join, with the table privileges row-level security
 * then narrows. Run by the schema's owner, once or again (it changes nothing the second time).
 */
export async function teamInit(db: Queryable, group = DEFAULT_TEAM_ROLE): Promise<void> {
  const g = quoteIdent(group);
  const exists = await db.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [group]);
  if (!exists.rows.length) await db.query(`CREATE ROLE ${g} NOLOGIN`);
  await db.query(`GRANT USAGE ON SCHEMA ${quoteIdent(await currentSchema(db))} TO ${g}`);
  await db.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${MEMBER_TABLES.join(', ')} TO ${g}`);
  await db.query(`GRANT SELECT ON schema_migrations, codebase_levels TO ${g}`);
  await db.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ${quoteIdent(await currentSchema(db))} TO ${g}`);
}

/** Makes an existing login role a member of the team (it may then index new codebases, and own them). */
export async function teamAdd(db: Queryable, role: string, group = DEFAULT_TEAM_ROLE): Promise<void> {
  await mustBeRole(db, role);
  await db.query(`GRANT ${quoteIdent(group)} TO ${quoteIdent(role)}`);
}

/** Ends a role's membership: it keeps no access to any table, whatever its grants say. */
export async function teamRemove(db: Queryable, role: string, group = DEFAULT_TEAM_ROLE): Promise<void> {
  await mustBeRole(db, role);
  await db.query(`REVOKE ${quoteIdent(group)} FROM ${quoteIdent(role)}`);
}

async function currentSchema(db: Queryable): Promise<string> {
  return (await db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]!.s;
}

/**
 * The team's administration commands (team init|add|remove, grant, revoke, access): a shared PostgreSQL
 * database only, as the role of the URL. No model is loaded. The database enforces every rule itself
 * (store/accessSchema.ts); these commands run as the caller, in one session, and print what changed.
 */
import { type AccessRow, DEFAULT_TEAM_ROLE, LEVELS, type Level, accessList, grant, revoke, teamAdd, teamInit, teamRemove } from '../store/access';
import type { Db, Session } from '../store/db';
import { type LimitChange, type LimitRow, listLimits, setLimits } from '../store/limits';
import { isPostgresUrl, openDb } from '../store/open';

export interface TeamArgs {
  db?: string;
  role?: string;
  codebase?: string;
  level?: string;
  json?: boolean;
  'searches-per-minute'?: string;
  'index-runs-per-hour'?: string;
  connections?: string;
}

/** A usage mistake (exit 1), as the CLI's own UsageError. */
export type Usage = (message: string) => Error;

/** Runs one administration command; returns the exit status. */
export async function teamCommand(command: string, rest: string[], a: TeamArgs, usage: Usage): Promise<number> {
  const [sub, ...extra] = command === 'team' ? rest : [undefined, ...rest];
  if (extra.length) throw usage(`${command}${sub ? ` ${sub}` : ''} takes no positional arguments: ${extra.join(' ')}`);
  if (!a.db) throw usage(`${command} needs --db postgres://... (team mode is a shared PostgreSQL database)`);
  if (!isPostgresUrl(a.db)) throw usage(`--db takes a postgres:// URL, not ${a.db}`);
  const need = (v: string | undefined, flag: string): string => {
    if (!v?.trim()) throw usage(`${command}${sub ? ` ${sub}` : ''} needs ${flag}`);
    return v;
  };
  let run: (s: Session) => Promise<unknown>;
  let say: (result: unknown) => string;
  switch (command === 'team' ? `team ${sub ?? ''}` : command) {
    case 'team init':
      run = (s) => teamInit(s);
      say = () => `team ready: members join the group role ${DEFAULT_TEAM_ROLE}; add one with: semcode team add --db URL --role ROLE`;
      break;
    case 'team add': {
      const role = need(a.role, '--role ROLE');
      run = (s) => teamAdd(s, role);
      say = () => `${role} is a member of the team: it may index new codebases (and owns them) and be granted others`;
      break;
    }
    case 'team remove': {
      const role = need(a.role, '--role ROLE');
      run = (s) => teamRemove(s, role);
      say = () => `${role} is no longer a member of the team`;
      break;
    }
    case 'team limit': {
      const role = need(a.role, '--role ROLE');
      const change: LimitChange = {
        searchesPerMinute: limitValue(a['searches-per-minute'], '--searches-per-minute', 1, usage),
        indexRunsPerHour: limitValue(a['index-runs-per-hour'], '--index-runs-per-hour', 1, usage),
        connections: limitValue(a.connections, '--connections', 0, usage),
      };
      if (Object.values(change).every((v) => v === undefined))
        throw usage('team limit needs --searches-per-minute, --index-runs-per-hour or --connections (N or none)');
      run = (s) => setLimits(s, role, change);
      say = (row) => formatLimits([row as LimitRow]);
      break;
    }
    case 'team limits':
      run = (s) => listLimits(s, a.role);
      say = (rows) => ((rows as LimitRow[]).length ? formatLimits(rows as LimitRow[]) : 'no role has a limit');
      break;
    case 'grant': {
      const [codebase, role, level] = [need(a.codebase, '--codebase NAME'), need(a.role, '--role ROLE'), need(a.level, '--level read|write|owner')];
      if (!LEVELS.includes(level as Level)) throw usage(`--level is one of ${LEVELS.join(', ')}, not ${level}`);
      run = (s) => grant(s, codebase, role, level as Level);
      say = () => `${role} has ${level} on ${codebase}`;
      break;
    }
    case 'revoke': {
      const [codebase, role] = [need(a.codebase, '--codebase NAME'), need(a.role, '--role ROLE')];
      run = (s) => revoke(s, codebase, role);
      say = (had) => (had ? `${role} has no access on ${codebase} now` : `${role} had no grant on ${codebase}`);
      break;
    }
    case 'access':
      run = (s) => accessList(s, a.codebase);
      say = (rows) => formatAccess(rows as AccessRow[]);
      break;
    default:
      throw usage(command === 'team' ? `team takes init, add, remove, limit or limits, not '${sub ?? ''}'` : `unknown command '${command}'`);
  }
  const db = await openDb({ url: a.db });
  try {
    const result = await inSession(db, run);
    if (a.json)
      process.stdout.write(
        `${JSON.stringify(command === 'access' ? { access: result } : sub === 'limits' ? { limits: result } : { ok: true, result: result ?? null })}\n`,
      );
    else process.stdout.write(`${say(result)}\n`);
    return 0;
  } finally {
    await db.close();
  }
}

async function inSession<T>(db: Db, fn: (s: Session) => Promise<T>): Promise<T> {
  return db.withSession(await db.principal(), fn);
}

function formatAccess(rows: AccessRow[]): string {
  if (!rows.length) return 'no codebases you may see';
  const width = Math.max(...rows.map((r) => r.codebase.length));
  return rows.map((r) => `${r.codebase.padEnd(width)}  ${r.level.padEnd(5)}  ${r.role}`).join('\n');
}

/** A limit's value: a whole number of at least `min`, or none (lifts it); undefined when the flag is absent. */
function limitValue(v: string | undefined, flag: string, min: number, usage: Usage): number | null | undefined {
  if (v === undefined) return undefined;
  if (v === 'none') return null;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < min || n > 2 ** 31 - 1) throw usage(`${flag} takes a whole number >= ${min}, or none; not ${v}`);
  return n;
}

function formatLimits(rows: LimitRow[]): string {
  const per = (n: number | null, what: string) => `${what} ${n ?? 'none'}`;
  return rows
    .map(
      (r) => `${r.role}: ${per(r.searchesPerMinute, 'searches/minute')}, ${per(r.indexRunsPerHour, 'index runs/hour')}, ${per(r.connections, 'connections')}`,
    )
    .join('\n');
}

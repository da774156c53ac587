// Test databases on a real PostgreSQL server with pgvector. The server comes from scripts/ensure-postgres.sh
// (CI exports its URL as SEMCODE_TEST_PG_URL). When it is unreachable these helpers THROW: the suites that
// need it must fail, never skip.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export function adminUrl(): string {
  return process.env.SEMCODE_TEST_PG_URL ?? DEFAULT_ADMIN_URL;
}

/** The URL with any password masked, for error messages. */
function shown(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable URL>';
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message || err.constructor.name : String(err);
}

async function connect(url: string, what: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw new Error(
      `cannot connect to the PostgreSQL test server (${what}) at ${shown(url)}: ${message(err)}. ` +
        `Start one with \`bash scripts/ensure-postgres.sh\` and export SEMCODE_TEST_PG_URL to the URL it prints.`,
      { cause: err },
    );
  }
  return client;
}

async function dropDatabase(name: string): Promise<void> {
  const admin = await connect(adminUrl(), `dropping ${name}`);
  try {
    // A pool that is still reconnecting can slip in between the terminate and the DROP: retry a few times.
    for (let attempt = 1; ; attempt++) {
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== '55006' || attempt >= 5) throw err; // 55006: object_in_use
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  } finally {
    await admin.end().catch(() => {});
  }
}

/**
 * Creates `<prefix>_<pid>_<random>` with the vector extension installed (unless `extension: false`) and returns its URL. `drop()` ends the
 * connections still open to it and drops it; calling it again is harmless.
 */
export async function createTestDatabase(prefix = 'semcode_test', opts: { extension?: boolean } = {}): Promise<{ url: string; drop(): Promise<void> }> {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new Error(`invalid test database prefix ${JSON.stringify(prefix)}: use [a-z0-9_]`);
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  if (name.length > 63) throw new Error(`test database name ${name} is longer than PostgreSQL's 63 bytes: shorten the prefix`);

  const admin = await connect(adminUrl(), 'admin');
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } catch (err) {
    throw new Error(`CREATE DATABASE ${name} failed on ${shown(adminUrl())}: ${message(err)}`, { cause: err });
  } finally {
    await admin.end().catch(() => {});
  }

  const u = new URL(adminUrl());
  u.pathname = `/${name}`;
  const url = u.toString();
  let dropped = false;
  const drop = async (): Promise<void> => {
    if (dropped) return;
    await dropDatabase(name);
    dropped = true;
  };

  if (opts.extension === false) return { url, drop };
  try {
    const db = await connect(url, name);
    try {
      await db.query('CREATE EXTENSION IF NOT EXISTS vector');
    } catch (err) {
      throw new Error(`CREATE EXTENSION vector failed in ${name}: ${message(err)}. Install pgvector with \`bash scripts/install-pgvector.sh\`.`, {
        cause: err,
      });
    } finally {
      await db.end().catch(() => {});
    }
  } catch (err) {
    await drop().catch(() => {});
    throw err;
  }
  return { url, drop };
}

/** Drops roles a test made: roles belong to the server, so they outlive the test's database. */
export async function dropRoles(roles: string[]): Promise<void> {
  const a = new pg.Client({ connectionString: adminUrl() });
  await a.connect();
  try {
    for (const r of roles) await a.query(`DROP ROLE IF EXISTS ${r}`).catch(() => {});
  } finally {
    await a.end();
  }
}

/** The same database URL, connecting as another role (no password: the test server trusts local roles). */
export function urlAs(url: string, role: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = '';
  return u.toString();
}

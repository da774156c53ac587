// Per-role rate limits on a shared PostgreSQL server with real login roles: set by the team's admin, counted
// in the database per login role, refused with a clear rate_limited error through the engine, the CLI and
// the language server, and out of a member's reach with raw SQL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { Engine } from '../server/src/engine';
import { isSemcodeError } from '../server/src/errors';
import { grant, teamAdd, teamInit } from '../server/src/store/access';
import { setLimits } from '../server/src/store/limits';
import { openDb } from '../server/src/store/open';
import { searchRequest } from '../server/src/protocol/lspExt';
import { createTestDatabase, dropRoles, urlAs } from './helpers/pg';
import { LspServer } from './helpers/lspServer';
import { makeProject, tempDir, testModel } from './helpers/workspace';

const CODEBASE = 'acme/limits';

describe('team mode: per-role rate limits kept and enforced by the database, on postgres', () => {
  const work = tempDir('team-limits');
  const tag = randomBytes(3).toString('hex');
  const group = `sc_team_${tag}`;
  const [owner, reader, other] = ['owner', 'reader', 'other'].map((w) => `sc_${w}_${tag}`) as [string, string, string];
  const root = makeProject(join(work.dir, 'api'));
  let made: Awaited<ReturnType<typeof createTestDatabase>>;
  let model: string;
  const urlOf = (r: string) => urlAs(made.url, r);
  const admin = async <T>(fn: (db: Awaited<ReturnType<typeof openDb>>) => Promise<T>): Promise<T> => {
    const db = await openDb({ url: made.url });
    try {
      return await fn(db);
    } finally {
      await db.close();
    }
  };
  const raw = async <T>(r: string, fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: urlOf(r) });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  const engineAs = async (r: string) => {
    const e = await Engine.open({ db: { url: urlOf(r) }, model, host: `${r}-laptop` });
    await e.nameCodebases([{ root, name: CODEBASE }]);
    return e;
  };
  const cli = (...args: string[]) => {
    const r = spawnSync(process.execPath, [join(__dirname, '..', 'bin', 'semcode.js'), ...args], { encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const limited = (want: RegExp) => (e: unknown) => isSemcodeError(e, 'rate_limited') && want.test(e.message);
  /** Starts every role's windows afresh, as if they had ended. */
  const newWindow = () => admin((db) => db.query(`UPDATE rate_usage SET window_start = now() - interval '2 hours'`));

  before(async () => {
    model = await testModel(16);
    made = await createTestDatabase('semcode_limits');
    await raw('postgres', async (c) => {
      for (const r of [owner, reader, other]) await c.query(`CREATE ROLE ${r} LOGIN`);
    });
    await admin(async (db) => {
      await teamInit(db, group);
      for (const r of [owner, reader, other]) await teamAdd(db, r, group);
    });
    const e = await engineAs(owner);
    try {
      await e.index({ roots: [root] });
    } finally {
      await e.close();
    }
    await raw(owner, async (c) => {
      const db = { query: async <T>(t: string, p?: unknown[]) => ({ rows: (await c.query(t, p)).rows as T[], affected: 0 }) };
      await grant(db, CODEBASE, reader, 'read');
      await grant(db, CODEBASE, other, 'read');
    });
  });
  after(async () => {
    await made?.drop();
    await dropRoles([owner, reader, other, group]);
    work.cleanup();
  });

  test('searches past a limit are refused with the wait; the count is per role; a refusal costs nothing; a new window allows again', async () => {
    await admin((db) => setLimits(db, group, { searchesPerMinute: 3 }));
    const e = await engineAs(reader);
    const o = await engineAs(other);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await e.search([root], 'ring buffer push', { k: 2 })).length, 2);
      for (let i = 0; i < 2; i++) {
        await assert.rejects(
          e.search([root], 'ring buffer push', { k: 2 }),
          limited(new RegExp(`^rate limit: role ${reader} may run 3 searches per minute; the next is allowed in \\d+ s`)),
        );
      }
      assert.equal((await o.search([root], 'user service', { k: 2, mode: 'text' })).length, 2, 'another member counts its own searches');
      const used = await admin((db) => db.query<{ used: number }>(`SELECT used FROM rate_usage WHERE role = $1 AND kind = 'search'`, [reader]));
      assert.equal(used.rows[0]?.used, 3, 'refused searches are not counted');
      await newWindow();
      assert.equal((await e.search([root], 'ring buffer push', { k: 2 })).length, 2);
    } finally {
      await e.close();
      await o.close();
      await admin((db) => setLimits(db, group, { searchesPerMinute: null }));
      await newWindow();
    }
  });

  test("the strictest of a role's own limit and its group's holds; the schema's owner is not limited", async () => {
    await admin(async (db) => {
      await setLimits(db, group, { searchesPerMinute: 100 });
      await setLimits(db, reader, { searchesPerMinute: 1 });
    });
    const e = await engineAs(reader);
    const o = await engineAs(other);
    const a = await Engine.open({ db: { url: made.url }, model, host: 'admin-laptop' });
    try {
      await a.nameCodebases([{ root, name: CODEBASE }]);
      await e.search([root], 'ring buffer', { k: 1 });
      await assert.rejects(e.search([root], 'ring buffer', { k: 1 }), limited(/may run 1 searches per minute/));
      for (let i = 0; i < 3; i++) await o.search([root], 'ring buffer', { k: 1 });
      await admin((db) => setLimits(db, 'postgres', { searchesPerMinute: 1 }));
      for (let i = 0; i < 3; i++) await a.search([root], 'ring buffer', { k: 1 });
    } finally {
      await Promise.all([e.close(), o.close(), a.close()]);
      await admin(async (db) => {
        await setLimits(db, group, { searchesPerMinute: null });
        await setLimits(db, reader, { searchesPerMinute: null });
        await setLimits(db, 'postgres', { searchesPerMinute: null });
      });
      await newWindow();
    }
  });

  test('a member can neither read nor change the limits or its count with raw SQL, and the function charges only the caller', async () => {
    await admin((db) => setLimits(db, reader, { searchesPerMinute: 1 }));
    try {
      await raw(reader, async (c) => {
        for (const stmt of [
          'SELECT * FROM role_limits',
          `UPDATE role_limits SET searches_per_minute = 1000`,
          `DELETE FROM rate_usage`,
          `INSERT INTO role_limits (role) VALUES ('x')`,
        ]) {
          await assert.rejects(c.query(stmt), /permission denied/, stmt);
        }
        await c.query(`SELECT semcode_take('search')`);
        await assert.rejects(
          c.query(`SELECT semcode_take('search')`),
          (e: { code?: string; message?: string }) => e.code === '53400' && /rate limit/.test(e.message ?? ''),
        );
      });
    } finally {
      await admin((db) => setLimits(db, reader, { searchesPerMinute: null }));
      await newWindow();
    }
  });

  test('the CLI: the admin sets and lists limits, a member may not; index runs past the limit exit 2 with one line', async () => {
    const set = cli('team', 'limit', '--db', made.url, '--role', owner, '--index-runs-per-hour', '1', '--json');
    assert.equal(set.code, 0, set.stderr);
    assert.deepEqual(JSON.parse(set.stdout), { ok: true, result: { role: owner, searchesPerMinute: null, indexRunsPerHour: 1, connections: null } });
    const list = cli('team', 'limits', '--db', made.url, '--json');
    assert.equal(list.code, 0, list.stderr);
    assert.ok((JSON.parse(list.stdout) as { limits: { role: string }[] }).limits.some((l) => l.role === owner));
    const human = cli('team', 'limits', '--db', made.url, '--role', owner);
    assert.match(human.stdout, new RegExp(`^${owner}: searches/minute none, index runs/hour 1, connections none$`, 'm'));
    const member = cli('team', 'limit', '--db', urlOf(owner), '--role', owner, '--index-runs-per-hour', 'none');
    assert.equal(member.code, 2);
    assert.match(member.stderr, new RegExp(`^semcode: role ${owner} may not set limits: only the team's admin`));
    try {
      const first = cli('index', '--db', urlOf(owner), '--root', root, '--codebase', CODEBASE, '--model', model);
      assert.equal(first.code, 0, first.stderr);
      const second = cli('index', '--db', urlOf(owner), '--root', root, '--codebase', CODEBASE, '--model', model);
      assert.equal(second.code, 2, second.stdout);
      assert.match(second.stderr, new RegExp(`^semcode: rate limit: role ${owner} may run 1 index runs per hour; the next is allowed in \\d+ s`));
      assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr);
    } finally {
      assert.equal(cli('team', 'limit', '--db', made.url, '--role', owner, '--index-runs-per-hour', 'none').code, 0);
      await newWindow();
    }
    for (const args of [
      ['team', 'limit', '--db', made.url, '--role', owner],
      ['team', 'limit', '--db', made.url, '--role', owner, '--searches-per-minute', '0'],
      ['team', 'limit', '--db', made.url, '--role', owner, '--connections', 'lots'],
      ['team', 'limit', '--db', made.url, '--searches-per-minute', '5'],
      ['team', 'limit', '--db', made.url, '--role', `sc_nobody_${tag}`, '--searches-per-minute', '5'],
    ]) {
      assert.equal(cli(...args).code, 1, args.join(' '));
    }
  });

  test("PostgreSQL's per-role connection limit: a request past it is a rate_limited error naming the limit", async () => {
    assert.equal(cli('team', 'limit', '--db', made.url, '--role', reader, '--connections', '1').code, 0);
    const held = new pg.Client({ connectionString: urlOf(reader) });
    await held.connect();
    try {
      const r = cli('search', 'ring buffer', '--db', urlOf(reader), '--codebase', CODEBASE);
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, new RegExp(`^semcode: too many connections for role "${reader}".*semcode team limit --connections`));
    } finally {
      await held.end();
      assert.equal(cli('team', 'limit', '--db', made.url, '--role', reader, '--connections', 'none').code, 0);
    }
    const ok = cli('search', 'ring buffer', '--db', urlOf(reader), '--codebase', CODEBASE);
    assert.equal(ok.code, 0, ok.stderr);
  });

  test('in the language server a refused search is an error with the message, and the server answers again in the next window', async () => {
    await admin((db) => setLimits(db, reader, { searchesPerMinute: 1 }));
    const settings = { model, databaseUrl: urlOf(reader) };
    const s = await LspServer.start({
      roots: [root],
      initializationOptions: settings,
      capabilities: { workspace: { configuration: true } },
      onConfiguration: (items) => items.map((i) => (i.section === 'semcode' ? settings : i.section === 'semcode.codebase' ? CODEBASE : null)),
    });
    try {
      await s.ready();
      assert.equal((await s.conn.sendRequest(searchRequest, { query: 'ring buffer push', k: 3 })).items.length, 3);
      await assert.rejects(s.conn.sendRequest(searchRequest, { query: 'ring buffer push', k: 3 }), /rate limit: role .* may run 1 searches per minute/);
      await newWindow();
      assert.equal((await s.conn.sendRequest(searchRequest, { query: 'ring buffer push', k: 3 })).items.length, 3);
    } finally {
      await s.stop();
      await admin((db) => setLimits(db, reader, { searchesPerMinute: null }));
      await newWindow();
    }
  });
});

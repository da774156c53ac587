// Db.withSession on both drivers: a session's statements share one connection, a session can take a role
// (PostgreSQL), and the connection goes back to the pool as the login role.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Db, Principal, Session } from '../server/src/store/db';
import { openDb } from '../server/src/store/open';
import { BACKENDS } from './helpers/backends';
import { adminUrl } from './helpers/pg';

/** Rows that each hold a connection a little while, so that concurrent ones outside a session spread over the pool. */
const WHO = `SELECT pg_backend_pid() AS pid, current_user AS "user", current_setting('application_name') AS app, pg_sleep(0.05)::text AS slept`;
type Who = { pid: number; user: string; app: string };
/** More than one pool connection's worth of queries at once (the pool holds 4). */
const WIDTH = 4;

for (const backend of BACKENDS) {
  describe(`sessions on ${backend.name}`, () => {
    let db: Db;
    let me: Principal;
    let made: Awaited<ReturnType<typeof backend.create>> | undefined;
    before(async () => {
      made = await backend.create();
      db = await openDb(made.target);
      me = await db.principal();
    });
    after(async () => {
      await db?.close();
      await made?.cleanup();
    });

    test('the default principal is the connecting role', async () => {
      const r = await db.query<{ user: string }>('SELECT current_user AS "user"');
      assert.deepEqual(me, { user: r.rows[0]!.user });
      assert.equal(me.user, backend.name === 'pglite' ? 'postgres' : new URL(made!.target.url!).username || 'postgres');
    });

    test("a session's statements, concurrent ones too, run on one connection and see its SETs", async () => {
      const seen = await db.withSession(me, async (s) => {
        assert.deepEqual(s.principal, me);
        await s.query("SET application_name = 'semcode-session-test'");
        const together = await Promise.all(Array.from({ length: WIDTH }, () => s.query<Who>(WHO)));
        const inTx = await s.transaction((tx) => tx.query<Who>(WHO));
        return [...together, inTx].map((r) => r.rows[0]!);
      });
      assert.equal(new Set(seen.map((w) => w.pid)).size, 1, `one backend pid, got ${seen.map((w) => w.pid).join(', ')}`);
      for (const w of seen) assert.equal(w.app, 'semcode-session-test');
    });

    test('a session cannot be used once its fn is done', async () => {
      let escaped: Session | undefined;
      await db.withSession(me, (s) => {
        escaped = s;
        return Promise.resolve();
      });
      await assert.rejects(escaped!.query('SELECT 1'), /session has ended/);
      await assert.rejects(
        escaped!.transaction((tx) => tx.query('SELECT 1')),
        /session has ended/,
      );
    });

    test('a principal of another login is refused', async () => {
      await assert.rejects(
        db.withSession({ user: `${me.user}_other` }, () => Promise.resolve(1)),
        (e: Error & { code?: string }) => e.code === 'usage',
      );
    });

    if (backend.name === 'pglite') {
      test('PGlite has one user: a session cannot take another role', async () => {
        let ran = false;
        await assert.rejects(
          db.withSession({ ...me, role: 'someone' }, () => {
            ran = true;
            return Promise.resolve();
          }),
          (e: Error & { code?: string }) => e.code === 'usage',
        );
        assert.equal(ran, false);
      });
      return;
    }

    describe('roles', () => {
      const role = `semcode_session_${randomBytes(3).toString('hex')}`;
      before(async () => {
        // Roles are the cluster's, not the test database's: made and dropped through the admin database.
        const admin = new pg.Client({ connectionString: adminUrl() });
        await admin.connect();
        try {
          await admin.query(`CREATE ROLE ${role} NOLOGIN`);
          await admin.query(`GRANT ${role} TO "${me.user}"`);
        } finally {
          await admin.end();
        }
      });
      after(async () => {
        const admin = new pg.Client({ connectionString: adminUrl() });
        await admin.connect();
        try {
          await admin.query(`DROP ROLE IF EXISTS ${role}`);
        } finally {
          await admin.end();
        }
      });

      test('a session with a role runs as that role, in its transactions too', async () => {
        const seen = await db.withSession({ ...me, role }, async (s) => {
          const plain = (await s.query<{ cu: string; su: string }>('SELECT current_user AS cu, session_user AS su')).rows[0]!;
          const inTx = (await s.transaction((tx) => tx.query<{ cu: string }>('SELECT current_user AS cu'))).rows[0]!;
          return { plain, inTx };
        });
        assert.deepEqual(seen, { plain: { cu: role, su: me.user }, inTx: { cu: role } });
      });

      test('the role is reset when the connection goes back to the pool, also when fn fails', async () => {
        const pids: number[] = [];
        pids.push(await db.withSession({ ...me, role }, async (s) => (await s.query<Who>(WHO)).rows[0]!.pid));
        await assert.rejects(
          db.withSession({ ...me, role }, async (s) => {
            pids.push((await s.query<Who>(WHO)).rows[0]!.pid);
            throw new Error('fn failed');
          }),
          /fn failed/,
        );
        // As many plain queries at once as the pool has connections: every one of them is used, the
        // sessions' too, and each runs as the login role.
        const back = (await Promise.all(Array.from({ length: WIDTH }, () => db.query<Who>(WHO)))).map((r) => r.rows[0]!);
        for (const pid of pids)
          assert.ok(
            back.some((w) => w.pid === pid),
            `the session's connection ${pid} is back in the pool`,
          );
        for (const w of back) assert.equal(w.user, me.user, `connection ${w.pid} runs as ${w.user}`);
      });

      test('a role the login may not take fails the session before fn runs', async () => {
        let ran = false;
        await assert.rejects(
          db.withSession({ ...me, role: `${role}_missing` }, () => {
            ran = true;
            return Promise.resolve();
          }),
          (e: Error & { code?: string }) => e.code === 'db_error' && /does not exist/.test(e.message),
        );
        assert.equal(ran, false);
      });
    });
  });
}

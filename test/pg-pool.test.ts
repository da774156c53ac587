// The PostgreSQL pool is bounded and honest: a request that cannot get a connection in time is db_busy (the
// server answered; every connection was in use), a runaway statement is cancelled as db_timeout, and a
// connection the server kills is dropped from the pool while the next request gets a fresh one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { isSemcodeError } from '../server/src/errors';
import { PgPoolDb } from '../server/src/store/pgPool';
import { createTestDatabase } from './helpers/pg';

describe('a bounded pool on postgres', () => {
  let made: Awaited<ReturnType<typeof createTestDatabase>>;
  before(async () => {
    made = await createTestDatabase('semcode_pool');
  });
  after(async () => {
    await made?.drop();
  });

  test('every connection busy past the acquire timeout is db_busy, and the pool serves again once one is free', async () => {
    const db = await PgPoolDb.open(made.url, { max: 1, connectTimeoutMs: 300 });
    try {
      const principal = await db.principal();
      let release!: () => void;
      const held = db.withSession(principal, (s) => s.query('SELECT 1').then(() => new Promise<void>((r) => (release = r))));
      await new Promise((r) => setTimeout(r, 50));
      await assert.rejects(db.query('SELECT 1'), (e: unknown) => isSemcodeError(e, 'db_busy') && /all 1 connections stayed in use for 300 ms/.test(e.message));
      release();
      await held;
      assert.equal((await db.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n, 1);
    } finally {
      await db.close();
    }
  });

  test('a statement past the statement timeout is cancelled as db_timeout; the connection serves the next request', async () => {
    const db = await PgPoolDb.open(made.url, { max: 1, statementTimeoutMs: 100 });
    try {
      await assert.rejects(db.query('SELECT pg_sleep(2)'), (e: unknown) => isSemcodeError(e, 'db_timeout'));
      assert.equal((await db.query<{ n: number }>('SELECT 2 AS n')).rows[0]!.n, 2);
    } finally {
      await db.close();
    }
  });

  test('a connection the server terminates fails its request with a typed error, and the next request reconnects', async () => {
    const db = await PgPoolDb.open(made.url, { max: 1 });
    const admin = new pg.Client({ connectionString: made.url });
    await admin.connect();
    try {
      const pid = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const slow = db.query('SELECT pg_sleep(5)');
      // Terminated while the statement runs (a busy machine may take a while to send it).
      for (let i = 0; i < 100; i++) {
        const r = await admin.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE '%pg_sleep%'`, [pid]);
        if (r.rows.length) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await assert.rejects(slow, (e: unknown) => isSemcodeError(e, 'db_unreachable'));
      const again = (await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      assert.notEqual(again, pid);
    } finally {
      await admin.end();
      await db.close();
    }
  });
});

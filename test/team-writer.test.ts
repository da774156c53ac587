// A PostgreSQL role that may write the index tables but does not own them (a team's writer): it indexes
// and searches without running owner-only maintenance (HNSW builds, GIN merges, ANALYZE) and without an
// error; the owner's next run does the maintenance.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Engine } from '../server/src/engine';
import { hnswIndexName } from '../server/src/store/indexStore';
import { openDb } from '../server/src/store/open';
import { createTestDatabase } from './helpers/pg';
import { makeProject, tempDir, testModel } from './helpers/workspace';

describe('a writer role that does not own the schema, on postgres', () => {
  const work = tempDir('team-writer');
  const root = makeProject(join(work.dir, 'project'));
  const role = `semcode_writer_${randomBytes(3).toString('hex')}`;
  let made: Awaited<ReturnType<typeof createTestDatabase>>;
  let admin: pg.Client;
  let writerUrl: string;
  let model: string;

  before(async () => {
    model = await testModel(16);
    made = await createTestDatabase('semcode_team');
    await (await openDb({ url: made.url })).close(); // the owner creates the schema
    admin = new pg.Client({ connectionString: made.url });
    await admin.connect();
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
    await admin.query(`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
    const u = new URL(made.url);
    u.username = role;
    writerUrl = u.toString();
  });
  after(async () => {
    await admin?.end().catch(() => {});
    await made?.drop();
    const a = new pg.Client({ connectionString: process.env.SEMCODE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
    await a.connect();
    await a.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
    await a.end();
    work.cleanup();
  });

  test('indexes and searches without maintenance, and the owner builds the HNSW index later', async () => {
    const writer = await Engine.open({ db: { url: writerUrl }, model });
    try {
      const s = await writer.index({ roots: [root] });
      assert.ok(s.chunks > 20);
      assert.equal(s.hnswBuilt, false, 'only the owner builds indexes');
      const hits = await writer.search([root], 'ring buffer push', { k: 3 });
      assert.equal(hits.length, 3);
      const [st] = await writer.status([root]);
      assert.equal(st!.hnsw, false);
      assert.equal(st!.incomplete, false);
    } finally {
      await writer.close();
    }
    const cb = (await admin.query<{ id: number }>('SELECT codebase_id AS id FROM codebase_roots WHERE path = $1', [realpathSync(root)])).rows[0]!;
    assert.equal((await admin.query('SELECT 1 FROM pg_indexes WHERE indexname = $1', [hnswIndexName(cb.id)])).rows.length, 0);
    const owner = await Engine.open({ db: { url: made.url }, model });
    try {
      const s = await owner.index({ roots: [root] });
      assert.equal(s.changedFiles, 0);
      assert.equal(s.hnswBuilt, true);
    } finally {
      await owner.close();
    }
  });
});

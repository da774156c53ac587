// Every request of the engine runs inside one database session (Db.withSession): what row-level security
// in team mode checks each statement against. Shown on PostgreSQL, where a session is its own pooled
// connection: with the pool's own query and transaction disabled, requests and index runs still work.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../server/src/engine';
import type { Db } from '../server/src/store/db';
import { createTestDatabase } from './helpers/pg';
import { makeProject, tempDir, testModel } from './helpers/workspace';

describe('engine requests run in database sessions, on postgres', () => {
  const work = tempDir('engine-session');
  const root = makeProject(join(work.dir, 'project'));
  let engine: Engine;
  let drop: () => Promise<void>;
  let sessions = 0;

  before(async () => {
    const db = await createTestDatabase();
    drop = () => db.drop();
    engine = await Engine.open({ db: { url: db.url }, model: await testModel(32) });
    await engine.index({ roots: [root], codebase: 'acme/session' });
    // From here on, a statement outside a session fails the request that sent it.
    const raw = engine.db as { -readonly [K in keyof Db]: Db[K] };
    const outside = () => Promise.reject(new Error('a statement ran outside a session'));
    raw.query = outside;
    raw.transaction = outside;
    const withSession = raw.withSession.bind(raw);
    raw.withSession = (p, fn) => {
      sessions++;
      return withSession(p, fn);
    };
  });
  after(async () => {
    await engine?.close();
    await drop?.();
    work.cleanup();
  });

  test('search, status, and looking codebases up by folder or by name use sessions only', async () => {
    for (const mode of ['hybrid', 'vector', 'text'] as const) {
      const hits = await engine.search([root], 'cache eviction', { mode, k: 3 });
      assert.equal(hits.length, 3, mode);
    }
    const [st] = await engine.status([root]);
    assert.equal(st!.name, 'acme/session');
    assert.ok(st!.chunks > 0);
    assert.equal((await engine.status(null)).length, 1);
    assert.equal((await engine.indexedCodebases([root])).length, 1);
    assert.equal((await engine.codebasesNamed(['acme/session']))[0]!.name, 'acme/session');
    assert.ok(sessions >= 8, `sessions ${sessions}`);
  });

  test('index runs use sessions only: a change, a deletion, a watcher run and a rebuild', async () => {
    const before = sessions;
    const file = join(root, 'src', 'user-service.ts');
    appendFileSync(file, '\nexport function evictOldest(): void {}\n');
    const changed = await engine.index({ roots: [root] });
    assert.equal(changed.changedFiles, 1);
    assert.ok(changed.embedded > 0);
    rmSync(join(root, 'src', 'inventory.py'));
    assert.equal((await engine.index({ roots: [root] })).deletedFiles, 1);
    appendFileSync(file, '\nexport function evictNewest(): void {}\n');
    assert.equal((await engine.index({ roots: [root], paths: ['src/user-service.ts'] })).changedFiles, 1);
    const rebuilt = await engine.index({ roots: [root], rebuild: true });
    assert.ok(rebuilt.hnswBuilt, 'the rebuild builds the vector index again, in a session');
    assert.equal(rebuilt.chunks, (await engine.status([root]))[0]!.chunks);
    assert.ok(sessions - before >= 12, `sessions ${sessions - before}`);
  });
});

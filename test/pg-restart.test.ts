// PostgreSQL restarted in the middle of an index run, on a cluster of the test's own: the run fails with a
// typed error, the language server stays up and says so, and once the database is back the next run finishes
// with every file whole (its chunks are exactly those a fresh index of it stores).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import { Engine } from '../server/src/engine';
import { isSemcodeError } from '../server/src/errors';
import { searchRequest } from '../server/src/protocol/lspExt';
import { DEFAULT_MODEL, LspServer, copyRealCode } from './helpers/lspServer';
import { type OwnCluster, ownCluster } from './helpers/ownCluster';
import { tempDir } from './helpers/workspace';

describe('a PostgreSQL restart in the middle of indexing', () => {
  const work = tempDir('pg-restart');
  const root = copyRealCode(join(work.dir, 'project'));
  let cluster: OwnCluster;
  before(async () => {
    cluster = await ownCluster();
  });
  after(() => {
    cluster?.remove();
    work.cleanup();
  });

  const chunkRows = async (url: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const r = await c.query<{ path: string; n: number; hashes: string }>(
        `SELECT f.path, count(ch.id)::int AS n, string_agg(ch.content_hash, ',' ORDER BY ch.start_line) AS hashes
           FROM files f LEFT JOIN chunks ch ON ch.codebase_id = f.codebase_id AND ch.path = f.path GROUP BY f.path ORDER BY f.path`,
      );
      return r.rows;
    } finally {
      await c.end();
    }
  };

  test('the run fails as db_unreachable, and the next run after the restart leaves every file whole', async () => {
    const engine = await Engine.open({ db: { url: cluster.url }, model: DEFAULT_MODEL });
    let files = 0;
    try {
      await assert.rejects(
        engine.index({
          roots: [root],
          jobChunks: 4, // many small transactions, so the stop falls between some of them
          gate: () => {
            if (++files === 6) cluster.stop();
            return Promise.resolve();
          },
        }),
        (e: unknown) => isSemcodeError(e, 'db_unreachable'),
      );
      cluster.start();
      const s = await engine.index({ roots: [root] });
      assert.ok(s.chunks > 0);
    } finally {
      await engine.close();
    }
    const resumed = await chunkRows(cluster.url);
    // A fresh index of the same files, in another database of the same server, to compare with.
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query('CREATE DATABASE fresh');
    await admin.end();
    const freshUrl = cluster.url.replace(/\/postgres$/, '/fresh');
    const fresh = await Engine.open({ db: { url: freshUrl }, model: DEFAULT_MODEL });
    try {
      await fresh.index({ roots: [root] });
    } finally {
      await fresh.close();
    }
    assert.deepEqual(resumed, await chunkRows(freshUrl));
  });

  test('the language server stays up through the restart, says the database is unreachable, and serves once it is back', async () => {
    const s = await LspServer.start({ roots: [root], initializationOptions: { model: DEFAULT_MODEL, databaseUrl: cluster.url } });
    try {
      await s.ready();
      cluster.stop();
      await assert.rejects(s.conn.sendRequest(searchRequest, { query: 'camel case', k: 3 }), /unreachable|terminat|connect/i);
      assert.equal(s.child.exitCode, null);
      cluster.start();
      const r = await s.conn.sendRequest(searchRequest, { query: 'camel case', k: 3 });
      assert.equal(r.items.length, 3);
    } finally {
      await s.stop();
    }
  });
});

// Distributed indexing on a real nats-server with JetStream and a real PostgreSQL: `semcode worker` child
// processes take the embed jobs an index run publishes; the index they build is the one an in-process run
// builds, every chunk once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { Engine } from '../server/src/engine';
import { pipeline } from '../server/src/jobs/jetstreamQueue';
import { copyRealCode } from './helpers/lspServer';
import { natsUrl } from './helpers/nats';
import { createTestDatabase } from './helpers/pg';
import { makeProject, tempDir, testModel } from './helpers/workspace';

const CLI = join(__dirname, '..', 'bin', 'semcode.js');

interface Worker {
  child: ChildProcess;
  log: string;
  exited: Promise<number | null>;
}

function startWorker(db: string, model: string): Worker {
  const child = spawn(process.execPath, [CLI, 'worker', '--nats', natsUrl(), '--db', db, '--model', model, '--concurrency', '2'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const w: Worker = { child, log: '', exited: new Promise((r) => child.once('exit', r)) };
  child.stderr.on('data', (d: Buffer) => (w.log += d.toString()));
  return w;
}

async function rows(url: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ row: string }>(
      `SELECT concat_ws(' ', path, start_line, end_line, symbol, content_hash, embedding::text) AS row FROM chunks ORDER BY path, start_line, end_line`,
    );
    return r.rows.map((x) => x.row);
  } finally {
    await c.end();
  }
}

describe('semcode worker on NATS JetStream', () => {
  const work = tempDir('jetstream-workers');
  const root = copyRealCode(makeProject(join(work.dir, 'project')));
  const name = `SCT_${randomBytes(4).toString('hex')}`;
  let model: string;
  const dbs: Awaited<ReturnType<typeof createTestDatabase>>[] = [];
  const workers: Worker[] = [];

  before(async () => {
    process.env.SEMCODE_NATS_PIPELINE = name; // this process's queue and the workers it starts
    model = await testModel(32);
    dbs.push(await createTestDatabase('semcode_js_workers'), await createTestDatabase('semcode_js_local'));
  });
  after(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    delete process.env.SEMCODE_NATS_PIPELINE;
    const nc = await connect({ servers: natsUrl() });
    const jsm = await jetstreamManager(nc);
    for (const s of [pipeline(name).jobs, pipeline(name).results]) await jsm.streams.delete(s).catch(() => {});
    await nc.close();
    for (const d of dbs) await d.drop();
    work.cleanup();
  });

  test('two workers build the index an in-process run builds: same rows, same vectors, every chunk once', async () => {
    const [shared, local] = [dbs[0]!.url, dbs[1]!.url];
    // The schema first (workers only use it), by the run's own engine.
    const producer = await Engine.open({ db: { url: shared }, model, nats: { url: natsUrl() } });
    try {
      workers.push(startWorker(shared, model), startWorker(shared, model));
      const s = await producer.index({ roots: [root], jobChunks: 8 });
      assert.ok(s.chunks > 40, `chunks: ${s.chunks}`);
      assert.equal(s.embedded + s.reused, s.chunks);
    } finally {
      await producer.close();
    }
    const inProcess = await Engine.open({ db: { url: local }, model });
    try {
      await inProcess.index({ roots: [root], jobChunks: 8 });
    } finally {
      await inProcess.close();
    }
    const [distributed, alone] = [await rows(shared), await rows(local)];
    assert.equal(new Set(distributed).size, distributed.length, 'no chunk twice');
    assert.deepEqual(distributed, alone);

    for (const w of workers) w.child.kill('SIGTERM');
    const codes = await Promise.all(workers.map((w) => w.exited));
    assert.deepEqual(codes, [0, 0], workers.map((w) => w.log).join('\n'));
    const done = workers.map((w) => (w.log.match(/job done/g) ?? []).length);
    assert.ok(done[0]! + done[1]! >= 6, `jobs done per worker: ${done.join(', ')}`);
    for (const w of workers) assert.match(w.log, /semcode worker: stopped; \d+ jobs done, 0 retried, 0 failed/);
  });
});

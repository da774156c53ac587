// Distributed indexing on a real nats-server with JetStream and a real PostgreSQL: `semcode worker` child
// processes take the embed jobs an index run publishes; the index they build is the one an in-process run
// builds, every chunk once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { Engine } from '../server/src/engine';
import { isSemcodeError } from '../server/src/errors';
import { pipeline } from '../server/src/jobs/jetstreamQueue';
import { copyRealCode } from './helpers/lspServer';
import { natsUrl } from './helpers/nats';
import { ownNats } from './helpers/ownNats';
import { createTestDatabase } from './helpers/pg';
import { makeProject, tempDir, testModel } from './helpers/workspace';
import { writeBertModel } from './fixtures/tinyModel';

const CLI = join(__dirname, '..', 'bin', 'semcode.js');

interface Worker {
  child: ChildProcess;
  log: string;
  exited: Promise<number | null>;
}

function startWorker(db: string, model: string, concurrency = 2, nats = natsUrl()): Worker {
  const child = spawn(process.execPath, [CLI, 'worker', '--nats', nats, '--db', db, '--model', model, '--concurrency', String(concurrency)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const w: Worker = { child, log: '', exited: new Promise((r) => child.once('exit', r)) };
  child.stderr.on('data', (d: Buffer) => (w.log += d.toString()));
  return w;
}

async function until(pred: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
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

  let alone: string[] = [];
  before(async () => {
    process.env.SEMCODE_NATS_PIPELINE = name; // this process's queue and the workers it starts
    process.env.SEMCODE_NATS_ACK_WAIT_MS = '2000'; // a held job goes to another worker after 2 s without a sign of life
    model = await testModel(32);
    for (const what of ['workers', 'local', 'kill', 'restart', 'cancel']) dbs.push(await createTestDatabase(`semcode_js_${what}`));
  });
  after(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    delete process.env.SEMCODE_NATS_PIPELINE;
    delete process.env.SEMCODE_NATS_ACK_WAIT_MS;
    const nc = await connect({ servers: natsUrl() });
    const jsm = await jetstreamManager(nc);
    const p = pipeline(name);
    for (const s of [p.jobs, p.results, p.dead]) await jsm.streams.delete(s).catch(() => {});
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
    const distributed = await rows(shared);
    alone = await rows(local);
    assert.equal(new Set(distributed).size, distributed.length, 'no chunk twice');
    assert.deepEqual(distributed, alone);

    // A rebuild right after (same files, same codebase, inside the duplicate window) is new work, not a duplicate.
    const again = await Engine.open({ db: { url: shared }, model, nats: { url: natsUrl() } });
    try {
      const s = await again.index({ roots: [root], jobChunks: 8, rebuild: true });
      assert.ok(s.chunks > 40);
    } finally {
      await again.close();
    }
    assert.deepEqual(await rows(shared), alone, 'the rebuilt index');

    for (const w of workers) w.child.kill('SIGTERM');
    const codes = await Promise.all(workers.map((w) => w.exited));
    assert.deepEqual(codes, [0, 0], workers.map((w) => w.log).join('\n'));
    const done = workers.map((w) => (w.log.match(/job done/g) ?? []).length);
    assert.ok(done[0]! + done[1]! >= 6, `jobs done per worker: ${done.join(', ')}`);
    for (const w of workers) assert.match(w.log, /semcode worker: stopped; \d+ jobs done, 0 retried, 0 failed/);
    workers.length = 0;
  });

  test('a worker killed in the middle of a job: the job goes to another worker, and no chunk is stored twice', async () => {
    const shared = dbs[2]!.url;
    // A transformer-sized model, so a job takes long enough to be caught in the middle.
    const slow = join(work.dir, 'slow-model');
    await writeBertModel(slow, { dim: 128, layers: 4, seed: 3 });
    const producer = await Engine.open({ db: { url: shared }, model: slow, nats: { url: natsUrl() } });
    const a = startWorker(shared, slow, 1);
    workers.push(a);
    try {
      const run = producer.index({ roots: [root], jobChunks: 16 });
      await until(() => a.log.includes('job taken'), 'worker A to take a job');
      a.child.kill('SIGSTOP'); // holds its job without a sign of life ...
      const b = startWorker(shared, slow, 1);
      workers.push(b);
      await run; // ... so after the ack wait the job goes to B
      a.child.kill('SIGKILL');
      assert.match(b.log, /job taken \(delivery 2\)/, b.log);
      b.child.kill('SIGTERM');
      assert.equal(await b.exited, 0, b.log);
    } finally {
      await producer.close();
      workers.length = 0;
    }
    const got = (await rows(shared)).map((r) => r.split(' ').slice(0, -1).join(' '));
    assert.equal(new Set(got).size, got.length, 'no chunk twice');
    assert.deepEqual(
      got,
      alone.map((r) => r.split(' ').slice(0, -1).join(' ')),
      'the same chunks as the in-process run',
    );
  });

  test('NATS restarted in the middle of a run: the run and the worker carry on, and the index is whole', async () => {
    const nats = await ownNats();
    const shared = dbs[3]!.url;
    const slow = join(work.dir, 'slow-model'); // written by the previous test
    const producer = await Engine.open({ db: { url: shared }, model: slow, nats: { url: nats.url } });
    const w = startWorker(shared, slow, 1, nats.url);
    workers.push(w);
    try {
      const run = producer.index({ roots: [root], jobChunks: 4 });
      await until(() => (w.log.match(/job done/g) ?? []).length >= 2, 'two jobs done');
      await nats.stop();
      const doneBefore = (w.log.match(/job done/g) ?? []).length;
      await new Promise((r) => setTimeout(r, 500));
      await nats.start();
      const s = await run;
      assert.equal(s.embedded + s.reused, s.chunks);
      assert.ok((w.log.match(/job done/g) ?? []).length > doneBefore, `jobs were done after the restart:\n${w.log}`);
      w.child.kill('SIGTERM');
      assert.equal(await w.exited, 0, w.log);
    } finally {
      await producer.close();
      workers.length = 0;
      await nats.remove();
    }
    const got = (await rows(shared)).map((r) => r.split(' ').slice(0, -1).join(' '));
    assert.equal(new Set(got).size, got.length, 'no chunk twice');
    assert.deepEqual(
      got,
      alone.map((r) => r.split(' ').slice(0, -1).join(' ')),
    );
  });

  test('a cancelled run takes back its jobs no worker has started', async () => {
    const p = pipeline(name);
    const nc = await connect({ servers: natsUrl() });
    const jsm = await jetstreamManager(nc);
    const producer = await Engine.open({ db: { url: dbs[4]!.url }, model, nats: { url: natsUrl() } });
    const cancel = new AbortController();
    try {
      const run = producer.index({ roots: [root], jobChunks: 4, signal: cancel.signal }); // no worker is running
      const queued = async () => (await jsm.streams.info(p.jobs)).state.messages;
      const end = Date.now() + 30_000;
      while ((await queued()) < 3 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      assert.ok((await queued()) >= 3, 'jobs were queued');
      cancel.abort();
      await assert.rejects(run, /indexing cancelled/);
      assert.equal(await queued(), 0, 'no job left for a worker');
    } finally {
      await producer.close();
      await nc.close();
    }
  });

  test('a job no worker can do is given up with its reason: the run fails saying so, and semcode streams dead shows it', async () => {
    const shared = dbs[0]!.url; // indexed with the 32-dimensional model by the first test
    writeFileSync(join(root, 'src', 'poison.ts'), 'export function poison(): number {\n  return 42;\n}\n');
    const wrong = await testModel(16); // a worker with another model must refuse the job
    const w = startWorker(shared, wrong, 1);
    workers.push(w);
    const producer = await Engine.open({ db: { url: shared }, model, nats: { url: natsUrl() } });
    try {
      await assert.rejects(producer.index({ roots: [root] }), (e: unknown) => {
        assert.ok(isSemcodeError(e, 'model_mismatch'), String(e));
        assert.match(e.message, /^job \w+ \(src\/poison\.ts\) failed after 1 deliveries: /);
        return true;
      });
    } finally {
      await producer.close();
      w.child.kill('SIGTERM');
      await w.exited;
    }
    // Told which codebase it serves, a worker with another model does not start at all.
    const refused = spawnSync(process.execPath, [CLI, 'worker', '--nats', natsUrl(), '--db', shared, '--model', wrong, '--codebase', 'project'], {
      encoding: 'utf8',
    });
    assert.equal(refused.status, 2, refused.stderr);
    assert.match(refused.stderr, /^semcode: index for \S*project was built with model .* \(dim 32\) but the current model is .* \(dim 16\); rebuild it with: /);
    const r = spawnSync(process.execPath, [CLI, 'streams', 'dead', '--nats', natsUrl(), '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const dead = (JSON.parse(r.stdout) as { dead: { files: string[]; code: string; reason: string; deliveries: number }[] }).dead;
    assert.equal(dead.length, 1, r.stdout);
    assert.deepEqual([dead[0]!.files, dead[0]!.code, dead[0]!.deliveries], [['src/poison.ts'], 'model_mismatch', 1]);
    assert.match(w.log, /job failed/);
  });
});

/**
 * Indexing throughput through NATS JetStream: chunks/s of a cold index run with the in-process queue, with
 * 1 `semcode worker` and with 2, on the same tree and PostgreSQL, interleaved per repetition, with the
 * shipped model and with a transformer-sized generated model (random weights, timing only) where embedding
 * dominates.
 *
 *   npm run build && node --import tsx bench/workers.ts [--root DIR ...] [--reps 1] [--concurrency 2]
 *
 * Each run gets a fresh database; workers (each `--concurrency` jobs at a time, like the in-process queue's
 * 2) are started and have loaded their model before the clock starts. Goals: 1 worker >= 90 % of in-process
 * (the queue's overhead <= 10 %); 2 workers >= 1.6x one worker with the transformer-sized model. Needs
 * nats-server (SEMCODE_TEST_NATS_URL or nats://127.0.0.1:4222) and PostgreSQL; prints figures, asserts nothing.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, homedir, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Engine } from '../server/src/engine';
import { pipeline } from '../server/src/jobs/jetstreamQueue';
import { writeBertModel } from '../test/fixtures/tinyModel';
import { natsUrl } from '../test/helpers/nats';
import { createTestDatabase } from '../test/helpers/pg';
import { codeVersion, loadAvg, log } from './search';

const REPO = resolve(__dirname, '..');
const CLI = join(REPO, 'bin', 'semcode.js');
const { values } = parseArgs({
  options: {
    root: { type: 'string', multiple: true },
    reps: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '2' },
  },
});
const reps = Number(values.reps);
const concurrency = Number(values.concurrency);
const sources = (values.root ?? [join(REPO, 'node_modules/vscode-languageserver/lib'), join(REPO, 'node_modules/pg/lib')]).map((r) => resolve(r));
const PIPELINE = `BENCH_${process.pid}`;
process.env.SEMCODE_NATS_PIPELINE = PIPELINE;

type Mode = 'in-process' | '1 worker' | '2 workers';
const MODES: Mode[] = ['in-process', '1 worker', '2 workers'];

async function generated(): Promise<string> {
  const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'semcode-bench', 'models', 'bert-384x6');
  if (!existsSync(join(dir, 'onnx', 'model.onnx'))) await writeBertModel(dir, { dim: 384, layers: 6, heads: 12, vocab: 30522, seed: 7 });
  return dir;
}

function startWorker(db: string, model: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, 'worker', '--nats', natsUrl(), '--db', db, '--model', model, '--concurrency', String(concurrency)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return new Promise((resolvePromise, reject) => {
    let out = '';
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('semcode worker: jobs from')) resolvePromise(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${out}`)));
  });
}

async function stopWorkers(ws: ChildProcess[]): Promise<void> {
  await Promise.all(
    ws.map(
      (w) =>
        new Promise<void>((r) => {
          if (w.exitCode !== null) return r();
          w.once('exit', () => r());
          w.kill('SIGTERM');
        }),
    ),
  );
}

/** One cold run: chunks and seconds (the run alone: database, workers and model are ready before). */
async function once(mode: Mode, root: string, model: string): Promise<{ chunks: number; seconds: number }> {
  const db = await createTestDatabase('semcode_bench_workers');
  const workers: ChildProcess[] = [];
  const engine = await Engine.open({ db: { url: db.url }, model, nats: mode === 'in-process' ? undefined : { url: natsUrl() } });
  try {
    await engine.status(null); // the schema, before any worker opens the database
    const n = mode === '1 worker' ? 1 : mode === '2 workers' ? 2 : 0;
    for (let i = 0; i < n; i++) workers.push(await startWorker(db.url, model));
    await engine.configuredEmbedder(); // the run's own model load is not timed either
    const t = performance.now();
    const s = await engine.index({ roots: [root] });
    const seconds = (performance.now() - t) / 1000;
    // Cold: every distinct input embedded once (identical chunks in the tree share one vector).
    if (s.embedded + s.reused !== s.chunks || s.embedded < s.chunks * 0.8)
      throw new Error(`${mode}: ${s.embedded} of ${s.chunks} chunks embedded (expected a cold run)`);
    return { chunks: s.chunks, seconds };
  } finally {
    await stopWorkers(workers);
    await engine.close();
    await db.drop();
  }
}

async function main(): Promise<void> {
  const loadStart = loadAvg();
  const work = mkdtempSync(join(tmpdir(), 'semcode-bench-workers-'));
  const root = join(work, 'tree');
  for (const src of sources) cpSync(src, join(root, basename(resolve(src, '..')), basename(src)), { recursive: true });
  const models = [
    { name: 'shipped (static)', dir: join(REPO, 'models', 'default') },
    { name: 'generated BERT 384x6', dir: await generated() },
  ];
  const results: { model: string; mode: Mode; chunksPerSec: number[]; chunks: number }[] = [];
  try {
    for (const m of models) {
      for (const mode of MODES) results.push({ model: m.name, mode, chunksPerSec: [], chunks: 0 });
      for (let rep = 0; rep < reps; rep++) {
        // Interleaved, and in another order each repetition, so drift falls on every mode alike.
        const order = rep % 2 ? [...MODES].reverse() : MODES;
        for (const mode of order) {
          const r = await once(mode, root, m.dir);
          const row = results.find((x) => x.model === m.name && x.mode === mode)!;
          row.chunksPerSec.push(r.chunks / r.seconds);
          row.chunks = r.chunks;
          log(`${m.name}, ${mode}: ${r.chunks} chunks in ${r.seconds.toFixed(1)} s = ${(r.chunks / r.seconds).toFixed(0)} chunks/s`);
        }
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    const nc = await connect({ servers: natsUrl() });
    const jsm = await jetstreamManager(nc);
    const p = pipeline(PIPELINE);
    for (const s of [p.jobs, p.results, p.dead]) await jsm.streams.delete(s).catch(() => {});
    await nc.close();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
  const out = [
    '',
    `== Semcode distributed-indexing benchmark: cold index of ${sources.map((s) => basename(resolve(s, '..'))).join(' + ')} on PostgreSQL; ${reps} rep(s), median chunks/s; workers run ${concurrency} jobs at a time`,
    `   machine: ${cpus().length} cores (workers, the run and PostgreSQL share them); load average at start ${loadStart}, at end ${loadAvg()}; code: ${codeVersion()}`,
    '',
  ];
  for (const m of models) {
    const get = (mode: Mode) => median(results.find((x) => x.model === m.name && x.mode === mode)!.chunksPerSec);
    const [local, one, two] = [get('in-process'), get('1 worker'), get('2 workers')];
    const chunks = results.find((x) => x.model === m.name)!.chunks;
    out.push(
      `   ${m.name.padEnd(22)} ${chunks} chunks: in-process ${local.toFixed(0)}/s, 1 worker ${one.toFixed(0)}/s (${((one / local) * 100).toFixed(0)} %, goal >= 90 %), ` +
        `2 workers ${two.toFixed(0)}/s (${(two / one).toFixed(2)}x one worker${m.name.startsWith('generated') ? ', goal >= 1.6x' : ''})`,
    );
  }
  console.log(out.join('\n'));
}

main().catch((e: unknown) => {
  console.error(`bench/workers: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exitCode = 1;
});

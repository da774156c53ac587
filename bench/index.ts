/**
 * Indexing benchmark (figures, not assertions; these machines are noisy, so every figure is a ratio
 * against a baseline measured in the same run).
 *
 * 1. Cold index end to end (walk, chunk, embed, store, HNSW build) vs the raw embedder on the same model
 *    inputs, on PGlite and PostgreSQL, with a transformer-sized generated BERT model (random weights:
 *    timing only) so that the model dominates. Goal: end to end ≥ 90 % of the raw embedder's chunks/s.
 * 2. No-change re-index of a tree (database open excluded) vs reading and hashing all its files.
 *    Goal: ≤ 1.5×.
 *
 * usage: node --import tsx bench/index.ts [--root DIR ...] [--rescan-root DIR] [--backends pglite,postgres]
 *        [--model DIR] [--reps N]
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir, loadavg, tmpdir, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openEmbedder } from '../server/src/embed/embedder';
import { modelInput } from '../server/src/embed/input';
import { Engine } from '../server/src/engine';
import { createChunker } from '../server/src/index/chunker';
import { Walker } from '../server/src/index/walker';
import type { DbTarget } from '../server/src/store/open';
import { createTestDatabase } from '../test/helpers/pg';
import { writeBertModel } from '../test/fixtures/tinyModel';

const repo = resolve(__dirname, '..');
const { values } = parseArgs({
  options: {
    root: { type: 'string', multiple: true },
    'rescan-root': { type: 'string' },
    backends: { type: 'string', default: 'pglite,postgres' },
    model: { type: 'string' },
    reps: { type: 'string', default: '5' },
  },
});
const roots = (values.root ?? [join(repo, 'node_modules/vscode-languageserver/lib'), join(repo, 'node_modules/pg/lib')]).map((r) => resolve(r));
const rescanRoot = resolve(values['rescan-root'] ?? join(repo, 'node_modules/@huggingface'));
const backends = values.backends.split(',') as ('pglite' | 'postgres')[];
const reps = Number(values.reps);
const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'semcode-bench');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function modelDir(name: string, make: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(cache, 'models', name);
  if (!existsSync(join(dir, 'onnx', 'model.onnx'))) await make(dir);
  return dir;
}

async function withBackend<T>(name: 'pglite' | 'postgres', fn: (target: DbTarget) => Promise<T>): Promise<T> {
  if (name === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'semcode-bench-'));
    try {
      return await fn({ dir });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const db = await createTestDatabase('semcode_bench');
  try {
    return await fn({ url: db.url });
  } finally {
    await db.drop();
  }
}

/** The distinct model inputs the indexer would embed for these roots. */
async function modelInputs(rootsToWalk: string[]): Promise<string[]> {
  const walker = new Walker();
  const chunker = await createChunker();
  const inputs = new Set<string>();
  for (const r of rootsToWalk) {
    for await (const f of walker.walk(r)) for (const c of chunker.chunk(f.relPath, f.text)) inputs.add(modelInput(c));
  }
  return [...inputs];
}

async function coldIndexBench(model: string): Promise<void> {
  const inputs = await modelInputs(roots);
  console.log(`\n## Cold index vs raw embedder (model ${model})`);
  console.log(`corpus: ${roots.map((r) => r.replace(`${repo}/`, '')).join(', ')}: ${inputs.length} distinct model inputs`);
  const raw: number[] = [];
  const rawRun = async () => {
    const e = await openEmbedder({ model });
    try {
      await e.embed(inputs.slice(0, 32)); // warm-up, as the engine's model is warm before indexing
      const t = performance.now();
      for (let i = 0; i < inputs.length; i += 256) await e.embed(inputs.slice(i, i + 256));
      const s = (performance.now() - t) / 1000;
      raw.push(inputs.length / s);
      console.log(`raw embedder: ${inputs.length} inputs in ${s.toFixed(1)} s = ${(inputs.length / s).toFixed(1)} chunks/s`);
    } finally {
      await e.close();
    }
  };
  await rawRun();
  for (const b of backends) {
    await withBackend(b, async (target) => {
      const engine = await Engine.open({ db: target, model });
      try {
        const e = await engine.configuredEmbedder();
        await e.embed(inputs.slice(0, 32)); // model load and warm-up excluded, as for the raw figure
        const s = await engine.index({ roots });
        const rate = s.embedded / s.seconds;
        console.log(`${b}: ${s.files} files, ${s.chunks} chunks, ${s.embedded} embedded in ${s.seconds.toFixed(1)} s = ${rate.toFixed(1)} chunks/s end to end`);
        results.push({ backend: b, rate });
      } finally {
        await engine.close();
      }
    });
    await rawRun();
  }
  // Each backend's run sits between two raw runs: compare it with their mean (the machine drifts).
  results.forEach((r, i) => {
    const around = (raw[i]! + raw[i + 1]!) / 2;
    console.log(
      `RATIO ${r.backend}: end to end ${r.rate.toFixed(1)} / raw ${around.toFixed(1)} chunks/s (mean of the raw runs before and after) = ` +
        `${((100 * r.rate) / around).toFixed(1)} % (goal ≥ 90 %)`,
    );
  });
}
const results: { backend: string; rate: number }[] = [];

async function readAndHash(files: string[]): Promise<number> {
  const t = performance.now();
  const queue = [...files];
  const worker = async () => {
    for (let f = queue.pop(); f; f = queue.pop())
      createHash('sha256')
        .update(await readFile(f))
        .digest('hex');
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return (performance.now() - t) / 1000;
}

async function rescanBench(model: string): Promise<void> {
  const files: string[] = [];
  const walker = new Walker();
  for await (const f of walker.walk(rescanRoot)) files.push(f.absPath);
  console.log(`\n## No-change re-index vs read + hash (${rescanRoot.replace(`${repo}/`, '')}: ${files.length} files)`);
  for (const b of backends) {
    await withBackend(b, async (target) => {
      const engine = await Engine.open({ db: target, model });
      try {
        const cold = await engine.index({ roots: [rescanRoot] });
        console.log(`${b}: cold index ${cold.files} files, ${cold.chunks} chunks in ${cold.seconds.toFixed(1)} s`);
        const again: number[] = [];
        const base: number[] = [];
        const ratios: number[] = [];
        for (let i = 0; i < reps; i++) {
          const h = await readAndHash(files);
          const s = await engine.index({ roots: [rescanRoot] });
          if (s.embedded !== 0 || s.changedFiles !== 0) throw new Error(`re-index changed something: ${JSON.stringify(s)}`);
          base.push(h);
          again.push(s.seconds);
          ratios.push(s.seconds / h);
        }
        console.log(
          `${b}: re-index median ${median(again).toFixed(3)} s, read+hash median ${median(base).toFixed(3)} s; ` +
            `RATIO median ${median(ratios).toFixed(2)}× (min ${Math.min(...ratios).toFixed(2)}, max ${Math.max(...ratios).toFixed(2)}; goal ≤ 1.5×)`,
        );
      } finally {
        await engine.close();
      }
    });
  }
}

async function main(): Promise<void> {
  console.log(
    `# bench/index: ${cpus().length} cores, load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const transformer = values.model ?? (await modelDir('bert-384x6', (dir) => writeBertModel(dir, { dim: 384, layers: 6, heads: 12, vocab: 30522, seed: 7 })));
  const tiny = await modelDir('tiny-256', (dir) => writeBertModel(dir, { dim: 256, layers: 0, seed: 3 }));
  await coldIndexBench(transformer);
  await rescanBench(tiny);
  console.log(
    `\nload average at end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

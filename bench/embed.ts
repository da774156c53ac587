/**
 * Embedding speed with a Semcode static model (default: the shipped models/default). Figures, never
 * assertions; every figure is measured in this run, so compare the ratios on a busy machine.
 *
 * On ~5k real code chunks from node_modules, cut by the project's chunker and formatted as the indexer
 * formats them (modelInput: path + "\n" + content):
 *   1. the tokenizer alone: CodeTokenizer.encode (the JS tokenizer of the fast path) vs transformers.js's
 *      tokenizer called as the pipeline path calls it (batches of 32, padding, truncation);
 *   2. the baseline: the raw table lookup in the main thread (encode + table gather + pool + L2, through
 *      importModel's StaticModel), no worker, no messages, no validation;
 *   3. end to end through openEmbedder as the indexer uses it (worker thread, default options: static-js),
 *      at the default batch size and a large one, and in-process (no worker) to show what the messaging costs;
 *   4. end to end through openEmbedder with staticTable: false: the transformers.js pipeline on
 *      onnxruntime-node (what every model ran on before the fast path, and still the reference);
 *   5. how far the two paths' vectors are apart (max abs difference over all chunks).
 * Wall time is the median of --reps runs after one warm-up; "per CPU-s" divides by the process's CPU time
 * (all threads, the worker's and onnxruntime's included), the steadier figure on a shared machine.
 *
 * usage: npm run bench:embed -- [--model DIR] [--chunks 5000] [--reps 3] [--batches 32,256]
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openEmbedder } from '../server/src/embed/embedder';
import { modelInput } from '../server/src/embed/input';
import { createChunker } from '../server/src/index/chunker';
import { importModel } from '../server/src/model/export';

const repo = resolve(__dirname, '..');
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: join(repo, 'models', 'default') },
    chunks: { type: 'string', default: '5000' },
    reps: { type: 'string', default: '3' },
    batches: { type: 'string', default: '32,256' },
  },
});
const dir = resolve(values.model);
const want = Number(values.chunks);
const reps = Number(values.reps);
const ROOTS = [
  '@huggingface/transformers/src',
  'pg/lib',
  'vscode-languageserver/lib',
  'vscode-jsonrpc/lib',
  'web-tree-sitter',
  'typescript/lib',
  'protobufjs/src',
  'vscode-languageclient/lib',
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

interface Timing {
  wall: number;
  cpu: number;
}

/** Median wall and process CPU time (ms) of `reps` runs of fn, after one untimed warm-up. */
async function time(fn: () => unknown): Promise<Timing> {
  await fn();
  const ts: number[] = [];
  const cs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    await fn();
    ts.push(performance.now() - t);
    const u = process.cpuUsage(c);
    cs.push((u.user + u.system) / 1000);
  }
  return { wall: median(ts), cpu: median(cs) };
}

function sourceFiles(d: string, out: string[]): void {
  for (const name of readdirSync(d).sort()) {
    const p = join(d, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      if (name !== 'node_modules' && name !== 'test' && name !== 'tests') sourceFiles(p, out);
    } else if (/\.(js|ts|mjs|cjs)$/.test(name) && !/\.d\.ts$|\.min\./.test(name) && st.size < 1_000_000) out.push(p);
  }
}

async function realChunks(): Promise<string[]> {
  const chunker = await createChunker();
  const inputs: string[] = [];
  for (const root of ROOTS.map((r) => join(repo, 'node_modules', r)).filter(existsSync)) {
    const files: string[] = [];
    sourceFiles(root, files);
    for (const f of files) {
      if (inputs.length >= want) break;
      for (const c of chunker.chunk(relative(join(repo, 'node_modules'), f), readFileSync(f, 'utf8'))) if (inputs.length < want) inputs.push(modelInput(c));
    }
  }
  return inputs;
}

async function main(): Promise<void> {
  console.log(`# embedding bench: ${dir}`);
  console.log(
    `# machine: ${cpus().length} cores (${cpus()[0]?.model}), load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; median of ${reps} runs`,
  );
  const inputs = await realChunks();
  const n = inputs.length;
  const { model, tokenizer } = await importModel(dir);
  const lengths = inputs.map((t) => tokenizer.encode(t, { truncate: false }).length).sort((a, b) => a - b);
  console.log(
    `# ${n} chunks: ${(inputs.reduce((s, t) => s + t.length, 0) / n).toFixed(0)} chars on average, tokens p50 ${lengths[n >> 1]} p95 ${lengths[Math.floor(n * 0.95)]}, ` +
      `${((lengths.filter((l) => l > tokenizer.maxLength).length / n) * 100).toFixed(1)} % cut at ${tokenizer.maxLength}; model ${model.vocabSize} × ${model.dim}, ${model.pooling} pooling`,
  );
  const rate = (t: Timing) => `${((n * 1000) / t.wall).toFixed(0).padStart(7)} chunks/s, ${((n * 1000) / t.cpu).toFixed(0).padStart(6)} per CPU-s`;
  const row = (label: string, t: Timing, extra = '') => console.log(`${label.padEnd(58)} ${rate(t)}${extra}`);
  const vs = (t: Timing, base: Timing) => `   ${(base.wall / t.wall).toFixed(2)}× baseline wall, ${(base.cpu / t.cpu).toFixed(2)}× per CPU-s`;

  console.log('\n## 1. tokenizer alone');
  const jsTok = await time(() => {
    for (const t of inputs) tokenizer.encode(t);
  });
  row('CodeTokenizer.encode (the fast path)', jsTok);
  const tf = await import('@huggingface/transformers');
  tf.env.allowRemoteModels = false;
  tf.env.allowLocalModels = true;
  const auto = await tf.AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const sorted = [...inputs].sort((a, b) => a.length - b.length);
  const tfTok = await time(() => {
    for (let s = 0; s < n; s += 32) auto(sorted.slice(s, s + 32), { padding: true, truncation: true, max_length: tokenizer.maxLength });
  });
  row('transformers.js tokenizer, batches of 32 (the pipeline path)', tfTok, `   JS tokenizer ${(tfTok.cpu / jsTok.cpu).toFixed(1)}× faster per CPU-s`);

  console.log('\n## 2. baseline: raw table lookup in the main thread');
  const out = new Float32Array(model.dim);
  const raw = await time(() => {
    for (const t of inputs) model.embed(tokenizer.encode(t), out);
  });
  row('encode + table gather + pool + L2', raw);
  console.log(`(the tokenizer is ${((jsTok.cpu / raw.cpu) * 100).toFixed(0)} % of it)`);

  console.log('\n## 3. end to end: openEmbedder (worker thread, as the indexer uses it), default options');
  let fast: Float32Array[] = [];
  for (const b of values.batches.split(',').map(Number)) {
    const t0 = performance.now();
    const e = await openEmbedder({ model: dir, batchSize: b });
    const load = performance.now() - t0;
    try {
      const t = await time(async () => (fast = await e.embed(inputs)));
      row(`${e.backend}, batch ${b} (load ${load.toFixed(0)} ms)`, t, vs(t, raw));
    } finally {
      await e.close();
    }
  }

  {
    const e = await openEmbedder({ model: dir, inWorker: false });
    try {
      const t = await time(() => e.embed(inputs));
      row(`${e.backend}, batch 32, in-process (no worker)`, t, vs(t, raw));
    } finally {
      await e.close();
    }
  }

  console.log('\n## 4. end to end: openEmbedder with staticTable: false (transformers.js pipeline, the reference)');
  let ref: Float32Array[] = [];
  {
    const t0 = performance.now();
    const e = await openEmbedder({ model: dir, staticTable: false });
    const load = performance.now() - t0;
    try {
      const t = await time(async () => (ref = await e.embed(inputs)));
      row(`${e.backend}, batch 32 (load ${load.toFixed(0)} ms)`, t, vs(t, raw));
    } finally {
      await e.close();
    }
  }

  let diff = 0;
  for (let i = 0; i < n; i++) for (let k = 0; k < model.dim; k++) diff = Math.max(diff, Math.abs(fast[i]![k]! - ref[i]![k]!));
  console.log(`\n## 5. static-js vs pipeline vectors: max abs difference ${diff.toExponential(1)} over ${n} chunks`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

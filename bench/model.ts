/**
 * Static-model speed check (figures, not assertions; every figure is measured in the same run, so compare
 * ratios on a busy machine).
 *
 * On ~5k real code chunks from node_modules, cut by the project's chunker and formatted as the indexer
 * formats them (path + "\n" + content), sorted as the embedder sorts them:
 *   1. the tokenizer alone: CodeTokenizer.encode (JS fast path) vs transformers.js's tokenizer called as the
 *      embedder calls it (batches, padding, truncation, int64 tensors);
 *   2. the raw table lookup in JS: encode + StaticModel.embed;
 *   3. end to end through openEmbedder (worker thread, cpu) at several batch sizes — the goal is
 *      ≥ 1,000 chunks/s on 2 cores;
 *   4. where the embedder's time goes, stage by stage on its own batches (tokenize, session.run of the
 *      Gather graph, JS pooling over the [batch, seq, dim] output), the padded share of the tensors, and the
 *      same session with pooling inside the graph (a [batch, dim] output) for comparison;
 *   5. end to end with shorter truncation (model_max_length) copies of the model.
 *
 * usage: node --import tsx bench/model.ts DIR [--chunks 5000] [--batches 32,64,128,256] [--lengths 256,128]
 *        [--reps 3] [--root DIR ...]
 * DIR is a Semcode static model folder (server/src/train/export.ts).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type * as Ort from 'onnxruntime-node';
import { openEmbedder } from '../server/src/embed/embedder';
import { modelInput } from '../server/src/embed/input';
import { createChunker } from '../server/src/index/chunker';
import { exportModel, importModel, onnxModel } from '../server/src/train/export';
import { CodeTokenizer } from '../server/src/train/tokenizer';

const repo = resolve(__dirname, '..');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    chunks: { type: 'string', default: '5000' },
    batches: { type: 'string', default: '32,64,128,256' },
    lengths: { type: 'string', default: '256,128' },
    reps: { type: 'string', default: '3' },
    root: { type: 'string', multiple: true },
  },
});
const dir = positionals[0];
if (!dir || !existsSync(join(dir, 'onnx', 'model.onnx'))) {
  console.error('usage: node --import tsx bench/model.ts DIR   (a static model folder written by server/src/train/export.ts)');
  process.exit(1);
}
const want = Number(values.chunks);
const reps = Number(values.reps);
const roots = (values.root ?? ['@huggingface/transformers/src', 'pg/lib', 'vscode-languageserver/lib', 'vscode-jsonrpc/lib', 'web-tree-sitter', 'typescript/lib', 'protobufjs/src'].map((r) => join(repo, 'node_modules', r))).filter(existsSync);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/**
 * Median wall time of `reps` runs of fn, in ms (one untimed warm-up), and the median process CPU time (all
 * threads: the embedder's worker and onnxruntime's pool included). On a shared machine the CPU figure is the
 * steadier one; on an idle machine, single-threaded work runs at about its CPU-time rate.
 */
let lastCpu = 0;
async function time(fn: () => unknown | Promise<unknown>, n = reps): Promise<number> {
  await fn();
  const ts: number[] = [];
  const cs: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    await fn();
    ts.push(performance.now() - t);
    const u = process.cpuUsage(c);
    cs.push((u.user + u.system) / 1000);
  }
  lastCpu = median(cs);
  return median(ts);
}

function files(d: string, out: string[]): void {
  for (const name of readdirSync(d).sort()) {
    const p = join(d, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      if (name !== 'node_modules' && name !== 'test' && name !== 'tests') files(p, out);
    } else if (/\.(js|ts|mjs|cjs|py)$/.test(name) && !/\.d\.ts$|\.min\./.test(name) && st.size < 1_000_000) out.push(p);
  }
}

const rate = (n: number, ms: number) => `${((n * 1000) / ms).toFixed(0).padStart(7)} chunks/s`;
/** wall rate, then the rate per CPU-second of the last time() call */
const rates = (n: number, ms: number) => `${rate(n, ms)} wall, ${((n * 1000) / lastCpu).toFixed(0).padStart(6)} per CPU-s`;

async function main(): Promise<void> {
  console.log(`# static model bench: ${dir}`);
  console.log(`# machine: ${cpus().length} cores (${cpus()[0]?.model}), load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const { model, tokenizer } = await importModel(dir);
  console.log(`# model: vocabulary ${model.vocabSize}, dim ${model.dim}, pooling ${model.pooling}, model_max_length ${tokenizer.maxLength}`);

  const chunker = await createChunker();
  const inputs: string[] = [];
  for (const root of roots) {
    const fs: string[] = [];
    files(root, fs);
    for (const f of fs) {
      if (inputs.length >= want) break;
      for (const c of chunker.chunk(relative(join(repo, 'node_modules'), f), readFileSync(f, 'utf8'))) if (inputs.length < want) inputs.push(modelInput(c));
    }
  }
  const n = inputs.length;
  // The embedder's order: by length, so a batch holds similar lengths.
  const sorted = [...inputs].sort((a, b) => a.length - b.length);
  const full = inputs.map((t) => tokenizer.encode(t, { truncate: false }).length);
  const cut = full.map((l) => Math.min(l, tokenizer.maxLength));
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!;
  console.log(
    `# ${n} chunks from ${roots.length} roots: ${(inputs.reduce((s, t) => s + t.length, 0) / n).toFixed(0)} chars, tokens p50 ${pct(full, 0.5)} p95 ${pct(full, 0.95)} max ${Math.max(...full)}; ` +
      `${((full.filter((l) => l > tokenizer.maxLength).length / n) * 100).toFixed(1)} % truncated at ${tokenizer.maxLength}, mean ${(cut.reduce((a, b) => a + b, 0) / n).toFixed(0)} tokens after truncation`,
  );

  // 1. tokenizers
  console.log('\n## 1. tokenizer alone');
  const jsTok = await time(() => {
    for (const t of sorted) tokenizer.encode(t);
  });
  console.log(`CodeTokenizer.encode (JS fast path)                    ${rates(n, jsTok)}`);
  const tf = await import('@huggingface/transformers');
  tf.env.allowRemoteModels = false;
  tf.env.allowLocalModels = true;
  const auto = await tf.AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const tfTok = await time(() => {
    for (let s = 0; s < n; s += 32) auto(sorted.slice(s, s + 32), { padding: true, truncation: true, max_length: tokenizer.maxLength });
  });
  const tfTokCpu = lastCpu;
  console.log(`transformers.js tokenizer, batches of 32 (as the embedder) ${rates(n, tfTok)}`);

  // 2. raw table lookup
  console.log('\n## 2. raw table lookup in JS');
  const out = new Float32Array(model.dim);
  const js = await time(() => {
    for (const t of sorted) model.embed(tokenizer.encode(t), out);
  });
  const jsCpu = lastCpu;
  console.log(`encode + StaticModel.embed                            ${rates(n, js)}`);

  // 3. end to end
  console.log('\n## 3. openEmbedder (worker, cpu), end to end');
  const e2e = new Map<number, number>();
  const e2eCpu = new Map<number, number>();
  for (const b of values.batches!.split(',').map(Number)) {
    const e = await openEmbedder({ model: dir, batchSize: b });
    try {
      const ms = await time(() => e.embed(inputs));
      e2e.set(b, ms);
      e2eCpu.set(b, lastCpu);
      console.log(`batch ${String(b).padEnd(4)}                                            ${rates(n, ms)}   (${(jsCpu / lastCpu).toFixed(2)}× the JS lookup's rate per CPU-s)`);
    } finally {
      await e.close();
    }
  }

  // 4. breakdown on the embedder's batches of 32
  console.log('\n## 4. where the time goes (in-process, onnxruntime-node, batches of 32 as sorted by the embedder)');
  const ort = require('onnxruntime-node') as typeof Ort;
  const gather = await ort.InferenceSession.create(readFileSync(join(dir, 'onnx', 'model.onnx')));
  const pooled = await ort.InferenceSession.create(onnxModel(model, { pooledOutput: true }));
  const B = 32;
  const batches: { ids: BigInt64Array; mask: BigInt64Array; types: BigInt64Array; b: number; seq: number }[] = [];
  let real = 0;
  let padded = 0;
  const build = () => {
    batches.length = 0;
    for (let s = 0; s < n; s += B) {
      const enc = sorted.slice(s, s + B).map((t) => tokenizer.encode(t));
      const seq = Math.max(...enc.map((x) => x.length));
      const b = enc.length;
      const ids = new BigInt64Array(b * seq);
      const mask = new BigInt64Array(b * seq);
      enc.forEach((x, i) => {
        for (let j = 0; j < x.length; j++) {
          ids[i * seq + j] = BigInt(x[j]!);
          mask[i * seq + j] = 1n;
        }
      });
      batches.push({ ids, mask, types: new BigInt64Array(b * seq), b, seq });
    }
  };
  const tBuild = await time(build);
  const cBuild = lastCpu;
  for (const x of batches) {
    padded += x.b * x.seq;
    real += x.mask.reduce((a, v) => a + Number(v), 0);
  }
  const feeds = (x: (typeof batches)[number]) => ({
    input_ids: new ort.Tensor('int64', x.ids, [x.b, x.seq]),
    attention_mask: new ort.Tensor('int64', x.mask, [x.b, x.seq]),
    token_type_ids: new ort.Tensor('int64', x.types, [x.b, x.seq]),
  });
  const outs: Ort.Tensor[] = [];
  const tRun = await time(async () => {
    outs.length = 0;
    for (const x of batches) outs.push((await gather.run(feeds(x))).last_hidden_state!);
  });
  const cRun = lastCpu;
  // the embedder's pool(): mean over mask with Number(bigint) per position, then L2
  const tPool = await time(() => {
    batches.forEach((x, bi) => {
      const data = outs[bi]!.data as Float32Array;
      const d = model.dim;
      const acc = new Float64Array(d);
      for (let i = 0; i < x.b; i++) {
        acc.fill(0);
        let count = 0;
        for (let j = 0; j < x.seq; j++) {
          if (Number(x.mask[i * x.seq + j]) === 0) continue;
          count++;
          const off = (i * x.seq + j) * d;
          for (let k = 0; k < d; k++) acc[k] += data[off + k]!;
        }
        let norm = 0;
        for (let k = 0; k < d; k++) norm += (acc[k]! / count) ** 2;
        const v = new Float32Array(d);
        for (let k = 0; k < d; k++) v[k] = acc[k]! / count / Math.sqrt(norm);
      }
    });
  });
  const cPool = lastCpu;
  const tPooled = await time(async () => {
    for (const x of batches) await pooled.run(feeds(x));
  });
  const cPooled = lastCpu;
  const ms = (wall: number, cpu: number) => `${wall.toFixed(0).padStart(6)} ms wall ${cpu.toFixed(0).padStart(6)} ms CPU`;
  const mb = (padded * model.dim * 4) / 2 ** 20;
  console.log(`padded share of the tensors: ${((1 - real / padded) * 100).toFixed(1)} % (${padded} positions for ${real} tokens); [batch, seq, dim] output ${mb.toFixed(0)} MB in total`);
  console.log(`transformers.js tokenizer → int64 tensors (from 1.) ${ms(tfTok, tfTokCpu)}`);
  console.log(`CodeTokenizer.encode → int64 tensors                ${ms(tBuild, cBuild)}`);
  console.log(`session.run, the model's graph → [batch, seq, dim]  ${ms(tRun, cRun)}`);
  console.log(`JS pooling of that output (as the embedder's pool()) ${ms(tPool, cPool)}`);
  console.log(`session.run, pooling in the graph → [batch, dim]    ${ms(tPooled, cPooled)}`);
  const perCpu = (cpu: number) => `${((n * 1000) / cpu).toFixed(0)} chunks per CPU-s`;
  console.log(`→ today's path (transformers.js tokenizer + graph + JS pool): ${perCpu(tfTokCpu + cRun + cPool)}`);
  console.log(`→ JS tokenizer + graph + JS pool:                         ${perCpu(cBuild + cRun + cPool)}`);
  console.log(`→ JS tokenizer + pooling in the graph:                    ${perCpu(cBuild + cPooled)}`);
  await gather.release();
  await pooled.release();

  // 5. truncation
  console.log('\n## 5. truncation length (model_max_length), openEmbedder batch 32');
  const tmp = mkdtempSync(join(tmpdir(), 'semcode-bench-model-'));
  try {
    for (const len of values.lengths!.split(',').map(Number)) {
      const d2 = join(tmp, `len${len}`);
      await exportModel(model, new CodeTokenizer(tokenizer.vocab, { maxLength: len, maxWordChars: tokenizer.maxWordChars }), d2);
      const e = await openEmbedder({ model: d2, batchSize: 32 });
      try {
        const ms = await time(() => e.embed(inputs));
        console.log(`model_max_length ${String(len).padEnd(4)}                                  ${rates(n, ms)}   (${(((e2eCpu.get(32) ?? lastCpu) / lastCpu - 1) * 100).toFixed(0)} % per CPU-s vs ${tokenizer.maxLength})`);
      } finally {
        await e.close();
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

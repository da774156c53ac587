// Contrastive training on REAL (doc → code) pairs mined from code on this machine with the project's own
// chunker and pair miner: the loss falls, held-out retrieval beats the untrained initialisation, the
// gradient is the true gradient (finite differences), and a seed fixes the result bit for bit.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { before, describe, test } from 'node:test';
import { modelInput } from '../../server/src/embed/input';
import { createChunker } from '../../server/src/index/chunker';
import { dedupePairs, minePairs, splitBySource, type Pair } from '../../server/src/train/pairs';
import { StaticModel } from '../../server/src/model/staticModel';
import { CodeTokenizer } from '../../server/src/model/tokenizer';
import { batchGradient, evaluate, train, type TrainPair, type TrainProgress } from '../../server/src/train/trainer';

const repo = resolve(__dirname, '..', '..');
const PY = '/usr/lib/python3.11';

function sourceFiles(dir: string, ext: RegExp, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      if (name !== 'test' && name !== 'tests' && name !== 'node_modules') sourceFiles(p, ext, out);
    } else if (ext.test(name) && !name.endsWith('.d.ts') && st.size < 300_000) out.push(p);
  }
  return out;
}

// Each folder is one source (package), so the held-out split is by package, never a random pair.
const SOURCES: [string, string, RegExp][] = [
  ['transformers', join(repo, 'node_modules/@huggingface/transformers/src'), /\.js$/],
  ['onnx-proto', join(repo, 'node_modules/onnx-proto/dist'), /\.js$/],
  ...[
    'email',
    'asyncio',
    'logging',
    'importlib',
    'multiprocessing',
    'json',
    'http',
    'xml',
    'unittest',
    'concurrent',
    'urllib',
    'sqlite3',
    'tomllib',
    'zoneinfo',
    'ctypes',
  ].map((d): [string, string, RegExp] => [`py:${d}`, join(PY, d), /\.py$/]),
];

let pairs: Pair[];
let trainSet: TrainPair[];
let testSet: TrainPair[];
let tok: CodeTokenizer;

// The code side exactly as the indexer embeds it.
const asTrain = (p: Pair): TrainPair => ({ query: p.query, code: modelInput({ path: p.path, content: p.code }) });

before(async () => {
  const chunker = await createChunker();
  const mined: Pair[] = [];
  for (const [source, dir, ext] of SOURCES) {
    for (const f of sourceFiles(dir, ext)) mined.push(...minePairs(chunker.chunk(relative(dir, f), readFileSync(f, 'utf8')), source));
  }
  pairs = dedupePairs(mined);
  const split = splitBySource(pairs, 0.2, 7);
  trainSet = split.train.map(asTrain);
  testSet = split.test.map(asTrain);
  tok = CodeTokenizer.learn(
    trainSet.flatMap((p) => [p.query, p.code]),
    { maxSize: 12000, maxLength: 256 },
  );
  console.log(`# ${pairs.length} real pairs (${trainSet.length} train, ${testSet.length} held out by package), vocabulary ${tok.size}`);
});

describe('training on real pairs', () => {
  test('mined enough real pairs from more than one package and language', () => {
    assert.ok(trainSet.length >= 1000, `${trainSet.length} training pairs`);
    assert.ok(testSet.length >= 200, `${testSet.length} held-out pairs`);
    assert.ok(new Set(pairs.map((p) => p.language)).size >= 2);
  });

  test('lowers the loss and beats the untrained initialisation on held-out MRR@10', () => {
    const log: TrainProgress[] = [];
    const t = Date.now();
    const model = train({ pairs: trainSet, heldOut: testSet, tokenizer: tok, dim: 64, epochs: 4, batchSize: 256, seed: 3, onProgress: (p) => log.push(p) });
    const ms = Date.now() - t;
    for (const p of log)
      console.log(
        `# epoch ${p.epoch}: loss ${p.loss.toFixed(3)} held-out loss ${p.heldOutLoss?.toFixed(3)} MRR@10 ${p.heldOutMrr?.toFixed(3)} (${p.pairsPerSecond.toFixed(0)} pairs/s)`,
      );
    console.log(`# ${trainSet.length} pairs × 4 epochs in ${ms} ms`);
    const [init, first, ...rest] = log;
    const last = rest[rest.length - 1]!;
    assert.equal(init!.kind, 'init');
    assert.equal(log.length, 5);
    assert.ok(last.loss < first!.loss * 0.7, `training loss ${first!.loss} → ${last.loss}`);
    assert.ok(last.heldOutLoss! < init!.heldOutLoss!, `held-out loss ${init!.heldOutLoss} → ${last.heldOutLoss}`);
    assert.ok(last.heldOutMrr! > init!.heldOutMrr! + 0.03, `held-out MRR@10 ${init!.heldOutMrr} → ${last.heldOutMrr}`);
    // evaluate() agrees with the progress report, and the model did move
    assert.equal(evaluate(model, tok, testSet).mrr10, last.heldOutMrr);
    assert.ok(model.weights, 'IDF weights by default');
  });

  test('deterministic: the same seed gives the same table bit for bit, another seed does not', () => {
    const opts = { pairs: trainSet.slice(0, 600), tokenizer: tok, dim: 32, epochs: 2, batchSize: 128 };
    const a = train({ ...opts, seed: 11 });
    const b = train({ ...opts, seed: 11 });
    const c = train({ ...opts, seed: 12 });
    assert.ok(Buffer.from(a.table.buffer).equals(Buffer.from(b.table.buffer)), 'same seed, same table');
    assert.ok(!Buffer.from(a.table.buffer).equals(Buffer.from(c.table.buffer)), 'another seed, another table');
  });

  test('fine-tunes from a given model without modifying it', () => {
    const base = train({ pairs: trainSet.slice(0, 400), tokenizer: tok, dim: 32, epochs: 1, batchSize: 128, seed: 5 });
    const before = base.table.slice();
    const tuned = train({ pairs: trainSet.slice(400, 800), tokenizer: tok, init: base, epochs: 1, batchSize: 128, seed: 5 });
    assert.ok(Buffer.from(base.table.buffer).equals(Buffer.from(before.buffer)), 'init untouched');
    assert.ok(!Buffer.from(tuned.table.buffer).equals(Buffer.from(before.buffer)), 'tuned table moved');
    assert.equal(tuned.pooling, base.pooling);
    assert.deepEqual(tuned.weights, base.weights);
  });
});

describe('the gradient', () => {
  for (const pooling of ['mean', 'sublinear'] as const) {
    test(`matches finite differences (${pooling} pooling, IDF-like weights)`, () => {
      const sample = trainSet.slice(0, 6);
      const q = sample.map((p) => tok.encode(p.query));
      const c = sample.map((p) => tok.encode(p.code));
      const weights = Float32Array.from({ length: tok.size }, (_, i) => 0.5 + (i % 5) * 0.4);
      const model = StaticModel.init(tok.size, 8, 21, { pooling, weights });
      const { grad } = batchGradient(model, q, c, 0.1);
      // a few coordinates of rows that occur in the batch, including [CLS] (id 2) and a repeated code token
      const rows = [2, q[0]![1]!, c[1]![3]!, c[2]![c[2]!.length - 2]!];
      let checked = 0;
      for (const row of rows) {
        for (const k of [0, 5]) {
          const i = row * model.dim + k;
          const orig = model.table[i]!;
          const h = 1e-3;
          model.table[i] = orig + h;
          const up = batchGradient(model, q, c, 0.1).loss;
          model.table[i] = orig - h;
          const down = batchGradient(model, q, c, 0.1).loss;
          model.table[i] = orig;
          const numeric = (up - down) / (Math.fround(orig + h) - Math.fround(orig - h));
          assert.ok(Math.abs(numeric - grad[i]!) <= 1e-3 + 1e-2 * Math.abs(numeric), `row ${row} dim ${k}: analytic ${grad[i]} vs numeric ${numeric}`);
          checked += Math.abs(numeric) > 1e-4 ? 1 : 0;
        }
      }
      assert.ok(checked >= 4, 'most checked coordinates have a non-trivial gradient');
      // rows absent from the batch get nothing
      const used = new Set([...q, ...c].flatMap((ids) => Array.from(ids)));
      const absent = [...Array(tok.size).keys()].find((u) => !used.has(u))!;
      assert.ok(grad.subarray(absent * 8, absent * 8 + 8).every((g) => g === 0));
    });
  }
});

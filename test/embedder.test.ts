import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { inspect } from 'node:util';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Tokenizer } from '@huggingface/tokenizers';
import { onnx } from 'onnx-proto';
import { SemcodeError, type ErrorCode } from '../server/src/errors';
import { availableBackends, openEmbedder, probeBackendsDetailed, workerOf, type Embedder } from '../server/src/embed/embedder';
import { modelInput } from '../server/src/embed/input';
import { findPackageRoot, hashModelFiles, resolveModel } from '../server/src/embed/modelResolve';
import { createChunker } from '../server/src/index/chunker';
import { exportModel, type TableDtype } from '../server/src/model/export';
import { StaticModel, type Pooling } from '../server/src/model/staticModel';
import { CodeTokenizer } from '../server/src/model/tokenizer';
import { writeBertModel, writeCorruptModel, writeWrongShapeModel } from './fixtures/tinyModel';

const DIM = 24;
let tmp: string;
let tiny: string; // layers = 0
let attn: string; // 2 real encoder layers: padding and the attention mask matter
const open: Embedder[] = [];

async function openE(opts: Parameters<typeof openEmbedder>[0]): Promise<Embedder> {
  const e = await openEmbedder(opts);
  open.push(e);
  return e;
}

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: ErrorCode, message?: RegExp): Promise<SemcodeError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof SemcodeError, `expected SemcodeError(${code}), got ${err === undefined ? 'success' : inspect(err)}`);
  assert.equal(err.code, code, err.message);
  if (message) assert.match(err.message, message);
  return err;
}

function norm(v: Float32Array): number {
  return Math.sqrt(v.reduce((s, x) => s + x * x, 0));
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const CODE_TEXTS = [
  'function getUserName(user) { return user.name; }',
  'SELECT id, name FROM users WHERE id = $1',
  'parse the JSON response body and return the items',
  'class HttpServer { listen(port) {} }',
  'x',
  '',
  'def fetch_all_rows(cursor):\n    return cursor.fetchall()',
  'a much longer piece of text: '.repeat(20),
];

before(async () => {
  delete process.env.SEMCODE_MODEL;
  tmp = await mkdtemp(join(tmpdir(), 'semcode-embed-'));
  tiny = join(tmp, 'tiny');
  attn = join(tmp, 'attn');
  const t = Date.now();
  await writeBertModel(tiny, { dim: DIM, layers: 0, seed: 1 });
  await writeBertModel(attn, { dim: 32, layers: 2, heads: 4, seed: 2 });
  assert.ok(Date.now() - t < 2000, `fixture generation took ${Date.now() - t} ms`);
});

after(async () => {
  for (const e of open) await e.close().catch(() => undefined);
  await rm(tmp, { recursive: true, force: true });
});

describe('tiny model fixture', () => {
  test('writes a tokenizer that splits code identifiers into known words', async () => {
    const json = JSON.parse(await readFile(join(tiny, 'tokenizer.json'), 'utf8')) as object;
    const cfg = JSON.parse(await readFile(join(tiny, 'tokenizer_config.json'), 'utf8')) as object;
    const tok = new Tokenizer(json, cfg);
    const enc = tok.encode('getUserName parse_json HTTPServer', { add_special_tokens: true });
    assert.deepEqual(enc.tokens, ['[CLS]', 'get', 'user', 'name', 'parse', '_', 'json', 'http', 'server', '[SEP]']);
    // Unknown words fall back to characters, never to all-[UNK].
    assert.ok(!tok.encode('zqxv').tokens.includes('[UNK]'));
    const config = JSON.parse(await readFile(join(tiny, 'config.json'), 'utf8')) as { model_type: string; hidden_size: number };
    assert.equal(config.model_type, 'bert');
    assert.equal(config.hidden_size, DIM);
  });

  test('is deterministic for a seed and differs across seeds', async () => {
    const a = join(tmp, 'seed-a');
    const b = join(tmp, 'seed-b');
    await writeBertModel(a, { dim: 8, layers: 1, heads: 2, seed: 5 });
    await writeBertModel(b, { dim: 8, layers: 1, heads: 2, seed: 5 });
    assert.equal(await hashModelFiles(a), await hashModelFiles(b));
    await writeBertModel(b, { dim: 8, layers: 1, heads: 2, seed: 6 });
    assert.notEqual(await hashModelFiles(a), await hashModelFiles(b));
  });
});

describe('embedder (worker, cpu)', () => {
  test('loads the model through the worker and reports what it loaded', async () => {
    const t = Date.now();
    const e = await openE({ model: tiny });
    const ms = Date.now() - t;
    assert.equal(e.dimension, DIM);
    assert.equal(e.backend, 'cpu');
    assert.equal(e.dtype, 'fp32');
    assert.equal(e.modelId, `path:${realpathSync(tiny)}`);
    assert.equal(e.modelDir, realpathSync(tiny));
    assert.equal(e.modelHash, await hashModelFiles(tiny));
    assert.match(e.modelHash, /^[0-9a-f]{64}$/);
    assert.ok(workerOf(e), 'runs in a worker by default');
    assert.deepEqual(e.stats, { calls: 0, texts: 0 }, 'the load probe is not counted');
    console.log(`# tiny model load through worker: ${ms} ms`);
  });

  test('unit-norm vectors of the model dimension, deterministic, distinct per text', async () => {
    const e = await openE({ model: tiny });
    const v1 = await e.embed(CODE_TEXTS);
    const v2 = await e.embed(CODE_TEXTS);
    assert.equal(v1.length, CODE_TEXTS.length);
    for (const [i, v] of v1.entries()) {
      assert.ok(v instanceof Float32Array);
      assert.equal(v.length, DIM);
      assert.ok(Math.abs(norm(v) - 1) < 1e-5, `norm ${norm(v)}`);
      assert.ok(v.every(Number.isFinite));
      assert.deepEqual(v, v2[i], 'same text, same vector');
    }
    for (let i = 0; i < v1.length; i++)
      for (let j = i + 1; j < v1.length; j++) assert.ok(maxDiff(v1[i]!, v1[j]!) > 1e-3, `texts ${i} and ${j} gave the same vector`);
  });

  test('a batch gives results in input order equal to one-by-one results; stats count batches', async () => {
    const e = await openE({ model: attn, batchSize: 4 });
    const texts = Array.from({ length: 10 }, (_, i) => `${CODE_TEXTS[i % CODE_TEXTS.length]} ${'item '.repeat(i * 3)}`);
    const batched = await e.embed(texts);
    assert.deepEqual(e.stats, { calls: 3, texts: 10 });
    for (const [i, t] of texts.entries()) {
      const [one] = await e.embed([t]);
      assert.ok(maxDiff(batched[i]!, one!) < 1e-5, `text ${i}: batch and single differ by ${maxDiff(batched[i]!, one!)}`);
    }
    assert.deepEqual(e.stats, { calls: 13, texts: 20 });
    assert.deepEqual(await e.embed([]), []);
    assert.deepEqual(e.stats, { calls: 13, texts: 20 }, 'an empty call runs no model');
  });

  test('throughput on the tiny model', async () => {
    const e = await openE({ model: tiny });
    const texts = Array.from({ length: 512 }, (_, i) => `${CODE_TEXTS[i % CODE_TEXTS.length]} #${i}`);
    const t = Date.now();
    const v = await e.embed(texts);
    const ms = Math.max(1, Date.now() - t);
    assert.equal(v.length, 512);
    assert.equal(e.stats.calls, 16);
    console.log(`# tiny model: ${Math.round((512 * 1000) / ms)} embeddings/s`);
  });

  test('in-process mode gives the same vectors as the worker', async () => {
    const w = await openE({ model: attn });
    const p = await openE({ model: attn, inWorker: false });
    assert.equal(workerOf(p), undefined);
    assert.equal(p.modelHash, w.modelHash);
    const [a, b] = [await w.embed(CODE_TEXTS), await p.embed(CODE_TEXTS)];
    for (let i = 0; i < a.length; i++) assert.ok(maxDiff(a[i]!, b[i]!) < 1e-6);
  });

  test('a worker that dies rejects pending and later calls with inference_failed', async () => {
    // One big batch: the worker spends its first few hundred ms tokenizing (JavaScript), so the terminate
    // below lands before onnxruntime's native run starts (terminating a worker inside a native run aborts
    // the whole process: an onnxruntime-node limitation).
    const e = await openEmbedder({ model: tiny, batchSize: 4000 });
    const pending = e.embed(Array.from({ length: 4000 }, (_, i) => `text number ${i} `.repeat(30)));
    const terminated = workerOf(e)!.terminate();
    await rejectsWith(pending, 'inference_failed', /worker exited/);
    await terminated;
    await rejectsWith(e.embed(['again']), 'inference_failed', /worker exited/);
    await e.close();
  });

  test('a closed embedder refuses work', async () => {
    const e = await openEmbedder({ model: tiny });
    await e.close();
    await rejectsWith(e.embed(['x']), 'inference_failed', /closed/);
  });

  test('bad options are usage errors', async () => {
    await rejectsWith(openEmbedder({ model: tiny, batchSize: 0 }), 'usage');
    await rejectsWith(openEmbedder({ model: tiny, backend: 'gpu' as never }), 'usage');
  });
});

describe('wasm backend', () => {
  test('reports backends and, where wasm runs, matches the cpu vectors', async () => {
    const report = await probeBackendsDetailed();
    assert.deepEqual(await availableBackends(), { cpu: report.cpu.status, wasm: report.wasm.status });
    assert.equal(report.cpu.status, 'available', report.cpu.reason);
    if (report.wasm.status === 'unavailable') {
      await rejectsWith(openEmbedder({ model: attn, backend: 'wasm' }), 'inference_failed', /wasm: unavailable/);
      return;
    }
    const w = await openE({ model: attn, backend: 'wasm', batchSize: 3 });
    const c = await openE({ model: attn, backend: 'cpu', batchSize: 3 });
    assert.equal(w.backend, 'wasm');
    assert.equal(w.dimension, c.dimension);
    const [a, b] = [await w.embed(CODE_TEXTS), await c.embed(CODE_TEXTS)];
    for (let i = 0; i < a.length; i++) assert.ok(maxDiff(a[i]!, b[i]!) < 1e-5, `text ${i}: wasm and cpu differ by ${maxDiff(a[i]!, b[i]!)}`);
    assert.deepEqual(w.stats, { calls: 3, texts: CODE_TEXTS.length });
  });
});

describe('model failures', () => {
  test('a missing model folder is model_not_found naming the path', async () => {
    const missing = join(tmp, 'no-such-model');
    await rejectsWith(openEmbedder({ model: missing }), 'model_not_found', new RegExp(missing));
    await rejectsWith(() => resolveModel(missing), 'model_not_found');
  });

  test('a folder without the model files is model_not_found naming the file', async () => {
    const half = join(tmp, 'half');
    await writeBertModel(half, { dim: 8, layers: 0 });
    await rm(join(half, 'onnx'), { recursive: true });
    await rejectsWith(openEmbedder({ model: half }), 'model_not_found', /model\.onnx/);
  });

  test('an unparsable onnx file is model_corrupt naming the path (cpu and wasm)', async () => {
    const dir = join(tmp, 'corrupt');
    await writeCorruptModel(dir);
    const file = join(realpathSync(dir), 'onnx', 'model.onnx');
    await rejectsWith(openEmbedder({ model: dir }), 'model_corrupt', new RegExp(file));
    await rejectsWith(openEmbedder({ model: dir, backend: 'wasm' }), 'model_corrupt', new RegExp(file));
  });

  test('an unparsable config.json is model_corrupt naming the file', async () => {
    const dir = join(tmp, 'badjson');
    await writeBertModel(dir, { dim: 8, layers: 0 });
    await writeFile(join(dir, 'config.json'), '{ "model_type": ');
    await rejectsWith(openEmbedder({ model: dir }), 'model_corrupt', /config\.json/);
  });

  test('a rank-2 output is model_output', async () => {
    const dir = join(tmp, 'rank2');
    await writeWrongShapeModel(dir, 'rank2');
    await rejectsWith(openEmbedder({ model: dir }), 'model_output', /rank 3/);
    await rejectsWith(openEmbedder({ model: dir, backend: 'wasm' }), 'model_output', /rank 3/);
  });

  test('NaN output is model_output', async () => {
    const dir = join(tmp, 'nan');
    await writeWrongShapeModel(dir, 'nan');
    await rejectsWith(openEmbedder({ model: dir }), 'model_output', /non-finite/);
  });
});

describe('model hash', () => {
  test('is stable and changes when any model file changes', async () => {
    const dir = join(tmp, 'hashme');
    await writeBertModel(dir, { dim: 8, layers: 0 });
    const h1 = await hashModelFiles(dir);
    assert.equal(await hashModelFiles(dir), h1);

    const onnxPath = join(dir, 'onnx', 'model.onnx');
    const bytes = await readFile(onnxPath);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1]! ^= 1; // one weight bit: a "fine-tune"
    await writeFile(onnxPath, flipped);
    const h2 = await hashModelFiles(dir);
    assert.notEqual(h2, h1);
    await writeFile(onnxPath, bytes);
    assert.equal(await hashModelFiles(dir), h1, 'restoring the bytes restores the hash');

    const cfgPath = join(dir, 'tokenizer_config.json');
    const cfg = JSON.parse(await readFile(cfgPath, 'utf8')) as Record<string, unknown>;
    await writeFile(cfgPath, JSON.stringify({ ...cfg, model_max_length: 128 }));
    assert.notEqual(await hashModelFiles(dir), h1);
    await writeFile(cfgPath, JSON.stringify(cfg, null, 1));
    assert.equal(await hashModelFiles(dir), h1);

    await writeFile(join(dir, 'onnx', 'model_quantized.onnx'), bytes);
    assert.notEqual(await hashModelFiles(dir), h1, 'an added onnx file counts');
  });
});

describe('resolveModel', () => {
  test('order: flag, then setting, then SEMCODE_MODEL', () => {
    const env = { SEMCODE_MODEL: attn };
    assert.equal(resolveModel(tiny, attn, { env }).source, 'flag');
    assert.equal(resolveModel(tiny, attn, { env }).dir, realpathSync(tiny));
    assert.equal(resolveModel(undefined, attn, { env: {} }).source, 'setting');
    assert.equal(resolveModel('', attn, { env: {} }).dir, realpathSync(attn));
    const fromEnv = resolveModel(undefined, undefined, { env });
    assert.equal(fromEnv.source, 'env');
    assert.equal(fromEnv.id, `path:${realpathSync(attn)}`);
  });

  test('an org/name that is not a path is a hub id; other missing paths are model_not_found', () => {
    const hub = resolveModel('someorg/some-model', undefined, { env: {} });
    assert.equal(hub.source, 'hub');
    assert.equal(hub.id, 'someorg/some-model');
    assert.throws(
      () => resolveModel('./someorg/some-model', undefined, { env: {} }),
      (e) => e instanceof SemcodeError && e.code === 'model_not_found',
    );
    assert.throws(
      () => resolveModel('a/b/c', undefined, { env: {} }),
      (e) => e instanceof SemcodeError && e.code === 'model_not_found',
    );
    assert.throws(
      () => resolveModel(join(tiny, 'config.json'), undefined, { env: {} }),
      (e) => e instanceof SemcodeError && e.code === 'model_not_found',
    );
  });

  test('nothing named and no models/default is no_default_model', async () => {
    const emptyRoot = join(tmp, 'empty-root');
    await mkdir(emptyRoot, { recursive: true });
    const err = await rejectsWith(() => resolveModel(undefined, undefined, { env: {}, packageRoot: emptyRoot }), 'no_default_model', /--model DIR/);
    assert.match(err.message, /SEMCODE_MODEL/);
    await rejectsWith(() => resolveModel(undefined, undefined, { env: {}, packageRoot: null }), 'no_default_model');
  });

  test('models/default beside the package is found, from the package root', async () => {
    const root = join(tmp, 'pkg-root');
    await writeBertModel(join(root, 'models', 'default'), { dim: 8, layers: 0 });
    const r = resolveModel(undefined, undefined, { env: {}, packageRoot: root });
    assert.deepEqual(r, { id: 'default', dir: realpathSync(join(root, 'models', 'default')), source: 'default' });
    // The real lookup starts at the code's own location: this repository.
    assert.equal(findPackageRoot(), resolve(__dirname, '..'));
  });

  test('the working directory is never searched for the default model', async () => {
    const decoy = join(tmp, 'decoy');
    await mkdir(decoy, { recursive: true });
    await writeFile(join(decoy, 'package.json'), JSON.stringify({ name: 'semcode' }));
    await writeBertModel(join(decoy, 'models', 'default'), { dim: 8, layers: 0 });
    const shipped = existsSync(join(findPackageRoot()!, 'models', 'default'));
    const cwd = process.cwd();
    process.chdir(decoy);
    try {
      if (shipped) {
        assert.ok(!resolveModel(undefined, undefined, { env: {} }).dir.startsWith(realpathSync(decoy)), "picked the cwd's model");
      } else {
        await rejectsWith(() => resolveModel(undefined, undefined, { env: {} }), 'no_default_model');
        await rejectsWith(openEmbedder({}), 'no_default_model');
      }
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('static table fast path (Semcode static models)', () => {
  const repo = resolve(__dirname, '..');
  const shipped = join(repo, 'models', 'default');
  /** Real model inputs: this repository's own code, chunked and formatted as the indexer does, plus edge cases. */
  let chunks: string[];
  let vocabTexts: string[];

  before(async () => {
    const chunker = await createChunker();
    const files: string[] = [];
    for (const sub of ['server/src/embed', 'server/src/index', 'server/src/store', 'server/src/search', 'server/src/train']) {
      for (const name of readdirSync(join(repo, sub)).sort()) if (name.endsWith('.ts')) files.push(join(repo, sub, name));
    }
    const all = files.flatMap((f) => chunker.chunk(relative(repo, f), readFileSync(f, 'utf8')));
    vocabTexts = all.map((c) => c.content);
    chunks = [...all.filter((_, i) => i % 2 === 0).map(modelInput), ...CODE_TEXTS, 'word '.repeat(2000), '{}()[];'];
    assert.ok(chunks.length > 200, `${chunks.length} chunks`);
  });

  async function vectorsOf(opts: Parameters<typeof openEmbedder>[0], texts: string[]): Promise<{ e: Embedder; vs: Float32Array[] }> {
    const e = await openE(opts);
    return { e, vs: await e.embed(texts) };
  }

  function worstDiff(a: Float32Array[], b: Float32Array[]): number {
    assert.equal(a.length, b.length);
    return Math.max(...a.map((v, i) => maxDiff(v, b[i]!)));
  }

  /** A small static model exported as Semcode exports them (random rows: the vectors mean nothing). */
  async function writeStatic(dir: string, opts: { pooling?: Pooling; dtype?: TableDtype; maxLength?: number; nanRow?: number } = {}): Promise<void> {
    const tok = CodeTokenizer.learn(vocabTexts, { maxSize: 3000, maxLength: opts.maxLength ?? 96 });
    const weights = Float32Array.from({ length: tok.size }, (_, i) => 0.5 + (i % 7) / 3);
    const model = StaticModel.init(tok.size, 40, 3, { pooling: opts.pooling ?? 'sublinear', weights });
    if (opts.nanRow !== undefined) model.table.fill(NaN, opts.nanRow * model.dim, (opts.nanRow + 1) * model.dim);
    await exportModel(model, tok, dir, { dtype: opts.dtype ?? 'fp32' });
  }

  test('the shipped model runs as static-js and gives the pipeline vectors within 1e-5 on real code chunks, same identity', async () => {
    const fast = await vectorsOf({}, chunks);
    const pipe = await vectorsOf({ staticTable: false }, chunks);
    assert.equal(fast.e.backend, 'static-js');
    assert.equal(fast.e.dtype, 'fp16', 'the table dtype is reported');
    assert.equal(pipe.e.backend, 'cpu');
    assert.equal(fast.e.modelId, 'default');
    assert.equal(fast.e.modelId, pipe.e.modelId);
    assert.equal(fast.e.modelHash, pipe.e.modelHash, 'an index built through the pipeline stays valid');
    assert.equal(fast.e.modelHash, await hashModelFiles(shipped));
    assert.equal(fast.e.dimension, 512);
    const diff = worstDiff(fast.vs, pipe.vs);
    console.log(`# shipped model, ${chunks.length} chunks: static-js vs pipeline max abs difference ${diff.toExponential(1)}`);
    assert.ok(diff <= 1e-5, `static-js vs pipeline: ${diff}`);
    for (const v of fast.vs) assert.ok(Math.abs(norm(v) - 1) < 1e-5, `norm ${norm(v)}`);
    assert.equal(fast.e.stats.calls, Math.ceil(chunks.length / 32), 'batches are counted as for any model');
  });

  test('an explicit cpu backend also takes static-js; wasm runs the ONNX graph on onnxruntime-web, same vectors', async () => {
    const texts = chunks.slice(0, 40);
    const cpu = await vectorsOf({ backend: 'cpu' }, texts);
    assert.equal(cpu.e.backend, 'static-js');
    if ((await probeBackendsDetailed()).wasm.status === 'unavailable') return;
    const wasm = await vectorsOf({ backend: 'wasm' }, texts);
    assert.equal(wasm.e.backend, 'wasm');
    assert.ok(worstDiff(cpu.vs, wasm.vs) <= 1e-5, `static-js vs wasm: ${worstDiff(cpu.vs, wasm.vs)}`);
  });

  for (const [pooling, dtype] of [
    ['mean', 'fp32'],
    ['sublinear', 'fp32'],
    ['sublinear', 'fp16'],
    ['mean', 'int8'],
  ] as const) {
    test(`${pooling} pooling, ${dtype} table: static-js gives the pipeline vectors within 1e-5, truncation included`, async () => {
      const dir = join(tmp, `static-${pooling}-${dtype}`);
      await writeStatic(dir, { pooling, dtype });
      const fast = await vectorsOf({ model: dir, inWorker: false }, chunks);
      const pipe = await vectorsOf({ model: dir, staticTable: false, inWorker: false }, chunks);
      assert.equal(fast.e.backend, 'static-js');
      assert.equal(fast.e.dtype, dtype);
      assert.ok(worstDiff(fast.vs, pipe.vs) <= 1e-5, `static-js vs pipeline: ${worstDiff(fast.vs, pipe.vs)}`);
    });
  }

  test('a max_position_embeddings below model_max_length truncates both paths alike', async () => {
    const dir = join(tmp, 'static-maxpos');
    await writeStatic(dir, { maxLength: 256 });
    const cfgPath = join(dir, 'config.json');
    await writeFile(cfgPath, JSON.stringify({ ...JSON.parse(await readFile(cfgPath, 'utf8')), max_position_embeddings: 24 }));
    const long = chunks.filter((t) => t.length > 600).slice(0, 30);
    const fast = await vectorsOf({ model: dir, inWorker: false }, long);
    const pipe = await vectorsOf({ model: dir, staticTable: false, inWorker: false }, long);
    assert.ok(worstDiff(fast.vs, pipe.vs) <= 1e-5, `static-js vs pipeline: ${worstDiff(fast.vs, pipe.vs)}`);
    // and the cut is real: the same model without the smaller limit gives other vectors
    const wideDir = join(tmp, 'static-maxpos-wide');
    await writeStatic(wideDir, { maxLength: 256 });
    const wide = await vectorsOf({ model: wideDir, inWorker: false }, long);
    assert.ok(worstDiff(fast.vs, wide.vs) > 1e-3, 'max_position_embeddings 24 cut nothing');
  });

  test('a non-static model folder still goes through the pipeline', async () => {
    const e = await openE({ model: tiny });
    assert.equal(e.backend, 'cpu');
    const dir = join(tmp, 'not-static');
    await writeBertModel(dir, { dim: 8, layers: 0 });
    const cfgPath = join(dir, 'config.json');
    await writeFile(cfgPath, JSON.stringify({ ...JSON.parse(await readFile(cfgPath, 'utf8')), semcode: { kind: 'transformer' } }));
    assert.equal((await openE({ model: dir })).backend, 'cpu');
  });

  describe('a static folder the fast path cannot vouch for is model_corrupt, never run through ONNX instead', () => {
    let good: string;
    let n = 0;
    before(async () => {
      good = join(tmp, 'static-good');
      await writeStatic(good, { dtype: 'fp16' });
    });
    async function variant(edit: (dir: string) => Promise<void>): Promise<string> {
      const dir = join(tmp, `static-bad-${n++}`);
      await cp(good, dir, { recursive: true });
      await edit(dir);
      return dir;
    }
    const onnxPath = (dir: string) => join(dir, 'onnx', 'model.onnx');
    async function editGraph(dir: string, fn: (g: onnx.IGraphProto) => void): Promise<void> {
      const m = onnx.ModelProto.decode(await readFile(onnxPath(dir)));
      fn(m.graph!);
      await writeFile(onnxPath(dir), onnx.ModelProto.encode(m).finish());
    }
    // The parts of the static model's JSON files the edits below touch.
    type ConfigJson = { semcode: { table_dtype?: string; pooling?: string } };
    type TokenizerJson = { normalizer: { normalizers: unknown[] } };
    type TokenizerConfigJson = { do_lower_case?: boolean };
    async function editJson<T>(file: string, fn: (j: T) => void): Promise<void> {
      const j = JSON.parse(await readFile(file, 'utf8')) as T;
      fn(j);
      await writeFile(file, JSON.stringify(j));
    }
    const table = (g: onnx.IGraphProto) => g.initializer!.find((t) => t.name === 'embeddings')!;

    test('a truncated model.onnx file', async () => {
      const dir = await variant(async (d) => {
        const bytes = await readFile(onnxPath(d));
        await writeFile(onnxPath(d), bytes.subarray(0, bytes.length - 1000));
      });
      await rejectsWith(openEmbedder({ model: dir }), 'model_corrupt', /static table path/);
    });

    test('a table shorter than its declared shape', async () => {
      const dir = await variant((d) => editGraph(d, (g) => void (table(g).rawData = table(g).rawData!.subarray(0, table(g).rawData!.length - 2))));
      await rejectsWith(openEmbedder({ model: dir }), 'model_corrupt', /fp16 table has \d+ bytes/);
    });

    test('a table of an unknown element type', async () => {
      const dir = await variant((d) => editGraph(d, (g) => void (table(g).dataType = onnx.TensorProto.DataType.DOUBLE)));
      await rejectsWith(openEmbedder({ model: dir }), 'model_corrupt', /unsupported table type/);
    });

    test('config.json declaring another dtype or no pooling', async () => {
      const other = await variant((d) => editJson<ConfigJson>(join(d, 'config.json'), (j) => void (j.semcode.table_dtype = 'fp32')));
      await rejectsWith(openEmbedder({ model: other }), 'model_corrupt', /declares a fp32 table but onnx\/model\.onnx holds fp16/);
      const unknown = await variant((d) => editJson<ConfigJson>(join(d, 'config.json'), (j) => void (j.semcode.table_dtype = 'bf16')));
      await rejectsWith(openEmbedder({ model: unknown }), 'model_corrupt', /table_dtype is "bf16"/);
      const noPool = await variant((d) => editJson<ConfigJson>(join(d, 'config.json'), (j) => void delete j.semcode.pooling));
      await rejectsWith(openEmbedder({ model: noPool }), 'model_corrupt', /semcode\.pooling/);
    });

    test('a graph other than the exporter writes for the declared pooling', async () => {
      // declares mean pooling, but the graph scales by log term frequency: the pipeline and a mean table
      // lookup would give different vectors
      const dir = await variant((d) => editJson<ConfigJson>(join(d, 'config.json'), (j) => void (j.semcode.pooling = 'mean')));
      await rejectsWith(openEmbedder({ model: dir }), 'model_corrupt', /not the graph Semcode's exporter writes: \d+ nodes/);
      const renamed = await variant((d) => editGraph(d, (g) => void (g.node![g.node!.length - 2]!.opType = 'Add')));
      await rejectsWith(openEmbedder({ model: renamed }), 'model_corrupt', /nodes \d+ \(Add\)/);
    });

    test('a tokenizer.json or tokenizer_config.json the JS tokenizer does not implement', async () => {
      const norm = await variant((d) => editJson<TokenizerJson>(join(d, 'tokenizer.json'), (j) => void j.normalizer.normalizers.pop()));
      await rejectsWith(openEmbedder({ model: norm }), 'model_corrupt', /"normalizer" is not what Semcode's code tokenizer writes/);
      const lower = await variant((d) => editJson<TokenizerConfigJson>(join(d, 'tokenizer_config.json'), (j) => void (j.do_lower_case = false)));
      await rejectsWith(openEmbedder({ model: lower }), 'model_corrupt', /tokenizer_config\.json: "do_lower_case"/);
    });

    test('the untouched copy loads, so the failures above come from the edits', async () => {
      assert.equal((await openE({ model: await variant(() => Promise.resolve()) })).backend, 'static-js');
    });
  });

  test('a NaN row is model_output on both paths', async () => {
    const dir = join(tmp, 'static-nan');
    await writeStatic(dir, { nanRow: 2 }); // [CLS]: in every text, the load probe included
    await rejectsWith(openEmbedder({ model: dir }), 'model_output', /non-finite/);
    await rejectsWith(openEmbedder({ model: dir, staticTable: false }), 'model_output', /non-finite/);
  });
});

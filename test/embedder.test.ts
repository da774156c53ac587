import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Tokenizer } from '@huggingface/tokenizers';
import { SemcodeError, type ErrorCode } from '../server/src/errors';
import { availableBackends, openEmbedder, probeBackendsDetailed, workerOf, type Embedder } from '../server/src/embed/embedder';
import { findPackageRoot, hashModelFiles, resolveModel } from '../server/src/embed/modelResolve';
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
  assert.ok(err instanceof SemcodeError, `expected SemcodeError(${code}), got ${err === undefined ? 'success' : String(err)}`);
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
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
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
    const json = JSON.parse(await readFile(join(tiny, 'tokenizer.json'), 'utf8'));
    const cfg = JSON.parse(await readFile(join(tiny, 'tokenizer_config.json'), 'utf8'));
    const tok = new Tokenizer(json, cfg);
    const enc = tok.encode('getUserName parse_json HTTPServer', { add_special_tokens: true });
    assert.deepEqual(enc.tokens, ['[CLS]', 'get', 'user', 'name', 'parse', '_', 'json', 'http', 'server', '[SEP]']);
    // Unknown words fall back to characters, never to all-[UNK].
    assert.ok(!tok.encode('zqxv').tokens.includes('[UNK]'));
    const config = JSON.parse(await readFile(join(tiny, 'config.json'), 'utf8'));
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
      for (let j = i + 1; j < v1.length; j++) assert.ok(maxDiff(v1[i], v1[j]) > 1e-3, `texts ${i} and ${j} gave the same vector`);
  });

  test('a batch gives results in input order equal to one-by-one results; stats count batches', async () => {
    const e = await openE({ model: attn, batchSize: 4 });
    const texts = Array.from({ length: 10 }, (_, i) => `${CODE_TEXTS[i % CODE_TEXTS.length]} ${'item '.repeat(i * 3)}`);
    const batched = await e.embed(texts);
    assert.deepEqual(e.stats, { calls: 3, texts: 10 });
    for (const [i, t] of texts.entries()) {
      const [one] = await e.embed([t]);
      assert.ok(maxDiff(batched[i], one) < 1e-5, `text ${i}: batch and single differ by ${maxDiff(batched[i], one)}`);
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
    for (let i = 0; i < a.length; i++) assert.ok(maxDiff(a[i], b[i]) < 1e-6);
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
    for (let i = 0; i < a.length; i++) assert.ok(maxDiff(a[i], b[i]) < 1e-5, `text ${i}: wasm and cpu differ by ${maxDiff(a[i], b[i])}`);
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
    flipped[flipped.length - 1] ^= 1; // one weight bit: a "fine-tune"
    await writeFile(onnxPath, flipped);
    const h2 = await hashModelFiles(dir);
    assert.notEqual(h2, h1);
    await writeFile(onnxPath, bytes);
    assert.equal(await hashModelFiles(dir), h1, 'restoring the bytes restores the hash');

    const cfgPath = join(dir, 'tokenizer_config.json');
    const cfg = JSON.parse(await readFile(cfgPath, 'utf8'));
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
    assert.throws(() => resolveModel('./someorg/some-model', undefined, { env: {} }), (e) => e instanceof SemcodeError && e.code === 'model_not_found');
    assert.throws(() => resolveModel('a/b/c', undefined, { env: {} }), (e) => e instanceof SemcodeError && e.code === 'model_not_found');
    assert.throws(() => resolveModel(join(tiny, 'config.json'), undefined, { env: {} }), (e) => e instanceof SemcodeError && e.code === 'model_not_found');
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
